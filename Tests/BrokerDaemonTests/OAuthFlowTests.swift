import BrokerTestBed
import BrokerHTTP
import BrokerSystem
import BrokerTesting
import BrokerWire
import Foundation
import Testing

/// Every flow end to end through the real CLI and daemon, against the sandbox.
@Suite(.serialized, .enabled(if: Tools.have("setsid")))
struct OAuthFlowTests {
    static let calendarRead = "https://www.googleapis.com/auth/calendar.readonly"
    static let gmailRead = "https://www.googleapis.com/auth/gmail.readonly"

    @Test func googleLoopbackLoginNarrowedRefreshForceAndRevoke() async throws {
        try await OAuthBed.with { bed in
            try bed.setupGoogleDesktop()
            let out = try await bed.loginThroughBrowser("google")
            #expect(out.contains("alice@sandbox.test"), "\(out)")

            // The login's token carries every scope; a caller asking for calendar.readonly gets
            // a token narrowed to it by one refresh.
            let first = try bed.token("google", scopes: [Self.calendarRead])
            #expect(first.status == 200, "\(first.text)")
            let token = try #require(bed.accessToken(first))
            // Cached: no second refresh; force_refresh within 30 s neither. Asked at once,
            // with no suspension point since the first request: a parallel run that keeps
            // this task waiting for a thread cannot stretch the 30 s (CI did, once).
            #expect(try bed.token("google", scopes: [Self.calendarRead]).status == 200)
            let forced = try bed.token("google", scopes: [Self.calendarRead], force: true)
            #expect(forced.status == 200)
            #expect(bed.accessToken(forced) == token)

            #expect(try await bed.api("/google/calendar/v3/users/me/calendarList", token: token) == 200)
            #expect(try await bed.api("/google/gmail/v1/users/me/messages", token: token) == 403, "the narrowed token must not reach Gmail")
            #expect(try await bed.tokenRequests(client: OAuthBed.desktopClient, grantType: "refresh_token") == 1)

            // The CLI prints the token alone.
            let printed = try bed.cli(["token", "google", "--profile", "dev", "--scope", "calendar.readonly"])
            #expect(printed.stdout == token + "\n")

            // status knows the grant.
            let status = try bed.cli(["status", "--json"])
            #expect(status.stdout.contains("alice@sandbox.test"))
            #expect(status.stdout.contains("\"active\""))
            #expect(!status.stdout.contains(OAuthBed.desktopSecret))

            // Revoke: at the sandbox (the refresh token stops working) and in the vault.
            try bed.cli(["revoke", "google", "--profile", "dev", "--yes"])
            let gone = try bed.token("google", scopes: [Self.gmailRead])
            #expect(gone.status == 404, "\(gone.text)")
            #expect(try await bed.api("/google/calendar/v3/users/me/calendarList", token: token) == 401, "revocation at the provider ends the access token too")
            let audit = bed.daemon.auditText(containing: "\"route\":\"/v1/admin/revoke\"")
            #expect(audit.contains("\"route\":\"/v1/admin/revoke\""))
            #expect(!audit.contains(token))
        }
    }

    @Test func secretRotationKeepsTheOldSecretUntilTheNewOneWorks() async throws {
        try await OAuthBed.with { bed in
            try bed.setupGoogleDesktop()
            try await bed.apiLogin("google")
            // A wrong new secret: the provider refuses it and the refresh falls back to the old one.
            try bed.cli(["secret", "rotate", "google", "--profile", "dev", "--client-secret-file", "-"], stdin: "GOCSPX-not-the-secret\n")
            try await bed.control("DELETE", "counters")
            let r = try bed.token("google", scopes: [Self.calendarRead])
            #expect(r.status == 200, "\(r.text)")
            #expect(try await bed.tokenRequests(client: OAuthBed.desktopClient, grantType: "refresh_token") == 2, "the new secret, then the old")
            // The right new secret works at once.
            try bed.cli(["secret", "rotate", "google", "--profile", "dev", "--client-secret-file", "-"], stdin: OAuthBed.desktopSecret + "\n")
            try await bed.control("DELETE", "counters")
            #expect(try bed.token("google", scopes: [Self.gmailRead]).status == 200)
            #expect(try await bed.tokenRequests(client: OAuthBed.desktopClient, grantType: "refresh_token") == 1)
            // No secret in the audit log or the status.
            #expect(!(try String(contentsOfFile: bed.daemon.auditLog, encoding: .utf8)).contains("GOCSPX-"))
            #expect(!(try bed.cli(["status", "--json"]).stdout.contains("GOCSPX-")))
        }
    }

