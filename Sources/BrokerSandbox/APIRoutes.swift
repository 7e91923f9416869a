/// Every emulated API route, with the scopes that allow it (any one suffices).
extension SandboxState {
    static let g = googleScopePrefix
    static let m = graphResource

    static let routes: [APIRoute] = identityRoutes

    static let identityRoutes: [APIRoute] = [
        APIRoute(method: "GET", template: "/google/oauth2/v3/userinfo", provider: .google,
            scopes: ["openid", "email", "profile", g + "userinfo.email", g + "userinfo.profile"]) { $0.googleUserinfo($1) },
        APIRoute(method: "GET", template: "/microsoft/graph/v1.0/me", provider: .microsoft,
            scopes: [m + "User.Read"]) { $0.graphMe($1) },
        APIRoute(method: "GET", template: "/zoom/v2/users/me", provider: .zoom,
            scopes: ["user:read", "user:read:admin"]) { $0.zoomMe($1) },
    ]
}
