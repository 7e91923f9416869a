/// The interface every outbound HTTP call of credbroker goes through: the daemon's calls to
/// token, device and revocation endpoints, the CLI's, and the client libraries' API calls.
/// `CurlTransport` implements it over the system libcurl; tests substitute fakes.
///
/// Requests and responses are plain values so flows can be written and tested without I/O.

/// One header field. Names compare case-insensitively (`HTTPResponse.header(_:)`).
public struct HTTPHeaderField: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

public struct HTTPRequest: Sendable {
    public var method: String
    /// An absolute `https://` URL, or `http://` to a loopback host (127.0.0.0/8, ::1,
    /// localhost). Anything else fails with `HTTPTransportError.Kind.insecureURL` before any
    /// connection is made.
    public var url: String
    public var headers: [HTTPHeaderField]
    public var body: [UInt8]
    /// Overrides the transport's total timeout for this request.
    public var timeout: Duration?
    /// The largest response body accepted; a longer one fails with `.responseTooLarge`
    /// without being kept. 1 MiB by default (the cap for token endpoints).
    public var maxResponseBytes: Int

    public static let defaultMaxResponseBytes = 1 << 20

    public init(method: String, url: String, headers: [HTTPHeaderField] = [], body: [UInt8] = [],
                timeout: Duration? = nil, maxResponseBytes: Int = HTTPRequest.defaultMaxResponseBytes) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// In the order received; names as sent.
    public var headers: [HTTPHeaderField]
    public var body: [UInt8]

    public init(status: Int, headers: [HTTPHeaderField] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header with this name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }
}

/// Why a request got no HTTP response. An HTTP error status is not an error here: it is
/// a response.
public struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Not a valid absolute http(s) URL.
        case invalidURL = "invalid_url"
        /// http:// to a host that is not loopback.
        case insecureURL = "insecure_url"
        /// Name resolution or TCP connect failed, or the connect timeout passed.
        case connect
        /// The total timeout passed.
        case timeout
        /// TLS handshake or certificate verification failed.
        case tls
        /// The server's public key does not match the pinned one.
        case pinMismatch = "pin_mismatch"
        /// The response body exceeded `maxResponseBytes`.
        case responseTooLarge = "response_too_large"
        /// The connection broke, or the response was not valid HTTP.
        case network
        /// The task was cancelled.
        case cancelled
        /// A transport option is invalid (for example an unreadable CA file), or a request
        /// field is (a method or header name that is not a token, a line break in a header
        /// value).
        case configuration
    }

    public var kind: Kind
    /// For people: names the host and what failed. Never contains a request body or
    /// header value.
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws(HTTPTransportError) -> HTTPResponse
}