    @Test func manualCodeCompletesThePendingLogin() async throws {
        try await OAuthBed.with { bed in
            try bed.setupGoogleDesktop()
            // The listener gives up after 1 s; the pending login stays in the daemon.
            var env = ProcessInfo.processInfo.environment
            env["CREDBROKER_SOCKET"] = bed.daemon.socket
            let first = try Subprocess.run(BuiltProducts.path("credbroker"), ["login", "google", "--profile", "dev", "--no-browser", "--timeout", "1"], environment: env)
            #expect(first.status != 0)
            #expect(first.stderr.contains("--code"), "the timeout message names the --code fallback: \(first.stderr)")
            let url = try #require(OAuthBed.firstURL(in: first.stderr, prefix: bed.url))
            let consent = try await bed.http.send(HTTPRequest(method: "GET", url: url))
            let location = try #require(consent.header("Location"))
            let code = try #require(URLComponents(string: location)?.queryItems?.first { $0.name == "code" }?.value)
            // The code alone, typed in (stdin, never argv).
            try bed.cli(["login", "google", "--profile", "dev", "--code", "-"], stdin: code + "\n")
            #expect(try bed.token("google", scopes: [Self.calendarRead]).status == 200)
            // The same code again: the pending login is gone.
            let again = try bed.cli(["login", "google", "--profile", "dev", "--code", "-"], stdin: code + "\n", expect: 1)
            #expect(again.stderr.contains("no pending login"), "\(again.stderr)")
        }
    }

