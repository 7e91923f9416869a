import BrokerCLI
import BrokerTesting
import Foundation
import Testing

/// `login`'s checks without a terminal or a daemon, and the `--code` parser.
@Suite("login: arguments")
struct LoginArgumentTests {
    @Test("--code, --device, --redirect-uri and --timeout are checked before anything runs")
    func flagCombinations() throws {
        let cases: [([String], String)] = [
            (["login", "google", "--code", "abc", "--device"], "--code and --device exclude each other"),
            (["login", "google", "--code", "abc", "--scope", "calendar"], "--code and --scope exclude each other"),
            (["login", "google", "--device", "--redirect-uri", "http://localhost:8080/cb"], "--device and --redirect-uri exclude each other"),
            (["login", "google", "--redirect-uri", "https://app.example/cb"], "must be http://127.0.0.1:PORT/PATH"),
            (["login", "google", "--redirect-uri", "http://localhost/cb"], "must be http://127.0.0.1:PORT/PATH"),
            (["login", "google", "--timeout", "0"], "--timeout must be 1 to 3600"),
        ]
        for (arguments, expected) in cases {
            let r = try credbrokerWithoutDaemon(arguments)
            #expect(r.status == 64, "\(arguments): exit \(r.status): \(r.stderr)")
            #expect(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
        }
    }

    @Test("--code takes a bare code, an escaped one, or the whole redirect address")
    func manualCode() {
        #expect(ManualCode.parse(" 4/0AbC-d_e \n") == .code("4/0AbC-d_e"))
        #expect(ManualCode.parse("4%2F0AbC") == .code("4/0AbC"))
        #expect(ManualCode.parse("http://127.0.0.1:5000/callback?state=s&code=4%2F0AbC&scope=x") == .code("4/0AbC"))
        #expect(ManualCode.parse("http://localhost:8080/oauth/callback?code=abc#frag") == .code("abc"))
        #expect(ManualCode.parse("http://127.0.0.1/cb?error=access_denied&error_description=no+thanks&state=s")
            == .providerError("access_denied", description: "no thanks"))
        if case .invalid = ManualCode.parse("") {} else { Issue.record("empty code accepted") }
        if case .invalid = ManualCode.parse("http://127.0.0.1/cb?code=a&code=b") {} else { Issue.record("two codes accepted") }
        if case .invalid = ManualCode.parse("two words") {} else { Issue.record("two words accepted") }
    }
}

/// `login` against a fake daemon that also plays the browser: the loopback listener, the
/// provider's errors, the timeout, `--code` and `--device`.
@Suite("login against a fake daemon", .serialized)
struct LoginCommandTests {
    @Test("login: the browser's stray and forged requests are answered and ignored; the real redirect completes the login once")
    func browserLogin() throws {
        let d = try FakeDaemon(scenario: ["browser": [
            "/favicon.ico", "{path}?code=forged&state=wrong", "{path}?code=forged", "{path}?state={state}&code=good-code", "{path}?state={state}&code=good-code",
        ]])
        let r = try d.cli(["login", "google", "--profile", "dev", "--scope", "calendar.readonly", "--account", "alice@sandbox.test", "--timeout", "30"])
        #expect(r.status == 0, "\(r.stderr)")
        let start = try #require(d.requests("/v1/admin/login/start").first?["body"] as? [String: Any])
        let redirect = try #require(start["redirect_uri"] as? String)
        #expect(redirect.hasPrefix("http://127.0.0.1:") && redirect.hasSuffix("/callback"))
        #expect(start["scopes"] as? [String] == ["https://www.googleapis.com/auth/calendar.readonly"] && start["account"] as? String == "alice@sandbox.test")
        let completes = d.requests("/v1/admin/login/complete")
        #expect(completes.count == 1, "only the real callback reaches the daemon")
        let body = try #require(completes.first?["body"] as? [String: Any])
        #expect(body["login_id"] as? String == "login-1" && body["state"] as? String == "state-1234" && body["code"] as? String == "good-code")
        #expect(BackgroundProcess.waitUntil(timeout: 20) { d.browser.count == 5 })
        let statuses = d.browser.compactMap { $0["status"] as? Int }
        #expect(statuses == [404, 400, 400, 200, 0], "\(d.browser)")  // the last one: nobody listens after the login
        #expect(!d.browser.contains { ($0["body"] as? String)?.contains("good-code") == true })
        #expect(r.stderr.contains("https://accounts.example.test/auth?"), "the URL is printed")
        #expect(r.stderr.contains("logged in: google account alice@sandbox.test in profile dev (scopes calendar.readonly)"))
    }

