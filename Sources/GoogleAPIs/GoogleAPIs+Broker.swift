public import APIClientCore
public import BrokerHTTP
public import CredBrokerClient

extension GoogleAPIs {
    /// A client for a Google app of a broker profile: bearer tokens from `broker`
    /// (`BrokerTokenProvider`), and the `calendar`, `gmail` and `people` base URLs from the
    /// app's API base URLs in the broker's profiles, so an app set up against the sandbox
    /// works without code changes (`BrokerClient`'s `apiBaseURLOverrides` wins over them;
    /// a `batch` override is honoured too).
    ///
    /// ```swift
    /// let broker = BrokerClient()   // socket and profile from the environment
    /// let google = try await GoogleAPIs(broker: broker)
    /// ```
    ///
    /// - Parameters:
    ///   - profile: nil takes the broker's default profile.
    ///   - provider: the app's name in the profile (`google`, `google-work`).
    ///   - account: nil takes the profile's only account of that app.
    ///   - transport: nil makes a `CurlTransport` with default options.
    /// - Throws: `BrokerError` when the broker knows no such app or base URL (or the caller
    ///   may not use it); `HTTPTransportError` when the transport cannot be made.
    public convenience init(
        broker: BrokerClient, profile: String? = nil, provider: String = "google", account: String? = nil,
        transport: (any HTTPTransport)? = nil, configuration: GoogleConfiguration = .init(), clock: any APIClock = SystemAPIClock(),
        limiter: TokenBucket? = nil
    ) async throws {
        var urls: [String: String] = [:]
        for api in ["calendar", "gmail", "people"] {
            urls[api] = try await broker.apiBaseURL(api, profile: profile, provider: provider)
        }
        // Daemons list no batch URL (it derives from the calendar one), but an override may.
        if let batch = try? await broker.apiBaseURL("batch", profile: profile, provider: provider) { urls["batch"] = batch }
        let tokens = BrokerTokenProvider(client: broker, profile: profile, provider: provider, account: account)
        self.init(
            tokens: tokens, baseURLs: urls, transport: try transport ?? CurlTransport(), configuration: configuration, clock: clock,
            limiter: limiter)
    }
}
