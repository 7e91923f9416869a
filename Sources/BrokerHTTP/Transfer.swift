import Synchronization

/// One request, checked and ready for a transfer thread: the parsed URL, the method and
/// headers vetted, the timeouts in libcurl's milliseconds. Everything that can be refused
/// without the network is refused here, on the caller's task, before a thread is involved.
final class Transfer: Sendable {
    let request: HTTPRequest
    let url: CurlURL
    let connectTimeoutMilliseconds: Int
    let totalTimeoutMilliseconds: Int
    /// Whether the body goes out (CURLOPT_POSTFIELDS): for POST, PUT and PATCH always,
    /// for other methods when there is one. Never for HEAD.
    let sendsBody: Bool
    /// Headers libcurl would add that we remove (unless the caller sets them): `Expect`
    /// (no 100-continue round trip) and, with a body, `Content-Type` (libcurl would claim
    /// the body is a form).
    let suppressedHeaders: [String]
    private let cancelled = Atomic<Bool>(false)

    init(_ request: HTTPRequest, options: HTTPTransportOptions) throws(HTTPTransportError) {
        let url = try CurlURL(request.url)
        let host = url.host
        guard Transfer.isToken(request.method) else {
            throw HTTPTransportError(.configuration, "request to \"\(host)\" has an invalid HTTP method")
        }
        var names = Set<String>()
        for field in request.headers {
            let name = field.name.lowercased()
            guard Transfer.isToken(field.name) else {
                throw HTTPTransportError(.configuration, "request to \"\(host)\" has an invalid header name")
            }
            // Only the name is quoted: the value may be a token or a client secret.
            guard field.value.utf8.allSatisfy({ $0 != 0x0D && $0 != 0x0A && $0 != 0 }) else {
                throw HTTPTransportError(.configuration, "request to \"\(host)\": header \"\(field.name)\" has a line break or NUL in its value")
            }
            // Framing is the transport's: a second, different length would desynchronise
            // the connection.
            guard name != "content-length" && name != "transfer-encoding" else {
                throw HTTPTransportError(.configuration, "request to \"\(host)\" sets \"\(field.name)\": the transport frames the body itself")
            }
            names.insert(name)
        }
        let method = request.method
        if method == "HEAD" && !request.body.isEmpty {
            throw HTTPTransportError(.configuration, "HEAD request to \"\(host)\" has a body")
        }
        guard request.maxResponseBytes >= 0 else {
            throw HTTPTransportError(.configuration, "request to \"\(host)\" has a negative maxResponseBytes")
        }
        let total = request.timeout ?? options.totalTimeout
        guard total > .zero else {
            throw HTTPTransportError(.configuration, "request to \"\(host)\" has a timeout that is not positive")
        }
        let sendsBody = method == "POST" || method == "PUT" || method == "PATCH" || (method != "HEAD" && !request.body.isEmpty)
        var suppressed: [String] = []
        if !names.contains("expect") { suppressed.append("Expect") }
        if sendsBody && !names.contains("content-type") { suppressed.append("Content-Type") }

        self.request = request
        self.url = url
        self.connectTimeoutMilliseconds = Transfer.milliseconds(options.connectTimeout)
        self.totalTimeoutMilliseconds = Transfer.milliseconds(total)
        self.sendsBody = sendsBody
        self.suppressedHeaders = suppressed
    }

    var host: String { url.host }

    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Called from the cancelled task's cancellation handler, on any thread: the transfer
    /// thread sees it before it starts, or in its next progress callback.
    func cancel() { cancelled.store(true, ordering: .releasing) }

    /// RFC 9110 token: what a method or a header name may be.
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            default:
                return "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
        }
    }

    /// A positive duration in whole milliseconds, rounded up (libcurl reads 0 as "no
    /// limit", so a limit never rounds down to it).
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        guard seconds < Int64(Int.max / 1000 - 1) else { return Int.max / 1000 }
        let whole = Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
        let rest = attoseconds % 1_000_000_000_000_000
        return max(1, whole + (rest > 0 ? 1 : 0))
    }
}
