public import BrokerHTTP
public import BrokerSandbox
import BrokerSystem
public import BrokerTesting
public import BrokerWire
import Foundation
public import Testing

/// The OAuth test bed: an in-process `credbroker sandbox`, the real `credbrokerd` with an
/// initialized vault and a `dev` profile, and an HTTP client that plays the browser.
/// Everything runs on loopback; `close()` stops the sandbox and the daemon.
public final class OAuthBed: @unchecked Sendable {
    public let sandbox: SandboxServer
    public let url: String
    public let daemon: TestDaemon
    public let http: CurlTransport

    public static let desktopClient = "sandbox-desktop.apps.googleusercontent.com"
    public static let desktopSecret = "GOCSPX-sandbox-desktop-secret"
    public static let tvClient = "sandbox-tv.apps.googleusercontent.com"
    public static let tvSecret = "GOCSPX-sandbox-tv-secret"
    public static let msPublic = "00000000-0000-4000-8000-00000000a001"
    public static let msConfidential = "00000000-0000-4000-8000-00000000a002"
    public static let msSecret = "sandbox-ms-confidential-secret"
    public static let zoomClient = "sandboxZoomOAuthClient"
    public static let zoomSecret = "sandbox-zoom-oauth-secret"
    public static let zoomS2S = "sandboxZoomS2SClient"
    public static let zoomS2SSecret = "sandbox-zoom-s2s-secret"

    /// A policy for root and the test's own uid: everything in dev.
    public static let openPolicy = """
        [[rule]]
        name = "dev-all"
        uids = [0, \(getuid())]
        profiles = ["dev"]
        providers = ["*"]
        scopes = ["*"]
        """

