/// The authorization URL the user opens (authorization code flow with PKCE, RFC 6749 §4.1,
/// RFC 7636, RFC 8252 for the loopback redirect).
public enum AuthorizationRequest {
    /// The parameters a request always sets itself; `extraAuthorizationParameters` cannot
    /// replace them.
    static let reserved: Set<String> = [
        "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "login_hint",
    ]

    /// The URL for one login, with parameters in a fixed order: `response_type=code`,
    /// `client_id`, `redirect_uri`, `scope`, `state`, `code_challenge`,
    /// `code_challenge_method=S256`, `login_hint` when given, then the provider's extra
    /// parameters sorted by name.
    ///
    /// Microsoft gets `offline_access` added to the scopes (no refresh token without it);
    /// Google gets `access_type=offline` and `prompt=consent` from its configuration; Zoom
    /// gets no `scope` (a Zoom app's scopes are fixed in its Marketplace settings). Nothing
    /// secret goes into the URL.
    public static func url(
        config: ProviderConfig, redirectURI: String, scopes: [String], state: String, codeChallenge: String, loginHint: String?
    ) -> String {
        var pairs: [(String, String)] = [
            ("response_type", "code"), ("client_id", config.clientID), ("redirect_uri", redirectURI),
        ]
        let wire = ScopeRules.requestScopes(scopes, type: config.type, addOfflineAccess: true)
        if config.type != .zoom && !wire.isEmpty { pairs.append(("scope", wire.joined(separator: " "))) }
        pairs.append(("state", state))
        pairs.append(("code_challenge", codeChallenge))
        pairs.append(("code_challenge_method", "S256"))
        if let loginHint, !loginHint.isEmpty { pairs.append(("login_hint", loginHint)) }
        for (name, value) in config.extraAuthorizationParameters.sorted(by: { $0.key < $1.key }) where !reserved.contains(name) {
            pairs.append((name, value))
        }
        let separator = config.authorizationURL.contains("?") ? "&" : "?"
        return config.authorizationURL + separator + FormEncoding.encode(pairs)
    }
}
