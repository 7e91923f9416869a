import BrokerCLI
import BrokerTesting
import BrokerWire
import Foundation
import Testing

@Suite("credbroker status: rendering")
struct StatusReportTests {
    static let now = RFC3339.parse("2026-03-10T12:00:00Z")!

    static let sample = AdminStatusResponse(
        state: "unlocked", vault: "/var/lib/credbroker/vault.db", mode: "system", policies: ["/etc/credbroker/policies.d/10-prod.toml"],
        profiles: [
            .init(name: "prod", apps: [.init(name: "google", type: "google", configured: true),
                                       .init(name: "outlook", type: "microsoft", configured: true),
                                       .init(name: "zoom", type: "zoom", configured: true)],
                  grants: [
                    .init(app: "google", account: "me@example.com",
                          scopes: ["https://www.googleapis.com/auth/calendar.readonly", "https://www.googleapis.com/auth/gmail.send"],
                          state: "active", tokenValidUntil: "2026-03-10T12:42:00Z", lastRefresh: "2026-03-10T11:42:00Z", lastError: nil,
                          flow: "refresh_token", refreshTokenObtained: "2026-02-26T09:00:00Z", fix: nil,
                          warnings: ["Google expires refresh tokens of apps in testing after 7 days"]),
                    .init(app: "outlook", account: "me@contoso.com", scopes: ["https://graph.microsoft.com/Mail.Read"], state: "dead",
                          tokenValidUntil: nil, lastRefresh: "2026-03-09T08:00:00Z", lastError: "invalid_grant: AADSTS70000",
                          flow: "refresh_token", refreshTokenObtained: "2026-03-10T06:00:00Z",
                          fix: "credbroker login outlook --profile prod --account me@contoso.com"),
                    .init(app: "outlook", account: "app", scopes: ["https://graph.microsoft.com/.default"], state: "active",
                          tokenValidUntil: "2026-03-10T11:00:00Z", lastRefresh: nil, lastError: nil, flow: "client_credentials"),
                  ]),
            .init(name: "empty", apps: [], grants: []),
        ],
        audit: "ok")

    @Test("per profile, app and account: state, flow, scopes, validity, refresh, age, error, warnings, fix")
    func render() {
        let health = HealthResponse(status: "ok", version: "0.1.0", uptimeSeconds: 93)
        let text = StatusReport.render(Self.sample, health: health, socketPath: "/run/credbroker/broker.sock", now: Self.now)
        let expected = """
            daemon:   credbrokerd 0.1.0 at /run/credbroker/broker.sock (system mode), up 93 s
            state:    ok
            vault:    /var/lib/credbroker/vault.db
            policies: /etc/credbroker/policies.d/10-prod.toml
            audit:    ok
            profile prod:
              app google (google)
                grant google/me@example.com: active, scopes calendar.readonly gmail.send
                  user login; token valid until 2026-03-10T12:42:00Z (in 42 min); last refresh 2026-03-10T11:42:00Z (18 min ago); refresh token 12 days old
                  warning: Google expires refresh tokens of apps in testing after 7 days
              app outlook (microsoft)
                grant outlook/me@contoso.com: dead, scopes Mail.Read
                  user login; no token; last refresh 2026-03-09T08:00:00Z (28 h ago); refresh token less than a day old
                  last error: invalid_grant: AADSTS70000
                  fix: credbroker login outlook --profile prod --account me@contoso.com
                grant outlook/app: active, scopes graph.default
                  app-only (client credentials); token valid until 2026-03-10T11:00:00Z (60 min ago)
              app zoom (zoom)
                no grants; run "credbroker login zoom --profile prod"
            profile empty:
              no apps; add one with "credbroker setup TYPE --profile empty"
            """
        #expect(text == expected, "\(text)")
    }

    @Test("relative times")
    func relative() {
        let now = Self.now
        #expect(StatusReport.relative(now.addingTimeInterval(30), now: now) == "in 30 s")
        #expect(StatusReport.relative(now.addingTimeInterval(-7200), now: now) == "2 h ago")
        #expect(StatusReport.relative(now.addingTimeInterval(3 * 86400), now: now) == "in 3 days")
    }
}

@Suite("credbroker status against a fake daemon")
struct StatusCommandTests {
    @Test("apps without grants say how to log in")
    func appsWithoutGrants() throws {
        let d = try FakeDaemon(scenario: ["profiles": ["dev"], "apps": ["dev": [["google", "google"], ["outlook", "microsoft"]]]])
        let status = try d.cli(["status"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("daemon:   credbrokerd fake at \(d.socket) (user mode), up 7 s"))
        #expect(status.stdout.contains("app outlook (microsoft)") && status.stdout.contains("no grants; run \"credbroker login outlook --profile dev\""))
    }
}
