/// The clients, users and tenant every sandbox starts with. Their secrets are made up and
/// printed on purpose (../shared/DESIGN.md, invariant 1's sandbox exception; docs/sandbox.md).
enum SandboxDefaults {
    static let tenant = "sandbox-tenant"

    static let googleWeb = "sandbox-web.apps.googleusercontent.com"
    static let googleDesktop = "sandbox-desktop.apps.googleusercontent.com"
    static let googleTV = "sandbox-tv.apps.googleusercontent.com"
    static let microsoftPublic = "00000000-0000-4000-8000-00000000a001"
    static let microsoftConfidential = "00000000-0000-4000-8000-00000000a002"
    static let zoomOAuth = "sandboxZoomOAuthClient"
    static let zoomServer = "sandboxZoomS2SClient"
    static let zoomAccount = "sandbox-account"

    static func register(into state: SandboxState) {
        let loopback = ["http://127.0.0.1", "http://[::1]", "http://localhost"]
        state.addClient(ClientRecord(
            provider: .google, clientID: googleWeb, type: "web", secret: "GOCSPX-sandbox-web-secret",
            redirectURIs: ["http://127.0.0.1:8765/oauth/callback", "https://app.sandbox.test/oauth/callback"],
            isPublic: false, permissions: []))
        state.addClient(ClientRecord(
            provider: .google, clientID: googleDesktop, type: "desktop", secret: "GOCSPX-sandbox-desktop-secret",
            redirectURIs: loopback, isPublic: true, permissions: []))
        state.addClient(ClientRecord(
            provider: .google, clientID: googleTV, type: "tv", secret: "GOCSPX-sandbox-tv-secret",
            redirectURIs: [], isPublic: false, permissions: []))
        state.addClient(ClientRecord(
            provider: .microsoft, clientID: microsoftPublic, type: "public", secret: nil,
            redirectURIs: ["http://localhost", "http://127.0.0.1"], isPublic: true, permissions: [], tenant: tenant))
        state.addClient(ClientRecord(
            provider: .microsoft, clientID: microsoftConfidential, type: "confidential", secret: "sandbox-ms-confidential-secret",
            redirectURIs: ["http://localhost", "http://127.0.0.1", "https://app.sandbox.test/oauth/callback"], isPublic: false,
            permissions: ["Calendars.Read", "Mail.Read", "Contacts.Read"], tenant: tenant))
        state.addClient(ClientRecord(
            provider: .zoom, clientID: zoomOAuth, type: "oauth", secret: "sandbox-zoom-oauth-secret",
            redirectURIs: ["http://127.0.0.1", "http://localhost", "https://app.sandbox.test/oauth/callback"], isPublic: false,
            permissions: ["user:read", "meeting:read", "meeting:write"]))
        state.addClient(ClientRecord(
            provider: .zoom, clientID: zoomServer, type: "server_to_server", secret: "sandbox-zoom-s2s-secret",
            redirectURIs: [], isPublic: false, accountID: zoomAccount,
            permissions: ["user:read:admin", "meeting:read:admin"]))
        state.addUser(UserRecord(email: "alice@sandbox.test", name: "Alice Example", id: "100000000000000000001", consents: true))
        state.addUser(UserRecord(email: "bob@sandbox.test", name: "Bob Example", id: "100000000000000000002", consents: true))
        state.addUser(UserRecord(email: "denied@sandbox.test", name: "Dee Nied", id: "100000000000000000003", consents: false))
    }
}
