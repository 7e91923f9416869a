/// A validated token response (`TokenResponseParser`): everything in it passed the checks.
public struct OAuthTokenSet: Sendable {
    /// Printable ASCII without spaces, at most `TokenResponseParser.maxTokenBytes`.
    public var accessToken: String
    /// Seconds, 1 ... 86 400.
    public var expiresIn: Int
    /// A new refresh token when the provider sent one (always at Microsoft and Zoom, which
    /// rotate them; at Google only on the first exchange). Commit it before using the
    /// access token (DESIGN.md, invariant 4).
    public var refreshToken: String?
    /// Full scope strings the token carries: the response's `scope` (Microsoft's bare
    /// Graph names made full), or the requested scopes when the provider omitted it.
    public var scopes: [String]
    public var idToken: String?

    public init(accessToken: String, expiresIn: Int, refreshToken: String?, scopes: [String], idToken: String?) {
        self.accessToken = accessToken
        self.expiresIn = expiresIn
        self.refreshToken = refreshToken
        self.scopes = scopes
        self.idToken = idToken
    }
}