    @Test func stateIsCheckedSingleUseAndPerLogin() async throws {
        try await OAuthBed.with { bed in
            try bed.setupGoogleDesktop()
            try bed.setupGoogleDesktop(name: "google2")
            func start(_ app: String) async throws -> (id: String, code: String, state: String) {
                let r = try bed.daemon.request("POST", "/v1/admin/login/start", json: #"{"profile":"dev","app":"\#(app)","redirect_uri":"http://127.0.0.1:9/cb"}"#)
                #expect(r.status == 200, "\(r.text)")
                let started = try JSONDecoder().decode(LoginStartResponse.self, from: Data(r.body))
                let auth = try #require(started.authorizationURL)
                #expect(auth.contains("code_challenge_method=S256"))
                #expect(!auth.contains("code_verifier"))
                let consent = try await bed.http.send(HTTPRequest(method: "GET", url: auth))
                let items = URLComponents(string: try #require(consent.header("Location")))?.queryItems ?? []
                return (started.loginID, try #require(items.first { $0.name == "code" }?.value), try #require(items.first { $0.name == "state" }?.value))
            }
            func complete(_ id: String, _ state: String?, _ code: String) throws -> BrokerWire.HTTPResponse {
                var body = #"{"login_id":"\#(id)","code":"\#(code)""#
                if let state { body += #","state":"\#(state)""# }
                return try bed.daemon.request("POST", "/v1/admin/login/complete", json: body + "}")
            }
            let a = try await start("google")
            let b = try await start("google2")
            #expect(try complete(a.id, String?.none, a.code).status == 400, "a callback without state")
            #expect(try complete(a.id, (a.state.hasPrefix("x") ? "y" : "x") + a.state.dropFirst(), a.code).status == 400, "a wrong state")
            #expect(try complete(a.id, b.state, a.code).status == 400, "another login's state")
            let ok = try complete(a.id, a.state, a.code)
            #expect(ok.status == 200, "\(ok.text)")
            #expect(try complete(a.id, a.state, a.code).status == 404, "a replay")
            #expect(try complete(b.id, b.state, b.code).status == 200)
            // The login/complete answers carry no token and no secret.
            #expect(!ok.text.contains("access_token"))
        }
    }

    @Test func deviceFlowWithPendingAndSlowDown() async throws {
        try await OAuthBed.with { bed in
            try bed.cli(["setup", "google", "--name", "tv", "--profile", "dev", "--sandbox", bed.url, "--client-id", OAuthBed.tvClient,
                         "--client-secret-file", "-", "--scope", "calendar.readonly"], stdin: OAuthBed.tvSecret + "\n")
            try await bed.control("POST", "settings", #"{"device_poll_interval": 1}"#)
            var env = ProcessInfo.processInfo.environment
            env["CREDBROKER_SOCKET"] = bed.daemon.socket
            env["DISPLAY"] = nil
            let login = try BackgroundProcess(BuiltProducts.path("credbroker"), ["login", "tv", "--profile", "dev", "--device", "--no-browser"],
                                              environment: env, logDirectory: bed.daemon.dir.path, name: "device")
            defer { if login.isRunning { login.signal(SIGKILL); login.waitForExit(timeout: 5) } }
            var userCode: String?
            _ = BackgroundProcess.waitUntil(timeout: 20) {
                userCode = login.stderr.firstMatch(of: /[A-Z]{4}-[A-Z]{4}/).map { String($0.output) }
                return userCode != nil || !login.isRunning
            }
            let code = try #require(userCode, "no user code: \(login.stderr)")
            // The daemon polls: pending, pending, then slow_down (its interval grows by 5 s),
            // and after the approval, tokens.
            // Conditions, not pauses: a loaded machine may poll late.
            let deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
            var deadline = ContinuousClock.now + .seconds(30)
            while try await bed.tokenRequests(client: OAuthBed.tvClient, grantType: deviceGrant) < 2, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await bed.control("POST", "faults", #"{"kind": "slow_down", "count": 1}"#)
            deadline = ContinuousClock.now + .seconds(30)
            while !((try await bed.control("GET", "faults")["faults"] as? [Any])?.isEmpty ?? true), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await bed.control("POST", "device", #"{"user_code": "\#(code)", "action": "approve"}"#)
            #expect(login.waitForExit(timeout: 40) == 0, "\(login.stderr)")
            let polls = try await bed.tokenRequests(client: OAuthBed.tvClient, grantType: "urn:ietf:params:oauth:grant-type:device_code")
            #expect(polls >= 4, "pending, slow_down, then tokens: \(polls)")
            let faults = try await bed.control("GET", "faults")
            #expect((faults["faults"] as? [Any])?.isEmpty ?? true, "the slow_down was served: \(faults)")
            let r = try bed.token("tv", scopes: [Self.calendarRead])
            #expect(r.status == 200, "\(r.text)")
        }
    }

    @Test func jwtBearerServiceAccount() async throws {
        try await OAuthBed.with { bed in
            let key = bed.daemon.dir.file("sa.pem")
            let gen = try Subprocess.run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key])
            #expect(gen.status == 0, "\(gen.stderr)")
            let pub = try Subprocess.run("openssl", ["pkey", "-in", key, "-pubout"])
            let pem = try String(contentsOfFile: key, encoding: .utf8)
            let email = "robot@sandbox-project.iam.gserviceaccount.com"
            let register = try JSONSerialization.data(withJSONObject: ["email": email, "public_key_pem": pub.stdout, "key_id": "k1"])
            try await bed.control("POST", "service-accounts", String(decoding: register, as: UTF8.self))
            let file = try JSONSerialization.data(withJSONObject: ["type": "service_account", "client_email": email, "private_key": pem,
                                                                   "private_key_id": "k1", "client_id": "1234567890", "token_uri": "https://oauth2.googleapis.com/token"])
            try bed.daemon.dir.write("sa.json", String(decoding: file, as: UTF8.self))
            try bed.cli(["setup", "google", "--name", "robot", "--profile", "dev", "--sandbox", bed.url,
                         "--service-account-file", bed.daemon.dir.file("sa.json"), "--scope", "calendar.readonly"])
            let r = try bed.token("robot", scopes: [Self.calendarRead])
            #expect(r.status == 200, "\(r.text)")
            let token = try #require(bed.accessToken(r))
            #expect(try await bed.api("/google/calendar/v3/users/me/calendarList", token: token) == 200)
            #expect(try await bed.tokenRequests(client: email, grantType: "urn:ietf:params:oauth:grant-type:jwt-bearer") == 1)
            // The key never appears in status or the audit log.
            let status = try bed.cli(["status", "--json"])
            #expect(!status.stdout.contains("PRIVATE KEY"))
            #expect(!(try String(contentsOfFile: bed.daemon.auditLog, encoding: .utf8)).contains("PRIVATE KEY"))
        }
    }

    @Test func microsoftClientCredentialsAndZoomAccountCredentials() async throws {
        try await OAuthBed.with { bed in
            try bed.cli(["setup", "microsoft", "--name", "graph-app", "--profile", "dev", "--sandbox", bed.url, "--tenant", "sandbox-tenant",
                         "--client-id", OAuthBed.msConfidential, "--client-secret-file", "-", "--app-only"], stdin: OAuthBed.msSecret + "\n")
            let app = try bed.token("graph-app", scopes: ["https://graph.microsoft.com/.default"])
            #expect(app.status == 200, "\(app.text)")
            #expect(try await bed.tokenRequests(client: OAuthBed.msConfidential, grantType: "client_credentials") == 1)

            try bed.cli(["setup", "zoom", "--name", "zoom-s2s", "--profile", "dev", "--sandbox", bed.url,
                         "--client-id", OAuthBed.zoomS2S, "--client-secret-file", "-", "--account-id", "sandbox-account",
                         "--scope", "user:read:admin", "--scope", "meeting:read:admin"], stdin: OAuthBed.zoomS2SSecret + "\n")
            let zoom = try bed.token("zoom-s2s", scopes: ["user:read:admin"])
            #expect(zoom.status == 200, "\(zoom.text)")
            let token = try #require(bed.accessToken(zoom))
            #expect(try await bed.api("/zoom/v2/users/me", token: token) == 200)
        }
    }

    @Test func microsoftAndZoomUserLogins() async throws {
        try await OAuthBed.with(strict: true) { bed in
            try bed.setupMicrosoft()
            let out = try await bed.loginThroughBrowser("microsoft")
            #expect(out.contains("alice@sandbox.test"), "\(out)")
            // Strict rotation: each refresh presents the newest refresh token, exactly once.
            for scopes in [["https://graph.microsoft.com/Calendars.Read"], ["https://graph.microsoft.com/Mail.Read"],
                           ["https://graph.microsoft.com/Calendars.Read", "https://graph.microsoft.com/Mail.Read"]] {
                let r = try bed.token("microsoft", scopes: scopes)
                #expect(r.status == 200, "\(r.text)")
            }
            let refreshes = try await bed.counters()["refreshes"] as? [String: Int] ?? [:]
            #expect(refreshes.count == 3 && refreshes.values.allSatisfy { $0 == 1 }, "\(refreshes)")
            // The token works at Graph.
            let r = try bed.token("microsoft", scopes: ["https://graph.microsoft.com/Calendars.Read"])
            #expect(try await bed.api("/microsoft/graph/v1.0/me/events", token: try #require(bed.accessToken(r))) == 200)

            try bed.cli(["setup", "zoom", "--profile", "dev", "--sandbox", bed.url, "--client-id", OAuthBed.zoomClient,
                         "--client-secret-file", "-", "--scope", "user:read", "--scope", "meeting:read"], stdin: OAuthBed.zoomSecret + "\n")
            _ = try await bed.loginThroughBrowser("zoom")
            let zoom = try bed.token("zoom", scopes: ["user:read"], minValid: 3600)
            #expect(zoom.status == 200, "\(zoom.text)")
            #expect(try await bed.api("/zoom/v2/users/me", token: try #require(bed.accessToken(zoom))) == 200)
        }
    }
}

enum Tools {
    static func have(_ name: String) -> Bool {
        ["/usr/bin/", "/bin/", "/usr/local/bin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + name) }
    }
}
