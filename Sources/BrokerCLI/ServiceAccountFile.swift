import BrokerCore
package import BrokerWire
import Foundation

/// A Google service-account key file (the JSON the Cloud console downloads): the fields the
/// daemon keeps for the JWT-bearer flow, and the client id the app record takes.
package struct ServiceAccountFile {
    package var key: ServiceAccountKey
    package var clientID: String

    /// The largest key file accepted: Google's are about 2.3 KiB (read into locked memory,
    /// so the cap stays small).
    package static let maxBytes = 16 * 1024

    /// Parses the file's JSON. Errors name the missing or malformed fields, never a value of
    /// the file other than `type` and `client_email`.
    package static func parse(_ bytes: [UInt8], source: String) throws(CLIError) -> ServiceAccountFile {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw CLIError(message: "\(source) is not a Google service-account key file (not a JSON object)")
        }
        if let type = object["type"] as? String, type != "service_account" {
            throw CLIError(message: "\(source) has \"type\": \"\(printableText(type, limit: 40))\", not \"service_account\"",
                           hint: "download a key for a service account (IAM & Admin > Service accounts > Keys), not an OAuth client file")
        }
        func text(_ name: String) -> String? {
            guard let value = object[name] as? String, !value.isEmpty else { return nil }
            return value
        }
        let required = ["client_email", "private_key", "client_id"]
        let missing = required.filter { text($0) == nil }
        if !missing.isEmpty {
            throw CLIError(message: "\(source) lacks \(missing.map { "\"\($0)\"" }.joined(separator: ", ")) (each a non-empty string)")
        }
        let email = text("client_email")!
        guard email.contains("@"), email.utf8.count <= 320, !email.contains(where: { $0.isWhitespace || $0 == "/" }) else {
            throw CLIError(message: "\(source): \"client_email\" is not an email address")
        }
        let privateKey = text("private_key")!
        guard privateKey.hasPrefix("-----BEGIN ") && privateKey.contains("PRIVATE KEY-----") else {
            throw CLIError(message: "\(source): \"private_key\" is not a PEM private key")
        }
        let tokenURI = text("token_uri")
        if let uri = tokenURI, !EndpointURL.isAcceptable(uri) {
            throw CLIError(message: "\(source): \"token_uri\" must be an https:// URL (http:// only on a loopback host)")
        }
        let key = ServiceAccountKey(clientEmail: email, privateKey: privateKey, privateKeyID: text("private_key_id"), tokenURI: tokenURI)
        return ServiceAccountFile(key: key, clientID: text("client_id")!)
    }
}
