import BrokerCore
import BrokerCrypto

/// Compact RS256 JWS (RFC 7515) for the two assertions credbroker signs: Google
/// service-account grants (RFC 7523 §2.1) and Microsoft certificate client assertions
/// (RFC 7523 §2.2, `private_key_jwt`).
enum JWS {
    enum Claim {
        case string(String)
        case int(Int64)
    }

    /// `base64url(header).base64url(claims).base64url(signature)`, members in the order
    /// given. The key is parsed from `pem` just before signing and released right after.
    static func signRS256(header: [(String, String)], claims: [(String, Claim)], pem: borrowing SecretBytes) throws(OAuthError) -> String {
        var h = JSONWriter(capacity: 128)
        h.beginObject()
        h.key("alg"); h.string("RS256")
        h.key("typ"); h.string("JWT")
        for (name, value) in header { h.key(name); h.string(value) }
        h.endObject()
        var c = JSONWriter(capacity: 512)
        c.beginObject()
        for (name, value) in claims {
            c.key(name)
            switch value {
            case .string(let s): c.string(s)
            case .int(let n): c.int(n)
            }
        }
        c.endObject()
        let input = Base64URL.encode(h.bytes) + "." + Base64URL.encode(c.bytes)
        let signature: [UInt8]
        do {
            let key = try RSAPrivateKey(pem: pem)
            signature = try key.sign(Array(input.utf8))
        } catch {
            throw OAuthError(.configuration, "the private key cannot sign: \(error.message)")
        }
        return input + "." + Base64URL.encode(signature)
    }

    /// A JWT id: 128 random bits.
    static func newID() -> String { Base64URL.encode(SecureRandom.bytes(16)) }

    /// Microsoft's certificate header member for a thumbprint as the portal shows it
    /// (hex SHA-1 → `x5t`, hex SHA-256 → `x5t#S256`, both base64url of the bytes), or as
    /// given when it is already base64url.
    static func thumbprintHeader(_ keyID: String) -> (String, String) {
        let hex = keyID.replacing(":", with: "")
        if hex.count == 40 || hex.count == 64, let bytes = hexBytes(hex) {
            return (hex.count == 40 ? "x5t" : "x5t#S256", Base64URL.encode(bytes))
        }
        return ("x5t", keyID)
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < digits.count {
            guard let hi = FormEncoding.hexValue(digits[i]), let lo = FormEncoding.hexValue(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
