/// Minimal HTTP/1.1 framing for clients of the socket API: a request serializer and an
/// incremental response parser. Only what the daemon speaks: Content-Length bodies, no
/// chunked transfer coding, no 1xx responses. Pure: the caller does the I/O.
public enum HTTPRequestWriter {
    /// The bytes of one request. `path` must start with "/"; secrets never go in it.
    public static func request(method: String, path: String, body: [UInt8]? = nil,
                               contentType: String = "application/json", headers: [(String, String)] = []) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: credbroker\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body {
            head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\r\n"
            return Array(head.utf8) + body
        }
        head += "\r\n"
        return Array(head.utf8)
    }
}

public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    public static func == (a: HTTPResponse, b: HTTPResponse) -> Bool {
        a.status == b.status && a.body == b.body && a.headers.map { "\($0.name):\($0.value)" } == b.headers.map { "\($0.name):\($0.value)" }
    }
}

public struct HTTPFramingError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Feeds bytes in; yields a response once a whole one has arrived.
public struct HTTPResponseParser: Sendable {
    public static let maxHeadBytes = 16 * 1024
    public let maxBodyBytes: Int
    private var buffer: [UInt8] = []

    public init(maxBodyBytes: Int = 1024 * 1024) {
        self.maxBodyBytes = maxBodyBytes
    }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received and not yet returned as a response: at the end of a stream, more
    /// than zero means the last response was cut short.
    public var bufferedByteCount: Int { buffer.count }

    /// The next whole response, removing its bytes; nil when more bytes are needed.
    public mutating func next() throws(HTTPFramingError) -> HTTPResponse? {
        try next(bodiless: false)
    }

    /// The next whole response; with `bodiless`, one that has no body whatever its
    /// `Content-Length` says: the answer to a HEAD or a CONNECT (RFC 9110 §9.3.2, §9.3.6).
    public mutating func next(bodiless: Bool) throws(HTTPFramingError) -> HTTPResponse? {
        guard let headEnd = Self.find([13, 10, 13, 10], in: buffer) else {
            if buffer.count > Self.maxHeadBytes { throw HTTPFramingError(message: "response head exceeds \(Self.maxHeadBytes) bytes") }
            return nil
        }
        guard let headText = String(validating: buffer[..<headEnd], as: UTF8.self) else {
            throw HTTPFramingError(message: "response head is not UTF-8")
        }
        let lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        guard let statusLine = lines.first else { throw HTTPFramingError(message: "empty response") }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...599).contains(status) else {
            throw HTTPFramingError(message: "malformed status line")
        }
        var headers: [(name: String, value: String)] = []
        var length = 0
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw HTTPFramingError(message: "malformed header line") }
            let name = String(line[..<colon])
            let value = String(line[line.index(after: colon)...]).trimmingASCIIWhitespaceWire()
            if name.lowercased() == "content-length" {
                guard let n = Int(value), n >= 0 else { throw HTTPFramingError(message: "malformed Content-Length") }
                length = n
            }
            if name.lowercased() == "transfer-encoding" { throw HTTPFramingError(message: "unsupported Transfer-Encoding") }
            headers.append((name, value))
        }
        guard length <= maxBodyBytes else { throw HTTPFramingError(message: "response body of \(length) bytes exceeds \(maxBodyBytes)") }
        let total = headEnd + 4 + (bodiless ? 0 : length)
        guard buffer.count >= total else { return nil }
        let body = Array(buffer[(headEnd + 4)..<total])
        buffer.removeFirst(total)
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = 0
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0] && haystack[i + 1] == needle[1] && haystack[i + 2] == needle[2] && haystack[i + 3] == needle[3] {
                return i
            }
            i += 1
        }
        return nil
    }
}

extension String {
    func trimmingASCIIWhitespaceWire() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
