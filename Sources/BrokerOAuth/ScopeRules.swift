import BrokerCore

/// How scopes are sent and how a response's scopes are checked against what may be granted.
enum ScopeRules {
    static let graphResource = "https://graph.microsoft.com/"

    /// OpenID Connect scopes and Google's names for two of them: a provider may add these to
    /// a response without being asked (Google answers `email` with `…/userinfo.email`), and
    /// they grant nothing beyond who the user is.
    static let identityScopes: Set<String> = [
        "openid", "profile", "email", "offline_access",
        "https://www.googleapis.com/auth/userinfo.email", "https://www.googleapis.com/auth/userinfo.profile",
    ]

    static let maxScopes = 100
    static let maxScopeBytes = 1024

    static func isIdentity(_ scope: String) -> Bool { identityScopes.contains(scope.lowercased()) }

    /// Each scope is printable ASCII without spaces (a space would split it on the wire).
    static func validate(_ scopes: [String]) throws(OAuthError) {
        guard scopes.count <= maxScopes else { throw OAuthError(.invalidScope, "more than \(maxScopes) scopes requested") }
        for scope in scopes {
            guard !scope.isEmpty, scope.utf8.count <= maxScopeBytes, scope.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw OAuthError(.invalidScope, "scope \"\(printableText(scope))\" is empty, too long, or has white space or non-ASCII characters")
            }
        }
    }

    /// The scopes for the `scope` parameter: duplicates dropped, and for Microsoft
    /// `offline_access` added when asked (a refresh token comes only with it).
    static func requestScopes(_ scopes: [String], type: ProviderType, addOfflineAccess: Bool) -> [String] {
        var out: [String] = []
        for s in scopes where !out.contains(s) { out.append(s) }
        if type == .microsoft && addOfflineAccess && !out.contains(where: { $0.lowercased() == "offline_access" }) {
            out.append("offline_access")
        }
        return out
    }

    /// The full form of a scope in a response if it may be granted, else nil. `allowed`
    /// nil means anything may be (a Zoom app whose scopes are set in its Marketplace page).
    /// A bare Graph permission (`Calendars.Read`) matches its full form and the other way
    /// round, case-insensitively, as Microsoft treats them.
    static func canonical(_ scope: String, allowed: [String]?) -> String? {
        guard let allowed else { return scope }
        if allowed.contains(scope) || isIdentity(scope) { return scope }
        let lower = scope.lowercased()
        if !scope.contains("://") {
            let full = (graphResource + scope).lowercased()
            if let match = allowed.first(where: { $0.lowercased() == full }) { return match }
            if let match = allowed.first(where: { !$0.contains("://") && $0.lowercased() == lower }) { return graphResource + match }
            return nil
        }
        if lower.hasPrefix(graphResource) {
            let bare = String(lower.dropFirst(graphResource.count))
            if let match = allowed.first(where: { $0.lowercased() == lower }) { return match }
            if let match = allowed.first(where: { !$0.contains("://") && $0.lowercased() == bare }) { return graphResource + match }
        }
        return nil
    }
}
