import APIClientCore
import BrokerHTTP
import Foundation

/// An HTTPTransport that answers from a closure and records every request.
final class GoogleFakeTransport: HTTPTransport, @unchecked Sendable {
    // `requests` and `handler` are guarded by `lock`.
    private let lock = NSLock()
    private var recorded: [HTTPRequest] = []
    private let handler: @Sendable (HTTPRequest, Int) -> BrokerHTTP.HTTPResponse

    /// `handler` gets the request and its 0-based number.
    init(_ handler: @escaping @Sendable (HTTPRequest, Int) -> BrokerHTTP.HTTPResponse) {
        self.handler = handler
    }

    var requests: [HTTPRequest] { lock.withLock { recorded } }

    func send(_ request: HTTPRequest) async throws(HTTPTransportError) -> BrokerHTTP.HTTPResponse {
        let number = lock.withLock {
            recorded.append(request)
            return recorded.count - 1
        }
        return handler(request, number)
    }

    static func json(_ status: Int, _ text: String, headers: [HTTPHeaderField] = []) -> BrokerHTTP.HTTPResponse {
        BrokerHTTP.HTTPResponse(status: status, headers: [HTTPHeaderField("Content-Type", "application/json; charset=UTF-8")] + headers, body: Array(text.utf8))
    }
}

/// A TokenProvider that hands out "token-N", N growing on each forced refresh.
final class GoogleFakeTokens: TokenProvider, @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var generation = 1
    private var calls: [(scopes: [String], force: Bool)] = []

    func accessToken(scopes: [String], forceRefresh: Bool) async throws -> String {
        lock.withLock {
            calls.append((scopes, forceRefresh))
            if forceRefresh { generation += 1 }
            return "token-\(generation)"
        }
    }

    var forcedRefreshes: Int { lock.withLock { calls.filter(\.force).count } }
    var scopesAsked: [[String]] { lock.withLock { calls.map(\.scopes) } }
}

/// An independent reader of what MailMessage writes: RFC 5322 header unfolding, RFC 2047
/// encoded-words (B and Q), base64 and 7bit bodies.
enum GoogleMIMEReader {
    struct Message {
        var headerLines: [String]  // as written, before unfolding
        var headers: [(name: String, value: String)]  // unfolded, raw (still encoded)
        var body: [UInt8]

        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    }

    /// Nil when the text is not CRLF-only (with `strict`; the sandbox's raw bodies may
    /// hold bare LFs) or has no empty line.
    static func parse(_ bytes: [UInt8], strict: Bool = true) -> Message? {
        // Every LF must follow a CR, every CR precede an LF.
        for (index, byte) in bytes.enumerated() where strict {
            if byte == 10, index == 0 || bytes[index - 1] != 13 { return nil }
            if byte == 13, index + 1 >= bytes.count || bytes[index + 1] != 10 { return nil }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let head = String(text[..<split.lowerBound])
        let lines = head.components(separatedBy: "\r\n")
        var headers: [(String, String)] = []
        for line in lines {
            if line.first == " " || line.first == "\t" {
                guard !headers.isEmpty else { return nil }
                headers[headers.count - 1].1 += line
            } else {
                guard let colon = line.firstIndex(of: ":") else { return nil }
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        let trimmed = headers.map { ($0.0, $0.1.hasPrefix(" ") ? String($0.1.dropFirst()) : $0.1) }
        return Message(headerLines: lines, headers: trimmed, body: Array(text[split.upperBound...].utf8))
    }

    /// RFC 2047 decoding: encoded-words become text; whitespace between two adjacent
    /// encoded-words is dropped. Nil when an encoded-word is malformed.
    static func decodeWords(_ value: String) -> String? {
        var output = ""
        var pendingSpace = ""
        var lastWasEncoded = false
        for token in tokens(value) {
            if token.allSatisfy({ $0 == " " || $0 == "\t" }) {
                pendingSpace += token
                continue
            }
            if token.hasPrefix("=?"), token.hasSuffix("?="), token.count > 4 {
                let inner = token.dropFirst(2).dropLast(2).split(separator: "?", omittingEmptySubsequences: false)
                guard inner.count == 3, inner[0].uppercased() == "UTF-8" else { return nil }
                var bytes: [UInt8]
                switch inner[1].uppercased() {
                case "B":
                    guard let data = Data(base64Encoded: String(inner[2])) else { return nil }
                    bytes = Array(data)
                case "Q":
                    bytes = []
                    var chars = Array(inner[2].utf8)[...]
                    while let c = chars.popFirst() {
                        if c == UInt8(ascii: "_") { bytes.append(32) } else if c == UInt8(ascii: "=") {
                            guard chars.count >= 2, let v = UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                            bytes.append(v)
                            chars = chars.dropFirst(2)
                        } else { bytes.append(c) }
                    }
                default: return nil
                }
                guard let text = String(bytes: bytes, encoding: .utf8) else { return nil }
                if !lastWasEncoded { output += pendingSpace }
                output += text
                lastWasEncoded = true
            } else {
                output += pendingSpace + token
                lastWasEncoded = false
            }
            pendingSpace = ""
        }
        return output + pendingSpace
    }

    /// Splits into runs of whitespace and runs of non-whitespace.
    static func tokens(_ value: String) -> [String] {
        var result: [String] = []
        var current = ""
        var currentIsSpace: Bool?
        for character in value {
            let isSpace = character == " " || character == "\t"
            if currentIsSpace != nil, currentIsSpace != isSpace {
                result.append(current)
                current = ""
            }
            current.append(character)
            currentIsSpace = isSpace
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// Every encoded-word in a header value.
    static func encodedWords(_ value: String) -> [String] {
        tokens(value).flatMap { $0.split(separator: " ") }.map(String.init).filter { $0.hasPrefix("=?") }
    }
}

/// Wraps a real TokenProvider and records whether each request was forced.
final class GoogleCountingTokens: TokenProvider, @unchecked Sendable {
    let inner: any TokenProvider
    // Guarded by `lock`.
    private let lock = NSLock()
    private var log: [Bool] = []

    init(_ inner: any TokenProvider) { self.inner = inner }

    var forced: Int { lock.withLock { log.filter { $0 }.count } }

    func accessToken(scopes: [String], forceRefresh: Bool) async throws -> String {
        lock.withLock { log.append(forceRefresh) }
        return try await inner.accessToken(scopes: scopes, forceRefresh: forceRefresh)
    }
}
