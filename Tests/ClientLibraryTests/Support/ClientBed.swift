import APIClientCore
import BrokerCore
import BrokerHTTP
import BrokerTestBed
import BrokerTesting
import BrokerWire
import Foundation
import Testing

/// The client libraries' integration bed: an in-process sandbox, the real credbrokerd with
/// an unlocked vault, and profile `dev` with two logged-in apps, `google` (the sandbox's
/// desktop client) and `microsoft` (its public client), both as alice@sandbox.test.
final class ClientBed: @unchecked Sendable {
    let bed: OAuthBed
    let profile = "dev"

    static let googleScopes = ScopeAliases.expandAll([
        "calendar.readonly", "calendar.events", "gmail.readonly", "gmail.send", "gmail.modify", "contacts.readonly", "contacts",
    ])
    static let microsoftScopes = ScopeAliases.expandAll([
        "Calendars.Read", "Calendars.ReadWrite", "Mail.Read", "Mail.ReadWrite", "Mail.Send", "Contacts.Read", "Contacts.ReadWrite", "User.Read",
    ])
    static let openPolicy = OAuthBed.openPolicy

    /// A one-rule policy for root and the test's uid (or `uids`) in profile dev.
    static func policy(name: String, providers: [String], scopes: [String] = ["*"], uids: [UInt32]? = nil) -> String {
        func list(_ items: [String]) -> String { "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
        return """
            [[rule]]
            name = "\(name)"
            uids = [\((uids ?? [0, getuid()]).map(String.init).joined(separator: ", "))]
            profiles = ["dev"]
            providers = \(list(providers))
            scopes = \(list(scopes))
            """
    }

    var sandboxURL: String { bed.url }
    var socketPath: String { bed.daemon.socket }
    var transport: CurlTransport { bed.http }
    var daemon: TestDaemon { bed.daemon }

    var googleBaseURLs: [String: String] {
        ["calendar": sandboxURL + "/google/calendar/v3", "gmail": sandboxURL + "/google/gmail/v1", "people": sandboxURL + "/google/v1"]
    }
    var graphBaseURL: String { sandboxURL + "/microsoft/graph/v1.0" }

    private init(bed: OAuthBed) {
        self.bed = bed
    }

    /// Runs `body` with a new bed. `policy` decides token requests only: setup and login go
    /// through admin routes, which in user mode are the daemon's own uid's. The sandbox and the daemon are stopped and their files
    /// removed afterwards, whether `body` throws or not.
    /// The whole bed runs on a thread of its own (`onOwnThread`): its client connections are
    /// kept alive across awaits, which a starved cooperative pool would stretch.
    static func with<T>(policy: String = ClientBed.openPolicy, _ body: (ClientBed) async throws -> T) async throws -> T {
        try await onOwnThread { try await run(policy: policy, body) }
    }

    private static func run<T>(policy: String, _ body: (ClientBed) async throws -> T) async throws -> T {
        let bed = ClientBed(bed: try await OAuthBed(policy: policy))
        do {
            let oauth = bed.bed
            try await offload {
                try oauth.setupGoogleDesktop(scopes: googleScopes)
                try oauth.setupMicrosoft(scopes: microsoftScopes)
            }
            try await bed.bed.apiLogin("google")
            try await bed.bed.apiLogin("microsoft")
            let result = try await body(bed)
            await bed.bed.close()
            return result
        } catch {
            await bed.bed.close()
            throw error
        }
    }

    /// A token provider that asks the daemon over its socket, without CredBrokerClient.
    func tokens(app: String) -> any TokenProvider {
        DaemonTokens(daemon: daemon, profile: profile, app: app)
    }

    /// The sandbox's control API: `/_sandbox/PATH`.
    @discardableResult
    func control(_ method: String, _ path: String, _ json: String? = nil) async throws -> [String: Any] {
        try await bed.control(method, path, json)
    }

    /// How many calls the sandbox counted for an API route, e.g.
    /// "GET /google/calendar/v3/calendars/{calendarId}/events".
    func apiCalls(_ route: String) async throws -> Int {
        let counters = try await bed.counters()
        return (counters["api_calls"] as? [String: Any])?[route] as? Int ?? 0
    }

    func armFault(_ json: String) async throws {
        try await control("POST", "faults", json)
    }

    /// SIGTERM, start again on the same socket and vault, unlock.
    func restartDaemon() throws {
        #expect(daemon.stop() == 0)
        let env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("NOTIFY_SOCKET") && !$0.key.hasPrefix("LISTEN_") }
        try daemon.start(environment: env)
        #expect(try daemon.unlock().status == 200)
    }

    func cli(_ arguments: [String], stdin: String? = nil) throws -> ProcessResult {
        try daemon.cli(arguments, stdin: stdin)
    }
}

/// Tokens straight from the daemon's `POST /v1/token`.
struct DaemonTokens: TokenProvider {
    let daemon: TestDaemon
    let profile: String
    let app: String

    struct Failure: Error, CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "credbrokerd answered \(status): \(body)" }
    }

    func accessToken(scopes: [String], forceRefresh: Bool) async throws -> String {
        let request = TokenRequest(profile: profile, provider: app, scopes: scopes, forceRefresh: forceRefresh ? true : nil)
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        let daemon = daemon
        let response = try await offload { try daemon.request("POST", "/v1/token", json: json) }
        guard response.status == 200 else { throw Failure(status: response.status, body: response.text) }
        return try JSONDecoder().decode(TokenResponse.self, from: Data(response.body)).accessToken
    }
}


