import Foundation

/// One HTTP request as the sandbox sees it: the whole body read, the query decoded.
struct SandboxRequest: Sendable {
    var method: String
    /// The request target as sent (path and query, still percent-encoded).
    var target: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    init(method: String, target: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// The path, percent-encoded as sent, without the query.
    var path: String {
        guard let mark = target.firstIndex(of: "?") else { return target }
        return String(target[..<mark])
    }

    /// The query parameters, decoded, in order (duplicates kept).
    var query: [(name: String, value: String)] {
        guard let mark = target.firstIndex(of: "?") else { return [] }
        return FormCoding.decode(String(target[target.index(after: mark)...]))
    }

    func queryValue(_ name: String) -> String? { query.first { $0.name == name }?.value }

    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The media type of the body, lowercased, without parameters.
    var mediaType: String {
        let raw = header("Content-Type") ?? ""
        let type = raw.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        return type.trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// The body decoded as application/x-www-form-urlencoded.
    var form: [(name: String, value: String)] { FormCoding.decode(String(decoding: body, as: UTF8.self)) }

    var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The bearer token of the Authorization header, if any.
    var bearerToken: String? {
        guard let value = header("Authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// The (user, password) pair of a Basic Authorization header, if any.
    var basicCredentials: (user: String, password: String)? {
        guard let value = header("Authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        let user = String(text[..<colon]).removingPercentEncoding ?? String(text[..<colon])
        let rest = String(text[text.index(after: colon)...])
        return (user, rest.removingPercentEncoding ?? rest)
    }
}

/// One response: status, headers and the whole body.
struct SandboxResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static func json(_ status: Int, _ object: Any, headers: [(name: String, value: String)] = []) -> SandboxResponse {
        var all: [(name: String, value: String)] = [("Content-Type", "application/json; charset=utf-8")]
        all.append(contentsOf: headers)
        return SandboxResponse(status: status, headers: all, body: JSON.encode(object))
    }

    static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> SandboxResponse {
        SandboxResponse(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }

    static func redirect(_ location: String) -> SandboxResponse {
        SandboxResponse(status: 302, headers: [("Location", location)], body: [])
    }

    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// What the server does with a handled request.
struct SandboxReply: Sendable {
    enum Action: Sendable {
        case respond(SandboxResponse)
        /// Close the connection without answering (the `drop` fault).
        case drop
    }

    var action: Action
    /// Wait this long before acting (the `delay` fault).
    var delayMilliseconds: Int = 0
    /// A token-endpoint request: the server calls `Sandbox.tokenRequestFinished()` once it
    /// has answered or dropped it, so in-flight counting includes injected delays.
    var isTokenRequest = false

    init(_ response: SandboxResponse) { action = .respond(response) }
    init(action: Action) { self.action = action }
}

/// application/x-www-form-urlencoded and query strings.
enum FormCoding {
    static func decode(_ text: String) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = unescape(String(parts[0]))
            let value = parts.count > 1 ? unescape(String(parts[1])) : ""
            result.append((name, value))
        }
        return result
    }

    static func unescape(_ text: String) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// Characters left as they are in a query value (RFC 3986 unreserved).
    static let unreserved: CharacterSet = {
        var set = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
        set.insert(charactersIn: "-._~")
        return set
    }()

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { escape($0.0) + "=" + escape($0.1) }.joined(separator: "&")
    }
}

/// JSON through Foundation, keys sorted so output is deterministic.
enum JSON {
    static func encode(_ object: Any) -> [UInt8] {
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: options) else {
            return Array("{}".utf8)
        }
        return Array(data)
    }

    static func string(_ object: Any) -> String { String(decoding: encode(object), as: UTF8.self) }

    /// The body parsed as a JSON object, or nil.
    static func object(_ bytes: [UInt8]) -> [String: Any]? {
        guard !bytes.isEmpty else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) as? [String: Any]
    }
}

/// base64url without padding (RFC 4648 §5), as JWTs and Gmail's raw messages use.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard = standard.replacingOccurrences(of: "=", with: "")
        while standard.count % 4 != 0 { standard.append("=") }
        guard let data = Data(base64Encoded: standard) else { return nil }
        return Array(data)
    }
}

/// An error response, so helpers can return `Result<T, SandboxResponse>`.
extension SandboxResponse: Error {}
