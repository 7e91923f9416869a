public import CredBrokerClient

/// Bearer tokens from credbrokerd, through a shared `BrokerClient` (its in-process cache
/// makes asking before every request cheap).
///
/// ```swift
/// let broker = BrokerClient()
/// let tokens = BrokerTokenProvider(client: broker, provider: "google")
/// ```
///
/// Errors from the broker (`BrokerError`: `denied`, `locked`, `reauthRequired` with the
/// `credbroker login` command in `hint`, …) reach the caller of `APIClient.send` unchanged.
public struct BrokerTokenProvider: TokenProvider {
    public let client: BrokerClient
    /// nil: the client's default profile (its `profile:` or `CREDBROKER_PROFILE`).
    public let profile: String?
    /// The provider app's name in the profile ("google", "microsoft", "google-work").
    public let provider: String
    /// nil: the profile's only account of that app.
    public let account: String?
    /// How long a token handed out must stay valid: long enough for a request, its retries
    /// and a slow answer.
    public let minValid: Duration

    public init(client: BrokerClient, profile: String? = nil, provider: String, account: String? = nil, minValid: Duration = .seconds(60)) {
        self.client = client
        self.profile = profile
        self.provider = provider
        self.account = account
        self.minValid = minValid
    }

    /// A token for `scopes` (full strings or aliases). `forceRefresh` after a 401 makes the
    /// daemon obtain a new one. Throws `BrokerError`.
    public func accessToken(scopes: [String], forceRefresh: Bool) async throws -> String {
        try await client.accessToken(profile: profile, provider: provider, account: account, scopes: scopes,
                                     minValid: minValid, forceRefresh: forceRefresh).value
    }
}
