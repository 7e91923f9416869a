import BrokerCrypto
import Foundation

/// A compact JWS (header.claims.signature) as sent in a JWT-bearer grant or a client
/// assertion. Only RS256 is accepted, as Google and Microsoft accept for these flows.
struct JWTAssertion {
    var header: [String: Any]
    var claims: [String: Any]
    var signingInput: [UInt8]
    var signature: [UInt8]

    /// Parses the three parts; nil when the text is not a JWS.
    init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerBytes = Base64URL.decode(String(parts[0])), let header = JSON.object(headerBytes),
            let claimBytes = Base64URL.decode(String(parts[1])), let claims = JSON.object(claimBytes),
            let signature = Base64URL.decode(String(parts[2]))
        else { return nil }
        self.header = header
        self.claims = claims
        self.signingInput = Array((parts[0] + "." + parts[1]).utf8)
        self.signature = signature
    }

    var algorithm: String? { header["alg"] as? String }

    func string(_ claim: String) -> String? { claims[claim] as? String }

    /// A numeric date claim (seconds since the epoch).
    func time(_ claim: String) -> Double? {
        if let number = claims[claim] as? NSNumber { return number.doubleValue }
        return nil
    }

    /// `aud` as a list, whether sent as a string or an array.
    var audiences: [String] {
        if let one = claims["aud"] as? String { return [one] }
        return (claims["aud"] as? [Any])?.compactMap { $0 as? String } ?? []
    }

    func verify(with key: RSAPublicKey) -> Bool {
        algorithm == "RS256" && key.verify(signature: signature, message: signingInput)
    }
}
