/// How a `CurlTransport` connects: timeouts, trust (CA file, pinned key), proxy, identity
/// and how many transfers run at once. The same options apply to every request the
/// transport sends; `HTTPRequest.timeout` overrides `totalTimeout` for one request.
public struct HTTPTransportOptions: Sendable {
    /// Limit for name resolution, the TCP connect and the TLS handshake together (libcurl's
    /// connect phase). 5 s by default: a provider endpoint answers in well under a second.
    public var connectTimeout: Duration
    /// Limit for a whole request, connect phase included, unless the request sets its own
    /// `timeout`. 30 s by default.
    public var totalTimeout: Duration
    /// A PEM file of CA certificates to trust instead of the system store (CURLOPT_CAINFO),
    /// for a private provider or a test server. `nil`: the system store libcurl was built
    /// with. Checked when the transport is made: it must be a readable regular file that
    /// holds at least one PEM certificate.
    public var caFile: String?
    /// The server's public key(s), in libcurl's format: `sha256//BASE64` (the base64 of the
    /// SHA-256 of the DER SubjectPublicKeyInfo), several joined by `;`
    /// (CURLOPT_PINNEDPUBLICKEY). Checked in addition to the CA chain, never instead of it;
    /// a server with another key fails with `.pinMismatch`. Compute a pin with
    /// `openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der |
    /// openssl dgst -sha256 -binary | base64`.
    public var pinnedPublicKey: String?
    /// The proxy for non-loopback hosts, as libcurl takes it (`http://proxy:3128`,
    /// `socks5h://proxy:1080`). `nil`: libcurl reads the standard environment variables
    /// itself (`https_proxy`, `http_proxy`, `all_proxy` and their upper-case forms except
    /// `HTTP_PROXY`, and `no_proxy`). An empty string: no proxy, whatever the environment
    /// says. Loopback hosts are never proxied.
    public var proxy: String?
    /// The `User-Agent` sent unless a request sets its own.
    public var userAgent: String
    /// How many transfers run at once, each on its own dedicated thread with its own libcurl
    /// handle (and so its own connection cache); more requests wait their turn. 4 by default.
    public var maxConcurrentTransfers: Int

    /// `credbroker/<version>`; keep the version in step with the CLI's.
    public static let defaultUserAgent = "credbroker/0.1.0"
    public static let defaultConnectTimeout: Duration = .seconds(5)
    public static let defaultTotalTimeout: Duration = .seconds(30)
    /// Threads and handles: a token refresh is one short request, and the daemon refreshes
    /// a handful of grants at a time; callers beyond this queue rather than add threads.
    public static let defaultMaxConcurrentTransfers = 4
    /// The most threads a transport may run, whatever the options ask for.
    public static let maxConcurrentTransfersLimit = 64

    public init(
        connectTimeout: Duration = HTTPTransportOptions.defaultConnectTimeout,
        totalTimeout: Duration = HTTPTransportOptions.defaultTotalTimeout,
        caFile: String? = nil,
        pinnedPublicKey: String? = nil,
        proxy: String? = nil,
        userAgent: String = HTTPTransportOptions.defaultUserAgent,
        maxConcurrentTransfers: Int = HTTPTransportOptions.defaultMaxConcurrentTransfers
    ) {
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.caFile = caFile
        self.pinnedPublicKey = pinnedPublicKey
        self.proxy = proxy
        self.userAgent = userAgent
        self.maxConcurrentTransfers = maxConcurrentTransfers
    }
}
