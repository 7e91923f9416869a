import BrokerTestBed
import BrokerHTTP
import BrokerSystem
import BrokerTesting
import BrokerWire
import Foundation
import Testing

/// The refresher against the sandbox: single flight, rotation and crashes, faults, and
/// hostile token responses.
@Suite(.serialized, .enabled(if: Tools.have("setsid")))
struct RefreshEngineTests {
    static let calendarRead = "https://www.googleapis.com/auth/calendar.readonly"
    static let gmailRead = "https://www.googleapis.com/auth/gmail.readonly"
    static let msCalendars = "https://graph.microsoft.com/Calendars.Read"

    /// Sends every body on its own connection before reading any answer, so the daemon
    /// has them all at once.
    static func concurrently(_ daemon: TestDaemon, _ bodies: [String]) throws -> [BrokerWire.HTTPResponse] {
        var sockets: [SocketBox] = []
        for body in bodies {
            let s = try UnixSocket.connect(to: daemon.socket, timeoutSeconds: 60)
            try s.send(HTTPRequestWriter.request(method: "POST", path: "/v1/token", body: Array(body.utf8), headers: [("Connection", "close")]))
            sockets.append(SocketBox(s))
        }
        var out: [BrokerWire.HTTPResponse] = []
        for box in sockets {
            var parser = HTTPResponseParser()
            while true {
                let chunk = try box.socket.receive()
                if chunk.isEmpty { throw HTTPFramingError(message: "closed before a response") }
                parser.append(chunk)
                if let r = try parser.next() { out.append(r); break }
            }
        }
        return out
    }