    @Test("login: a provider error is reported to the daemon and ends the login with exit 1")
    func providerError() throws {
        let d = try FakeDaemon(scenario: ["browser": ["{path}?error=access_denied&error_description=The+user+declined&state={state}"]])
        let r = try d.cli(["login", "google", "--profile", "dev", "--timeout", "30"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("the provider refused the login: access_denied: The user declined"), "\(r.stderr)")
        let body = try #require(d.requests("/v1/admin/login/complete").first?["body"] as? [String: Any])
        #expect(body["error"] as? String == "access_denied" && body["code"] as? String == "" && body["state"] as? String == "state-1234")
    }

    @Test("login: without a state in the URL, the daemon's refusal of a callback keeps the listener waiting")
    func daemonChecksState() throws {
        let d = try FakeDaemon(scenario: ["state_in_url": false, "browser": ["{path}?code=forged&state=wrong", "{path}?code=good-code&state={state}"]])
        let r = try d.cli(["login", "google", "--profile", "dev", "--timeout", "30"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(d.requests("/v1/admin/login/complete").count == 2)
        #expect(r.stderr.contains("credbrokerd refused a callback: no pending login with this state; still waiting"))
        // The fake browser logs each answer from its own thread, after the CLI has sent it.
        #expect(BackgroundProcess.waitUntil(timeout: 20) { d.browser.count == 2 })
        #expect(d.browser.compactMap { $0["status"] as? Int } == [400, 200])
    }

    @Test("login: a timeout ends it with the --code hint")
    func timeout() throws {
        let d = try FakeDaemon()
        let started = Date()
        let r = try d.cli(["login", "google", "--profile", "dev", "--timeout", "1", "--no-browser"])
        #expect(r.status == 1)
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(r.stderr.contains("no redirect from the browser within 1 s"))
        #expect(r.stderr.contains("credbroker: hint:") && r.stderr.contains("--code -"))
    }

    @Test("login --code: from standard input, bare or as the redirect address")
    func manualCode() throws {
        let d = try FakeDaemon()
        let r = try d.cli(["login", "google", "--profile", "dev", "--code", "-"], stdin: "http://127.0.0.1:8080/oauth/callback?state=x&code=good-code\n")
        #expect(r.status == 0, "\(r.stderr)")
        let body = try #require(d.requests("/v1/admin/login/complete").first?["body"] as? [String: Any])
        #expect(body["profile"] as? String == "dev" && body["app"] as? String == "google" && body["code"] as? String == "good-code")
        #expect(body["login_id"] == nil && body["state"] == nil)
        let wrong = try d.cli(["login", "google", "--profile", "dev", "--code", "bad-code"])
        #expect(wrong.status == 1 && wrong.stderr.contains("credbroker: error: the provider refused the code"))
    }

    @Test("login --device: prints the code and polls until done")
    func deviceLogin() throws {
        let d = try FakeDaemon(scenario: ["device_polls": 1])
        let r = try d.cli(["login", "google", "--profile", "dev", "--device"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("open https://example.test/device on any device and enter the code: ABCD-EFGH"))
        #expect(d.requests("/v1/admin/login/start").first?["body"].flatMap { ($0 as? [String: Any])?["device"] as? Bool } == true)
        #expect(d.requests("/v1/admin/login/poll").count == 2)
        #expect(r.stderr.contains("logged in: google account alice@sandbox.test"))
    }

    @Test("the daemon's errors keep their exit codes (4 locked)")
    func lockedExitCode() throws {
        let d = try FakeDaemon(scenario: ["error": ["route": "/v1/admin/login/start", "status": 423, "code": "locked", "message": "vault is locked"]])
        let r = try d.cli(["login", "google", "--profile", "dev", "--timeout", "5"])
        #expect(r.status == 4)
        #expect(r.stderr.contains("credbroker: error: vault is locked"))
    }
}
