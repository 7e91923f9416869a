public import APIClientCore
public import BrokerHTTP
public import CredBrokerClient

extension MicrosoftGraph {
    /// A client for a Microsoft app of a broker profile: bearer tokens from `broker`
    /// (`BrokerTokenProvider`), and the base URL from the app's `graph` API base URL in the
    /// broker's profiles, so an app set up against the sandbox or a national cloud works
    /// without code changes (`BrokerClient`'s `apiBaseURLOverrides` wins over it).
    ///
    /// ```swift
    /// let broker = BrokerClient()   // socket and profile from the environment
    /// let graph = try await MicrosoftGraph(broker: broker)
    /// ```
    ///
    /// - Parameters:
    ///   - profile: nil takes the broker's default profile.
    ///   - provider: the app's name in the profile.
    ///   - account: nil takes the profile's only account of that app.
    ///   - transport: nil makes a `CurlTransport` with default options.
    /// - Throws: `BrokerError` when the broker knows no such app or base URL (or the caller
    ///   may not use it); `HTTPTransportError` when the transport cannot be made.
    public convenience init(
        broker: BrokerClient, profile: String? = nil, provider: String = "microsoft", account: String? = nil,
        transport: (any HTTPTransport)? = nil, configuration: GraphConfiguration = .init(), clock: any APIClock = SystemAPIClock(),
        limiter: TokenBucket? = nil
    ) async throws {
        let baseURL = try await broker.apiBaseURL("graph", profile: profile, provider: provider)
        let tokens = BrokerTokenProvider(client: broker, profile: profile, provider: provider, account: account)
        self.init(
            tokens: tokens, baseURL: baseURL, transport: try transport ?? CurlTransport(), configuration: configuration, clock: clock,
            limiter: limiter)
    }
}
