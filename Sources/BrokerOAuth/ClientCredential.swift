/// The secret a client authenticates with, held only for the duration of a call.
///
/// Which one is given decides the client authentication: `.none` is a public client,
/// `.privateKey` is always `private_key_jwt`, and `.secret` is sent as the app's
/// `ClientAuthMethod` says (post or Basic).
public enum ClientCredential: Sendable {
    case none
    case secret(String)
    /// A PEM RSA private key (PKCS#8 or traditional, unencrypted, ≥ 2048 bits) and, for
    /// Microsoft, the certificate's thumbprint as `keyID`: 40 hex digits (SHA-1, sent as
    /// `x5t`), 64 hex digits (SHA-256, sent as `x5t#S256`) or already base64url (`x5t`).
    /// Other providers get `keyID` as `kid`.
    case privateKey(pem: String, keyID: String?)
}
