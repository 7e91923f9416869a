/// How a confidential client proves itself at the token endpoint (RFC 6749 §2.3, OpenID
/// Connect Core §9 names).
public enum ClientAuthMethod: String, Sendable, CaseIterable {
    /// `client_id` and `client_secret` in the form body.
    case clientSecretPost = "client_secret_post"
    /// HTTP Basic with the form-encoded client id and secret; no `client_id` in the body.
    case clientSecretBasic = "client_secret_basic"
    /// An RS256 `client_assertion` signed with the app's private key (Microsoft certificate
    /// credentials).
    case privateKeyJWT = "private_key_jwt"
    /// A public client: `client_id` in the body and nothing else.
    case none
}