    static func body(_ app: String, _ scopes: [String], minValid: Int? = nil) -> String {
        "{\"profile\":\"dev\",\"provider\":\"\(app)\",\"scopes\":[\(scopes.map { "\"\($0)\"" }.joined(separator: ","))]"
            + (minValid.map { ",\"min_valid_seconds\":\($0)" } ?? "") + "}"
    }

    static func refreshCount(_ bed: OAuthBed) async throws -> Int {
        ((try await bed.counters()["refreshes"] as? [String: Int]) ?? [:]).values.reduce(0, +)
    }

    @Test func twoHundredRequestsOnAnExpiredTokenMakeOneRefresh() async throws {
        try await OAuthBed.with { bed in
            try bed.setupGoogleDesktop()
            // The login's token (stored with the grant, for all its scopes) lives 2 s; nobody
            // uses it, so nothing refreshes it ahead of expiry.
            try await bed.control("POST", "settings", #"{"access_token_lifetime": 2}"#)
            try await bed.apiLogin("google")
            let status = try JSONDecoder().decode(AdminStatusResponse.self, from: Data(bed.daemon.request("GET", "/v1/admin/status").body))
            let scopes = try #require(status.profiles.first { $0.name == "dev" }?.grants.first?.scopes)
            try await Task.sleep(for: .milliseconds(2500))
            try await bed.control("POST", "settings", #"{"access_token_lifetime": 3600}"#)
            try await bed.control("DELETE", "counters")
            // The refresh takes 300 ms at the provider: every request arrives while it runs.
            try await bed.control("POST", "faults", #"{"kind": "delay", "delay_ms": 300, "count": 1}"#)
            let answers = try Self.concurrently(bed.daemon, Array(repeating: Self.body("google", scopes), count: 200))
            #expect(answers.allSatisfy { $0.status == 200 }, "\(answers.filter { $0.status != 200 }.prefix(3).map(\.text))")
            #expect(Set(answers.compactMap { bed.accessToken($0) }).count == 1, "every caller gets the one new token")
            #expect(try await Self.refreshCount(bed) == 1)
        }
    }

    @Test func tenScopeSetsNeverRefreshOneTokenTwiceAtOnce() async throws {
        try await OAuthBed.with { bed in
            try bed.setupGoogleDesktop(scopes: ["calendar.readonly", "gmail.readonly", "contacts.readonly"])
            try await bed.apiLogin("google")
            try await bed.control("DELETE", "counters")
            try await bed.control("POST", "faults", #"{"kind": "delay", "delay_ms": 100, "count": 20}"#)
            let all = [Self.calendarRead, Self.gmailRead, "https://www.googleapis.com/auth/contacts.readonly", "openid", "email"]
            var sets: [[String]] = []
            for mask in 1..<32 where sets.count < 10 && mask.nonzeroBitCount <= 3 { sets.append(all.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)) }
            let answers = try Self.concurrently(bed.daemon, sets.map { Self.body("google", $0) })
            #expect(answers.allSatisfy { $0.status == 200 }, "\(answers.filter { $0.status != 200 }.prefix(3).map(\.text))")
            let counters = try await bed.counters()
            #expect(counters["max_concurrent_token_requests"] as? Int == 1, "\(counters)")
            #expect(try await Self.refreshCount(bed) == 10)
        }
    }

    /// SIGKILL around a refresh under strict rotation; after a restart the grant works or
    /// ends in a clean reauth_required, and never loops.
    @Test(arguments: ["before-send", "in-flight", "after-response", "after-commit"])
    func killAroundARotatingRefresh(point: String) async throws {
        try await OAuthBed.with(strict: true) { bed in
            try bed.setupMicrosoft()
            try await bed.apiLogin("microsoft")
            bed.daemon.stop()
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("NOTIFY_SOCKET") && !$0.key.hasPrefix("LISTEN_") }
            if point != "in-flight" { env["CREDBROKERD_TEST_CRASH_AT"] = point }
            try bed.daemon.start(environment: env)
            #expect(try bed.daemon.unlock().status == 200)
            try await bed.control("DELETE", "counters")
            var crashAnswer: BrokerWire.HTTPResponse?
            if point == "in-flight" {
                // The provider holds its answer; the daemon dies while waiting for it. The
                // blocking request runs on its own thread, not the cooperative pool: there it
                // held one of the two threads for the whole delay, and with another suite on
                // the other, this loop could not look before the answer came (a delay long
                // past any scheduling stall keeps the window open).
                try await bed.control("POST", "faults", #"{"kind": "delay", "delay_ms": 20000, "count": 1}"#)
                let daemon = bed.daemon
                let request = Task { try? await offload { try daemon.request("POST", "/v1/token", json: Self.body("microsoft", [Self.msCalendars])) } }
                var arrived = false
                let deadline = ContinuousClock.now + .seconds(15)
                while !arrived, ContinuousClock.now < deadline {
                    arrived = (try await bed.counters()["in_flight_token_requests"] as? Int ?? 0) > 0
                    if !arrived { try await Task.sleep(for: .milliseconds(50)) }
                }
                let counters = arrived ? [:] : try await bed.counters()
                #expect(arrived, "the refresh never reached the provider: \(counters)")
                bed.daemon.process?.signal(SIGKILL)
                crashAnswer = await request.value
            } else {
                crashAnswer = try? bed.daemon.request("POST", "/v1/token", json: Self.body("microsoft", [Self.msCalendars]))
            }
            #expect(bed.daemon.process?.waitForExit(timeout: 10) == SIGKILL || bed.daemon.process?.isRunning == false)
            // No access token reached a client in the crashed run.
            #expect(crashAnswer == nil || crashAnswer!.status != 200, "\(crashAnswer?.text ?? "")")
            try await bed.control("DELETE", "faults")

            bed.daemon.process = nil
            try bed.daemon.start()
            #expect(try bed.daemon.unlock().status == 200)
            let after = try bed.token("microsoft", scopes: [Self.msCalendars])
            switch point {
            case "before-send", "after-commit":
                // Nothing was lost: the refresh token in the vault is the current one.
                #expect(after.status == 200, "\(point): \(after.text)")
            default:
                // The provider rotated the token but the daemon never stored the new one:
                // the old one is refused, the grant is dead, and the answer says how to fix it.
                #expect(after.status == 200 || after.status == 409, "\(point): \(after.text)")
                if after.status == 409 { #expect(after.text.contains("credbroker login microsoft --profile dev")) }
            }
            // Never a retry loop: a second request costs the provider nothing more when dead.
            let sent = try await Self.refreshCount(bed)
            let again = try bed.token("microsoft", scopes: [Self.msCalendars])
            #expect(again.status == after.status)
            #expect(try await Self.refreshCount(bed) == sent)
            if after.status == 409 {
                let status = try bed.cli(["status", "--json"])
                #expect(status.stdout.contains("\"dead\""))
                #expect(status.stdout.contains("credbroker login microsoft --profile dev"))
            }
        }
    }

    @Test func rateLimitHonoursRetryAfterAndServerErrorsBackOff() async throws {
        try await OAuthBed.with { bed in
            try bed.setupGoogleDesktop()
            try await bed.apiLogin("google")
            try await bed.control("POST", "faults", #"{"kind": "rate_limit", "retry_after": 7, "count": 1}"#)
            let limited = try bed.token("google", scopes: [Self.calendarRead])
            #expect(limited.status == 503, "\(limited.text)")
            let retry = Int(limited.headers.first { $0.0.lowercased() == "retry-after" }?.1 ?? "") ?? 0
            #expect(retry >= 6 && retry <= 8, "Retry-After \(retry)")
            // Within the wait nothing reaches the provider.
            let before = try await bed.tokenRequests(client: OAuthBed.desktopClient, grantType: "refresh_token")
            #expect(try bed.token("google", scopes: [Self.calendarRead]).status == 503)
            #expect(try await bed.tokenRequests(client: OAuthBed.desktopClient, grantType: "refresh_token") == before)

            // A new login clears the wait; then a 500, a 503 and a dropped connection back off
            // too. (libcurl resends a request once when a reused connection turns out dead
            // before any answer, so the drop is armed for both attempts.)
            for kind in ["server_error", "unavailable", "drop"] {
                try await bed.apiLogin("google")
                try await bed.control("DELETE", "faults")
                try await bed.control("POST", "faults", #"{"kind": "\#(kind)", "count": \#(kind == "drop" ? 2 : 1)}"#)
                let failed = try bed.token("google", scopes: [Self.gmailRead])
                #expect(failed.status == 503, "\(kind): \(failed.text)")
                let sent = try await bed.tokenRequests(client: OAuthBed.desktopClient, grantType: "refresh_token")
                #expect(try bed.token("google", scopes: [Self.gmailRead]).status == 503)
                #expect(try await bed.tokenRequests(client: OAuthBed.desktopClient, grantType: "refresh_token") == sent, "\(kind): no request during the backoff")
            }
            // After the backoff, the refresh succeeds.
            try await bed.control("DELETE", "faults")
            let recovered = BackgroundProcess.waitUntil(timeout: 20) { (try? bed.token("google", scopes: [Self.gmailRead]))?.status == 200 }
            #expect(recovered)
        }
    }

    @Test func aSlowProviderTimesOut() async throws {
        try await OAuthBed.with(config: "[oauth]\ntotal_timeout_seconds = 1\n") { bed in
            try bed.setupGoogleDesktop()
            try await bed.apiLogin("google")
            // The provider would answer after 20 s; the daemon gives up after 1 s. The bound
            // leaves a loaded machine room and still fails if the timeout did not fire.
            try await bed.control("POST", "faults", #"{"kind": "delay", "delay_ms": 20000, "count": 1}"#)
            let started = Date()
            let r = try bed.token("google", scopes: [Self.calendarRead])
            #expect(r.status == 503, "\(r.text)")
            #expect(r.text.lowercased().contains("time"), "\(r.text)")
            #expect(Date().timeIntervalSince(started) < 15)
        }
    }

    @Test func invalidGrantMarksTheGrantDeadOnce() async throws {
        try await OAuthBed.with { bed in
            try bed.setupGoogleDesktop()
            try await bed.apiLogin("google")
            try await bed.control("POST", "revoke", #"{"client_id": "\#(OAuthBed.desktopClient)", "user": "alice@sandbox.test"}"#)
            let dead = try bed.token("google", scopes: [Self.calendarRead])
            #expect(dead.status == 409, "\(dead.text)")
            let error = try JSONDecoder().decode(WireErrorEnvelope.self, from: Data(dead.body)).error
            #expect(error.code == .reauthRequired)
            #expect(error.hint?.contains("credbroker login google --profile dev") == true)
            let sent = try await bed.tokenRequests(client: OAuthBed.desktopClient, grantType: "refresh_token")
            for scopes in [[Self.calendarRead], [Self.gmailRead], [Self.calendarRead, Self.gmailRead]] {
                #expect(try bed.token("google", scopes: scopes).status == 409)
            }
            #expect(try await bed.tokenRequests(client: OAuthBed.desktopClient, grantType: "refresh_token") == sent, "a dead grant is never retried")
            let status = try bed.cli(["status", "--json"])
            #expect(status.stdout.contains("\"dead\""))
            let audit = bed.daemon.auditText(containing: "grant_dead")
            #expect(audit.contains("grant_dead"))
            // A new login revives it.
            try await bed.apiLogin("google")
            #expect(try bed.token("google", scopes: [Self.calendarRead]).status == 200)
        }
    }

    @Test(arguments: ["oversized", "malformed_json", "expires_in_zero", "expires_in_negative", "expires_in_huge", "wrong_token_type", "extra_scopes"])
    func hostileTokenResponsesAreNeverStoredOrHandedOut(kind: String) async throws {
        try await OAuthBed.with { bed in
            try bed.setupGoogleDesktop()
            try await bed.apiLogin("google")
            try await bed.control("POST", "faults", #"{"kind": "\#(kind)", "count": 1}"#)
            let r = try bed.token("google", scopes: [Self.calendarRead])
            #expect(r.status == 503, "\(kind): \(r.text)")
            #expect(!r.text.contains("access_token"))
            // Nothing was cached or stored: after a restart the next refresh is a real one.
            bed.daemon.stop()
            bed.daemon.process = nil
            try bed.daemon.start()
            #expect(try bed.daemon.unlock().status == 200)
            let before = try await Self.refreshCount(bed)
            let ok = try bed.token("google", scopes: [Self.calendarRead])
            #expect(ok.status == 200, "\(kind): \(ok.text)")
            #expect(try await Self.refreshCount(bed) == before + 1)
            let audit = bed.daemon.auditText(containing: "response")
            #expect(audit.contains("invalid") || audit.contains("response"), "\(kind): the failure is audited")
        }
    }
}

/// `{"error": {...}}`
struct WireErrorEnvelope: Decodable {
    var error: WireError
}
