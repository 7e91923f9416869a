import APIClientCore
import BrokerCore
import BrokerHTTP
import BrokerTestBed
import BrokerTesting
import CredBrokerClient
import Foundation
import Testing

/// CredBrokerClient against the real credbrokerd and the sandbox (ClientBed: profile `dev`,
/// apps `google` and `microsoft`, both logged in as alice@sandbox.test).
@Suite("Broker client against credbrokerd")
struct BrokerClientTests {
    static let calendarReadonly = "https://www.googleapis.com/auth/calendar.readonly"
    static let alice = "alice@sandbox.test"

    static func client(_ bed: ClientBed, overrides: [String: [String: String]] = [:]) -> BrokerClient {
        BrokerClient(socketPath: bed.socketPath, profile: bed.profile, apiBaseURLOverrides: overrides)
    }

    /// The daemon's audit lines for `POST /v1/token`.
    static func tokenAuditLines(_ bed: ClientBed) -> [String] {
        let text = (try? String(contentsOfFile: bed.daemon.auditLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).filter { $0.contains(#""route":"/v1/token""#) }
    }

    @Test("a token is fetched once, then served from the cache for every spelling of its scopes")
    func fetchedThenCached() async throws {
        try await ClientBed.with { bed in
            let client = Self.client(bed)
            let first = try await client.accessToken(provider: "google", scopes: ["calendar.readonly"])
            #expect(first.scopes == [Self.calendarReadonly])
            #expect(first.profile == "dev" && first.provider == "google" && first.account == Self.alice)
            #expect(first.value.hasPrefix("ya29.sandbox-"))
            #expect(first.expiresAt > Date().addingTimeInterval(70))
            // The audit writer batches its lines: wait for the first one to be written.
            #expect(BackgroundProcess.waitUntil { Self.tokenAuditLines(bed).count >= 1 })
            let before = Self.tokenAuditLines(bed).count
            #expect(before >= 1)

            for _ in 0..<50 {
                #expect(try await client.accessToken(provider: "google", scopes: ["calendar.readonly"]) == first)
            }
            // The full string and the alias share the entry.
            #expect(try await client.accessToken(provider: "google", scopes: [Self.calendarReadonly]) == first)
            #expect(try await client.accessToken(provider: "google", scopes: ["calendar.readonly", "calendar.readonly"]) == first)

            // A barrier: one new scope set reaches the daemon; its line is the only new one.
            let other = try await client.accessToken(provider: "google", scopes: ["gmail.readonly"])
            #expect(other.value != first.value)
            #expect(BackgroundProcess.waitUntil { Self.tokenAuditLines(bed).count > before })
            let lines = Self.tokenAuditLines(bed)
            #expect(lines.count == before + 1, "cached calls reached the daemon")
            #expect(lines.last?.contains("gmail.readonly") == true)

            // The proof the other way round: with the vault locked the daemon refuses every
            // token request, and the cached token is still handed out.
            #expect(try bed.daemon.request("POST", "/v1/admin/lock").status == 200)
            #expect(try await client.accessToken(provider: "google", scopes: ["calendar.readonly"]) == first)
            await client.shutdown()
        }
    }

    @Test("forceRefresh bypasses the cache and asks the daemon")
    func forceRefreshBypasses() async throws {
        try await ClientBed.with { bed in
            let client = Self.client(bed)
            let first = try await client.accessToken(provider: "google", scopes: ["calendar.readonly"])
            #expect(try bed.daemon.request("POST", "/v1/admin/lock").status == 200)
            #expect(try await client.accessToken(provider: "google", scopes: ["calendar.readonly"]) == first)
            await #expect {
                _ = try await client.accessToken(provider: "google", scopes: ["calendar.readonly"], forceRefresh: true)
            } throws: { ($0 as? BrokerError)?.code == .locked }
            #expect(try bed.daemon.unlock().status == 200)
            // Within 30 s of its refresh the daemon answers a forced request with the same
            // token (docs/spec/api.md); the client stores what it got for every spelling.
            let forced = try await client.accessToken(provider: "google", scopes: [Self.calendarReadonly], forceRefresh: true)
            #expect(forced.scopes == [Self.calendarReadonly])
            #expect(try await client.accessToken(provider: "google", scopes: ["calendar.readonly"]) == forced)
            await client.shutdown()
        }
    }

    @Test("the profile comes from CREDBROKER_PROFILE and the socket from CREDBROKER_SOCKET; the account may be omitted")
    func environmentAndAccount() async throws {
        try await ClientBed.with { bed in
            let client = BrokerClient(environment: ["CREDBROKER_SOCKET": bed.socketPath, "CREDBROKER_PROFILE": "dev"])
            #expect(client.socketCandidates == [bed.socketPath])
            let token = try await client.accessToken(provider: "microsoft", scopes: ["Calendars.Read"])
            #expect(token.profile == "dev" && token.provider == "microsoft" && token.account == Self.alice)
            #expect(token.scopes.contains("https://graph.microsoft.com/Calendars.Read"))
            // Naming the account gives the same token; an unknown one is not found.
            let named = try await client.accessToken(provider: "microsoft", account: Self.alice, scopes: ["Calendars.Read"])
            #expect(named.value == token.value)
            await #expect {
                _ = try await client.accessToken(provider: "microsoft", account: "mallory@sandbox.test", scopes: ["Calendars.Read"])
            } throws: { ($0 as? BrokerError)?.code == .notFound }
            // Another profile, per call: the daemon knows none such.
            await #expect {
                _ = try await client.accessToken(profile: "prod", provider: "google", scopes: ["calendar.readonly"])
            } throws: { error in
                guard let e = error as? BrokerError else { return false }
                return e.code == .notFound || e.code == .denied
            }
            await client.shutdown()
        }
    }

