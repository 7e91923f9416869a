/// Where a provider wrapper gets its bearer tokens. `BrokerTokenProvider` asks credbrokerd
/// through CredBrokerClient; tests may supply others.
public protocol TokenProvider: Sendable {
    /// An access token carrying at least `scopes` (full scope strings). `forceRefresh` is
    /// set after the provider answered 401 to a token this provider gave: the broker then
    /// obtains a new one instead of handing back the cached one.
    func accessToken(scopes: [String], forceRefresh: Bool) async throws -> String
}