    /// `launcher`: see `TestDaemon.launcher`.
    public init(strict: Bool = false, policy: String = OAuthBed.openPolicy, config: String = "", environment: [String: String]? = nil,
                launcher: [String] = []) async throws {
        sandbox = try SandboxServer(options: SandboxOptions(strictRotation: strict, log: { _ in }))
        url = try await sandbox.start(port: 0)
        var options = HTTPTransportOptions()
        options.totalTimeout = .seconds(20)
        http = try CurlTransport(options: options)
        daemon = try TestDaemon(policy: policy, config: config, start: false)
        daemon.launcher = launcher
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("NOTIFY_SOCKET") && !$0.key.hasPrefix("LISTEN_") }
        for (k, v) in environment ?? [:] { env[k] = v }
        try daemon.start(environment: env)
        let p = Data(TestDaemon.passphrase.utf8).base64EncodedString()
        let created = try daemon.request("POST", "/v1/admin/init", json: "{\"passphrase\":\"\(p)\",\"kdf\":\"interactive\"}")
        #expect(created.status == 200)
        #expect(try daemon.request("PUT", "/v1/admin/profiles/dev").status == 201)
    }

    /// Runs `body` with a new bed and always closes it.
    public static func with(strict: Bool = false, policy: String = OAuthBed.openPolicy, config: String = "", environment: [String: String]? = nil,
                     launcher: [String] = [], _ body: (OAuthBed) async throws -> Void) async throws {
        let bed = try await OAuthBed(strict: strict, policy: policy, config: config, environment: environment, launcher: launcher)
        do {
            try await body(bed)
        } catch {
            await bed.close()
            throw error
        }
        await bed.close()
    }

    public func close() async {
        daemon.stop()
        await sandbox.stop()
    }

    // MARK: - The CLI

    /// Runs `credbroker` against the daemon; fails the test on a non-zero exit unless
    /// `expect` says otherwise.
    @discardableResult
    public func cli(_ arguments: [String], stdin: String? = nil, expect status: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessResult {
        let r = try daemon.cli(arguments, stdin: stdin)
        #expect(r.status == status, "credbroker \(arguments.joined(separator: " ")) exited \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
        return r
    }

    public func setupGoogleDesktop(name: String = "google", scopes: [String] = ["calendar.readonly", "gmail.readonly"]) throws {
        try cli(["setup", "google", "--name", name, "--profile", "dev", "--sandbox", url, "--client-id", Self.desktopClient,
                 "--client-secret-file", "-"] + scopes.flatMap { ["--scope", $0] }, stdin: Self.desktopSecret + "\n")
    }

    public func setupMicrosoft(name: String = "microsoft", confidential: Bool = false, scopes: [String] = ["Calendars.Read", "Mail.Read"]) throws {
        var args = ["setup", "microsoft", "--name", name, "--profile", "dev", "--sandbox", url, "--tenant", "sandbox-tenant",
                    "--client-id", confidential ? Self.msConfidential : Self.msPublic] + scopes.flatMap { ["--scope", $0] }
        args += confidential ? ["--client-secret-file", "-"] : ["--client-auth", "none"]
        try cli(args, stdin: confidential ? Self.msSecret + "\n" : nil)
    }

    /// `credbroker login APP` with the loopback listener, the test playing the browser:
    /// reads the authorization URL the CLI prints, follows the provider's redirect to the
    /// listener, and waits for the CLI to finish.
    ///
    /// - Parameters:
    ///   - openBrowser: leave out `--no-browser`, so the CLI starts `xdg-open` when
    ///     `environment` gives it a display (and, in tests, a fake `xdg-open` on its PATH).
    ///   - environment: added to (or, with nil, removed from) the CLI's environment.
    ///   - whileWaiting: called with the CLI's pid once it has printed the URL and waits for
    ///     the redirect.
    public func loginThroughBrowser(_ app: String, extra: [String] = [], expect status: Int32 = 0, openBrowser: Bool = false,
                                    environment: [String: String?] = [:], whileWaiting: ((Int32) throws -> Void)? = nil,
                                    sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        var env = ProcessInfo.processInfo.environment
        env["CREDBROKER_SOCKET"] = daemon.socket
        env["DISPLAY"] = nil
        env["WAYLAND_DISPLAY"] = nil
        for (name, value) in environment { env[name] = value }
        let login = try BackgroundProcess(BuiltProducts.path("credbroker"), ["login", app, "--profile", "dev"] + (openBrowser ? [] : ["--no-browser"]) + extra,
                                          environment: env, logDirectory: daemon.dir.path, name: "login-\(app)-\(UInt32.random(in: 0...UInt32.max))")
        defer { if login.isRunning { login.signal(SIGKILL); login.waitForExit(timeout: 5) } }
        var authorization: String?
        _ = BackgroundProcess.waitUntil(timeout: 20) {
            authorization = Self.firstURL(in: login.stderr, prefix: url)
            return authorization != nil || !login.isRunning
        }
        let authURL = try #require(authorization, "no authorization URL from credbroker login: \(login.stderr)", sourceLocation: sourceLocation)
        try whileWaiting?(login.pid)
        let consent = try await http.send(HTTPRequest(method: "GET", url: authURL))
        #expect(consent.status == 302, "the sandbox did not redirect: \(consent.status)", sourceLocation: sourceLocation)
        let callback = try #require(consent.header("Location"), sourceLocation: sourceLocation)
        let page = try await http.send(HTTPRequest(method: "GET", url: callback))
        let code = login.waitForExit(timeout: 30)
        #expect(code == status, "credbroker login exited \(code): \(login.stderr); browser page \(page.status)", sourceLocation: sourceLocation)
        return login.stderr
    }

    /// A login through the admin API (faster than the CLI; the CLI has its own tests):
    /// start, consent at the sandbox, complete with the code and state of the redirect.
    public func apiLogin(_ app: String, scopes: [String]? = nil) async throws {
        var body = #"{"profile":"dev","app":"\#(app)","redirect_uri":"http://127.0.0.1:9/cb""#
        if let scopes { body += ",\"scopes\":[" + scopes.map { "\"\($0)\"" }.joined(separator: ",") + "]" }
        let r = try daemon.request("POST", "/v1/admin/login/start", json: body + "}")
        #expect(r.status == 200, "\(String(decoding: r.body, as: UTF8.self))")
        let started = try JSONDecoder().decode(LoginStartResponse.self, from: Data(r.body))
        let consent = try await http.send(HTTPRequest(method: "GET", url: try #require(started.authorizationURL)))
        let items = URLComponents(string: try #require(consent.header("Location")))?.queryItems ?? []
        let code = try #require(items.first { $0.name == "code" }?.value)
        let state = try #require(items.first { $0.name == "state" }?.value)
        let done = try daemon.request("POST", "/v1/admin/login/complete", json: #"{"login_id":"\#(started.loginID)","state":"\#(state)","code":"\#(code)"}"#)
        #expect(done.status == 200, "\(String(decoding: done.body, as: UTF8.self))")
    }

    /// A URL with nothing after it may still be being written: only an ended one counts.
    public static func firstURL(in text: String, prefix: String) -> String? {
        guard let start = text.range(of: prefix) else { return nil }
        let rest = text[start.lowerBound...]
        guard let end = rest.firstIndex(where: { $0 == " " || $0 == "\n" || $0 == "\"" || $0 == ">" }) else { return nil }
        return String(rest[..<end])
    }

    // MARK: - The daemon and the sandbox

    public func token(_ app: String, scopes: [String], minValid: Int? = nil, force: Bool = false, account: String? = nil) throws -> BrokerWire.HTTPResponse {
        var body = "{\"profile\":\"dev\",\"provider\":\"\(app)\",\"scopes\":[\(scopes.map { "\"\($0)\"" }.joined(separator: ","))]"
        if let minValid { body += ",\"min_valid_seconds\":\(minValid)" }
        if force { body += ",\"force_refresh\":true" }
        if let account { body += ",\"account\":\"\(account)\"" }
        return try daemon.request("POST", "/v1/token", json: body + "}")
    }

    public func accessToken(_ response: BrokerWire.HTTPResponse) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["access_token"] as? String
    }

    @discardableResult
    public func control(_ method: String, _ path: String, _ json: String? = nil) async throws -> [String: Any] {
        let request = HTTPRequest(method: method, url: url + "/_sandbox/" + path, headers: json == nil ? [] : [HTTPHeaderField("Content-Type", "application/json")],
                                  body: json.map { Array($0.utf8) } ?? [])
        let r = try await http.send(request)
        #expect(r.status < 300, "sandbox control \(method) \(path): \(r.status) \(String(decoding: r.body, as: UTF8.self))")
        return (try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]) ?? [:]
    }

    public func counters() async throws -> [String: Any] { try await control("GET", "counters") }

    /// Token-endpoint requests the sandbox saw for a client, by grant type.
    public func tokenRequests(client: String, grantType: String) async throws -> Int {
        let c = try await counters()
        return ((c["token_requests"] as? [String: Any])?[client] as? [String: Any])?[grantType] as? Int ?? 0
    }

    /// Calls a sandbox API with a token; the status.
    public func api(_ path: String, token: String) async throws -> Int {
        try await http.send(HTTPRequest(method: "GET", url: url + path, headers: [HTTPHeaderField("Authorization", "Bearer \(token)")])).status
    }
}