    @Test("a caller the policy does not name is denied")
    func denied() async throws {
        let policy = ClientBed.policy(name: "someone-else", providers: ["*"], uids: [4242])
        try await ClientBed.with(policy: policy) { bed in
            let client = Self.client(bed)
            await #expect {
                _ = try await client.accessToken(provider: "google", scopes: ["calendar.readonly"])
            } throws: { error in
                guard let e = error as? BrokerError else { return false }
                return e.code == .denied && e.message == "not allowed"
            }
            // The denied caller sees no profiles either.
            let profiles = try await client.profiles()
            #expect(profiles.isEmpty)
            await client.shutdown()
        }
    }

    @Test("a locked vault is locked, with the command that unlocks it")
    func locked() async throws {
        try await ClientBed.with { bed in
            let client = Self.client(bed)
            #expect(try bed.daemon.request("POST", "/v1/admin/lock").status == 200)
            await #expect {
                _ = try await client.accessToken(provider: "google", scopes: ["calendar.readonly"])
            } throws: { error in
                guard let e = error as? BrokerError else { return false }
                return e.code == .locked && e.hint == "credbroker vault unlock"
            }
            #expect(try await client.health().status == "locked")
            #expect(try bed.daemon.unlock().status == 200)
            #expect(try await client.health().status == "ok")
            _ = try await client.accessToken(provider: "google", scopes: ["calendar.readonly"])
            await client.shutdown()
        }
    }

    @Test("a dead grant is reauthRequired, with the login command in the hint")
    func deadGrant() async throws {
        try await ClientBed.with { bed in
            let client = Self.client(bed)
            _ = try await client.accessToken(provider: "google", scopes: ["calendar.readonly"])
            try await bed.armFault(#"{"kind": "invalid_grant", "provider": "google"}"#)
            // A scope set the daemon holds no token for, so it must refresh (a forced
            // refresh of a token it refreshed in the last 30 s gets that token back).
            await #expect {
                _ = try await client.accessToken(provider: "google", scopes: ["gmail.send"], forceRefresh: true)
            } throws: { error in
                guard let e = error as? BrokerError else { return false }
                return e.code == .reauthRequired && (e.hint ?? "").hasPrefix("credbroker login google --profile dev")
            }
            // Dead stays dead: nothing retries in a loop.
            await #expect {
                _ = try await client.accessToken(provider: "google", scopes: ["gmail.readonly"])
            } throws: { ($0 as? BrokerError)?.code == .reauthRequired }
            await client.shutdown()
        }
    }

    @Test("after the daemon stops the client says so, and after a restart it reconnects")
    func reconnects() async throws {
        try await ClientBed.with { bed in
            let client = Self.client(bed)
            let first = try await client.accessToken(provider: "google", scopes: ["calendar.readonly"])
            #expect(try await client.health().status == "ok")

            #expect(bed.daemon.stop() == 0)
            await #expect {
                _ = try await client.health()
            } throws: { error in
                guard let e = error as? BrokerError else { return false }
                return e.code == .unreachable && e.message.contains(bed.socketPath) && e.hint == "start it with credbrokerd --user or set CREDBROKER_SOCKET"
            }
            // The cached token does not need the daemon.
            #expect(try await client.accessToken(provider: "google", scopes: ["calendar.readonly"]) == first)

            try bed.daemon.start()
            #expect(try bed.daemon.unlock().status == 200)
            #expect(try await client.health().status == "ok")
            let other = try await client.accessToken(provider: "google", scopes: ["gmail.readonly"])
            #expect(other.scopes == ["https://www.googleapis.com/auth/gmail.readonly"])

            // A restart under a kept-alive connection: the next call goes through at once.
            try bed.restartDaemon()
            let again = try await client.accessToken(provider: "google", scopes: ["contacts.readonly"])
            #expect(again.scopes == ["https://www.googleapis.com/auth/contacts.readonly"])
            await client.shutdown()
        }
    }

    @Test("a connection the daemon closed while idle is replaced on the next call")
    func idleConnectionReplaced() async throws {
        // On its own thread: between connecting and sending, the client must be resumed
        // well within the daemon's 2 s idle timeout, which a cooperative pool blocked by
        // other tests did not do once (CI, release build).
        try await onOwnThread {
            let daemon = try await offload { try TestDaemon(config: "[limits]\nidle_timeout_seconds = 2\n") }
            defer { daemon.stop() }
            try await offload { try daemon.provision() }
            let client = BrokerClient(socketPath: daemon.socket, profile: "dev")
            let scopes = ["calendar.readonly", "gmail.readonly"]
            let token = try await client.accessToken(provider: "google", scopes: scopes)
            #expect(token.value == "ya29.test-token-canary")
            for round in 0..<2 {
                // Past the daemon's idle timeout: it has closed the kept-alive connection.
                try await Task.sleep(for: .milliseconds(3000))
                #expect(try await client.health().status == "ok", "round \(round)")
                let again = try await client.accessToken(provider: "google", scopes: scopes, forceRefresh: true)
                #expect(again.value == token.value)
            }
            await client.shutdown()
        }
    }

    @Test("profiles and API base URLs are the daemon's, and overrides win")
    func profilesAndBaseURLs() async throws {
        try await ClientBed.with { bed in
            let client = Self.client(bed, overrides: ["google": ["people": "http://127.0.0.1:9/people"]])
            let profiles = try await client.profiles()
            let dev = try #require(profiles.first { $0.name == "dev" })
            let google = try #require(dev.apps.first { $0.name == "google" })
            let microsoft = try #require(dev.apps.first { $0.name == "microsoft" })
            #expect(google.type == "google" && google.accounts == [Self.alice])
            #expect(microsoft.type == "microsoft" && microsoft.accounts == [Self.alice])
            for (api, url) in bed.googleBaseURLs { #expect(google.apiBaseURLs[api] == url, "\(api)") }
            #expect(microsoft.apiBaseURLs["graph"] == bed.graphBaseURL)

            #expect(try await client.apiBaseURL("calendar", provider: "google") == bed.googleBaseURLs["calendar"])
            #expect(try await client.apiBaseURL("gmail", provider: "google") == bed.googleBaseURLs["gmail"])
            #expect(try await client.apiBaseURL("people", provider: "google") == "http://127.0.0.1:9/people")
            #expect(try await client.apiBaseURL("graph", provider: "microsoft") == bed.graphBaseURL)
            await #expect {
                _ = try await client.apiBaseURL("drive", provider: "google")
            } throws: { ($0 as? BrokerError)?.code == .notFound }
            let health = try await client.health()
            #expect(health.status == "ok" && !health.version.isEmpty)
            await client.shutdown()
        }
    }

    @Test("100 concurrent callers on one client all get the right tokens")
    func concurrentCallers() async throws {
        try await ClientBed.with { bed in
            let client = Self.client(bed)
            let requests: [(provider: String, scopes: [String])] = [
                ("google", ["calendar.readonly"]),
                ("google", [Self.calendarReadonly]),
                ("google", ["gmail.readonly"]),
                ("google", ["contacts.readonly", "calendar.readonly"]),
                ("microsoft", ["Calendars.Read"]),
                ("microsoft", ["Mail.Read"]),
            ]
            enum Outcome: Sendable { case token(Int, AccessToken), health(String), profiles(Int) }
            let outcomes = try await withThrowingTaskGroup(of: Outcome.self) { group in
                for i in 0..<100 {
                    group.addTask {
                        switch i % 8 {
                        case 6: return .health(try await client.health().status)
                        case 7: return .profiles(try await client.profiles().count)
                        default:
                            let r = requests[i % 8]
                            return .token(i % 8, try await client.accessToken(provider: r.provider, scopes: r.scopes))
                        }
                    }
                }
                return try await group.reduce(into: [Outcome]()) { $0.append($1) }
            }
            #expect(outcomes.count == 100)
            var byRequest: [Int: Set<String>] = [:]
            for outcome in outcomes {
                switch outcome {
                case .health(let status): #expect(status == "ok")
                case .profiles(let count): #expect(count == 1)
                case .token(let index, let token):
                    let r = requests[index]
                    #expect(token.provider == r.provider && token.account == Self.alice)
                    #expect(Set(token.scopes).isSuperset(of: ScopeAliases.expandAll(r.scopes)))
                    byRequest[index, default: []].insert(token.value)
                }
            }
            // One token per scope set, the same the daemon hands out to anyone asking now.
            for (index, values) in byRequest {
                #expect(values.count == 1)
                let r = requests[index]
                let direct = try await bed.tokens(app: r.provider).accessToken(scopes: ScopeAliases.expandAll(r.scopes), forceRefresh: false)
                #expect(values.first == direct, "\(r)")
            }
            #expect(byRequest[0] == byRequest[1])
            #expect(byRequest[0] != byRequest[2])
            await client.shutdown()
        }
    }

    @Test("an AccessToken never shows its value when printed")
    func redacted() async throws {
        try await ClientBed.with { bed in
            let client = Self.client(bed)
            let token = try await client.accessToken(provider: "google", scopes: ["calendar.readonly"])
            var dumped = ""
            dump(token, to: &dumped)
            for text in ["\(token)", String(describing: token), String(reflecting: token), dumped] {
                #expect(!text.contains(token.value))
                #expect(!text.contains(String(token.value.dropFirst(13).prefix(8))))
            }
            await client.shutdown()
        }
    }

    @Test("BrokerTokenProvider drives APIClient: a call, a 401 then a fresh token, and the broker's errors unchanged")
    func tokenProvider() async throws {
        try await ClientBed.with { bed in
            let client = Self.client(bed)
            let tokens = BrokerTokenProvider(client: client, provider: "google")
            let viaProvider = try await tokens.accessToken(scopes: [Self.calendarReadonly], forceRefresh: false)
            #expect(viaProvider == (try await client.accessToken(provider: "google", scopes: ["calendar.readonly"])).value)

            let api = APIClient(tokens: tokens, transport: bed.transport, errors: PlainErrors())
            let url = bed.googleBaseURLs["calendar"]! + "/users/me/calendarList"
            #expect(try await api.send(APIRequest(method: "GET", url: url, scopes: [Self.calendarReadonly])).status == 200)
            try await bed.armFault(#"{"kind": "invalid_token", "target": "api", "count": 1}"#)
            #expect(try await api.send(APIRequest(method: "GET", url: url, scopes: [Self.calendarReadonly])).status == 200)

            #expect(try bed.daemon.request("POST", "/v1/admin/lock").status == 200)
            let other = APIClient(tokens: BrokerTokenProvider(client: client, provider: "google"), transport: bed.transport, errors: PlainErrors())
            await #expect {
                _ = try await other.send(APIRequest(method: "GET", url: bed.googleBaseURLs["gmail"]! + "/users/me/labels",
                                                    scopes: ["https://www.googleapis.com/auth/gmail.readonly"]))
            } throws: { ($0 as? BrokerError)?.code == .locked }
            await client.shutdown()
        }
    }
}
