import BrokerCrypto

/// Proof Key for Code Exchange (RFC 7636) with the S256 method only: `plain` would send
/// the verifier itself in the authorization URL.
public struct PKCE: Sendable {
    /// 43 ... 128 unreserved characters; generated ones are 32 random bytes in base64url
    /// (43 characters). Kept by the daemon until the code is exchanged.
    public let verifier: String
    /// base64url(SHA-256(verifier)), no padding: sent in the authorization URL.
    public let challenge: String

    public init(verifier: String) {
        self.verifier = verifier
        self.challenge = PKCE.challenge(for: verifier)
    }

    public static func generate() -> PKCE {
        PKCE(verifier: Base64URL.encode(SecureRandom.bytes(32)))
    }

    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(Digest.sha256(Array(verifier.utf8)))
    }

    /// Whether `verifier` has RFC 7636's form: 43 ... 128 characters from A-Z a-z 0-9 - . _ ~.
    public static func isValidVerifier(_ verifier: String) -> Bool {
        (43...128).contains(verifier.utf8.count) && verifier.utf8.allSatisfy(FormEncoding.isUnreserved)
    }
}
