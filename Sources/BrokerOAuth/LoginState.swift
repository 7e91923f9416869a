import BrokerCrypto

/// The `state` parameter of an authorization request: unguessable, checked in constant
/// time when the redirect comes back (RFC 6749 §10.12, RFC 9700 §4.7).
public enum LoginState {
    /// 256 random bits in base64url (43 characters).
    public static func generate() -> String {
        Base64URL.encode(SecureRandom.bytes(32))
    }

    /// Whether two states are equal, in time independent of where they differ. Different
    /// lengths (which are not secret) and empty states never match.
    public static func matches(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard !x.isEmpty, !y.isEmpty else { return false }
        return ConstantTime.equals(x, y)
    }
}
