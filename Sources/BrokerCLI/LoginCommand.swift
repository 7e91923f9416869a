import ArgumentParser
import BrokerCore
import BrokerSystem
import BrokerWire
import Foundation

/// `credbroker login APP`: a user's OAuth login, run by the daemon (which holds the client
/// secret and the PKCE verifier, and exchanges the code): the CLI opens the browser, listens
/// for the redirect on 127.0.0.1 and hands code and state back (DESIGN.md "Logins").
struct LoginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Log in to a provider app in the browser (or with a device code) and store the grant.",
        discussion: """
            By default credbroker listens on 127.0.0.1 on a free port, opens the authorization \
            URL in the browser (xdg-open, when there is a desktop; the URL is printed in any \
            case) and waits for the provider's redirect. --redirect-uri listens on a fixed \
            loopback URI the app is registered with instead.

            When the browser runs on another machine, the redirect to 127.0.0.1 fails there: \
            copy the address the browser shows (or just its code= value) and run, while the \
            login is pending, "credbroker login APP --code -" and paste it.

            --device uses the device-code flow: open the URL shown on any device and enter the \
            code; the daemon polls the provider.
            """)

    @OptionGroup var daemon: SocketOption
    @OptionGroup var profileOption: ProfileOption

    @Argument(help: "The provider app (google, microsoft, or an app name such as google-work).")
    var app: String

    @Option(name: .long, help: ArgumentHelp("The account to log in as (sent to the provider as a hint, checked afterwards).", valueName: "email"))
    var account: String?

    @Option(name: .long, help: ArgumentHelp("A scope (alias or full string); repeatable, commas accepted (default: the app's scopes).", valueName: "scope"))
    var scope: [String] = []

    @Flag(name: .long, help: "Use the device-code flow (no browser on this machine needed).")
    var device = false

    @Flag(name: .customLong("no-browser"), help: "Do not open a browser; only print the URL.")
    var noBrowser = false

    @Option(name: .customLong("redirect-uri"), help: ArgumentHelp("Listen on this fixed loopback redirect URI (http://localhost:PORT/PATH or http://127.0.0.1:PORT/PATH).", valueName: "uri"))
    var redirectURI: String?

    @Option(name: .long, help: ArgumentHelp("Give up after this many seconds (default: 300; device logins: the code's lifetime).", valueName: "seconds"))
    var timeout: Int?

    @Option(name: .long, help: ArgumentHelp("Complete a pending login with this authorization code, or the redirect URL it came in (- reads it from standard input).", valueName: "code"))
    var code: String?

    static let defaultTimeoutSeconds = 300

    func validate() throws {
        try RecordName.check(app, what: "app name")
        try RecordName.check(profileOption.resolved(), what: "profile")
        if code != nil {
            for (flag, set) in [("--device", device), ("--scope", !scope.isEmpty), ("--account", account != nil), ("--redirect-uri", redirectURI != nil), ("--timeout", timeout != nil)] where set {
                throw ValidationError("--code and \(flag) exclude each other (--code completes a login already started)")
            }
        }
        if device && redirectURI != nil { throw ValidationError("--device and --redirect-uri exclude each other") }
        if let timeout, !(1...3600).contains(timeout) { throw ValidationError("--timeout must be 1 to 3600 seconds") }
        if let redirectURI {
            do { _ = try RedirectEndpoint.parse(redirectURI) } catch { throw ValidationError(error.message) }
        }
    }

    var scopes: [String]? {
        let expanded = ScopeAliases.expandAll(scope)
        return expanded.isEmpty ? nil : expanded
    }

    func run() throws {
        // No process hardening here, unlike setup: the CLI holds no secret, only an
        // authorization code that is single-use and worthless without the PKCE verifier in
        // the daemon; and the browser xdg-open may start would inherit the limits.
        let profile = profileOption.resolved()
        let result: LoginResult
        if let code {
            result = try completeManually(code, profile: profile)
        } else if device {
            result = try deviceLogin(profile: profile)
        } else {
            result = try browserLogin(profile: profile)
        }
        Console.info(Self.successLine(result, profile: profile, app: app))
    }

    static func successLine(_ result: LoginResult, profile: String, app: String) -> String {
        let scopes = (result.scopes ?? []).map { ScopeAliases.alias(for: $0) ?? $0 }
        let scopeText = scopes.isEmpty ? "" : " (scopes \(scopes.joined(separator: " ")))"
        return "logged in: \(result.app.isEmpty ? app : result.app) account \(result.account ?? "unknown") in profile \(result.profile.isEmpty ? profile : result.profile)\(scopeText)"
    }

    // MARK: - browser login with the loopback listener

    func browserLogin(profile: String) throws -> LoginResult {
        let endpoint = try redirectURI.map { uri throws(CLIError) in try RedirectEndpoint.parse(uri) } ?? .ephemeral
        // Bind first: the redirect URI with its port goes into login/start.
        var server = try LoginRedirectServer(endpoint: endpoint)
        let start = LoginStartRequest(profile: profile, app: app, scopes: scopes, account: account, redirectURI: server.redirectURI)
        let started = try DaemonClient.call(socket: daemon.socket, "POST", "/v1/admin/login/start", body: start, as: LoginStartResponse.self)
        guard let url = started.authorizationURL else {
            throw CLIError(message: "credbrokerd started the login without an authorization URL")
        }
        if let used = started.redirectURI, used != server.redirectURI {
            // The daemon used the app's registered redirect URI: listen there when it is a
            // loopback one, else the code must be typed in.
            server.close()
            guard let fixed = try? RedirectEndpoint.parse(used) else {
                Console.info("the app redirects to \(used), which this machine cannot listen on")
                Console.info("open this URL in a browser to log in to \(app):")
                Console.stderr(url)
                throw CLIError(message: "the login was started but cannot be completed here automatically",
                               hint: "after logging in, copy the code= value of the address the browser lands on and run \"credbroker login \(app) --profile \(profile) --code -\"")
            }
            server = try LoginRedirectServer(endpoint: fixed)
        }
        server.expectedState = LoginRedirectServer.state(ofAuthorizationURL: url)
        Console.info("open this URL in a browser to log in to \(app) (waiting up to \(timeout ?? Self.defaultTimeoutSeconds) s for the redirect to \(server.redirectURI)):")
        Console.stderr(url)
        if !noBrowser && Browser.isAvailable() {
            if !Browser.open(url) { Console.warning("could not start xdg-open; open the URL yourself") }
        }
        let deadline = ContinuousClock.now + .seconds(timeout ?? Self.defaultTimeoutSeconds)
        var lastRejection: CLIError?
        while let callback = try server.next(until: deadline) {
            switch callback.outcome {
            case .code(let code, let state):
                let request = LoginCompleteRequest(loginID: started.loginID, state: state, code: code)
                let result: LoginResult
                do {
                    result = try DaemonClient.call(socket: daemon.socket, "POST", "/v1/admin/login/complete", body: request, as: LoginResult.self)
                } catch let error as CLIError {
                    callback.finish(success: false)
                    // Without the state from the URL, a wrong state is only found out by the
                    // daemon: keep waiting for the real redirect. With it, the state matched,
                    // so the daemon's refusal is the login's.
                    if server.expectedState == nil && error.wireCode == .badRequest {
                        Console.warning("credbrokerd refused a callback: \(error.message); still waiting")
                        lastRejection = error
                        continue
                    }
                    server.close()
                    throw error
                }
                server.close()
                guard result.status == "done" else {
                    callback.finish(success: false)
                    throw CLIError(message: "the login did not complete: \(result.message ?? result.status)")
                }
                callback.finish(success: true)
                return result
            case .providerError(let error, let description, let state):
                // Tell the daemon, so it audits the refusal and drops the pending login.
                let request = LoginCompleteRequest(loginID: started.loginID, state: state, code: "", error: error)
                _ = try? DaemonClient.connect(flag: daemon.socket).send("POST", "/v1/admin/login/complete", body: request)
                callback.finish(success: false)
                server.close()
                throw Self.providerRefusal(error, description: description)
            }
        }
        server.close()
        var message = "no redirect from the browser within \(timeout ?? Self.defaultTimeoutSeconds) s"
        if let lastRejection { message += " (credbrokerd refused a callback: \(lastRejection.message))" }
        throw CLIError(message: message,
                       hint: "if the browser could not reach this machine, copy the code= value of the address it shows and run \"credbroker login \(app) --profile \(profile) --code -\"; or use --device")
    }

    static func providerRefusal(_ error: String, description: String?) -> CLIError {
        let code = printableText(error, limit: 64)
        let detail = description.map { ": " + printableText($0) } ?? ""
        let hint = code == "access_denied" ? "the consent was declined; run the login again and allow access" : nil
        return CLIError(message: "the provider refused the login: \(code)\(detail)", hint: hint)
    }

    // MARK: - --code

    func completeManually(_ argument: String, profile: String) throws -> LoginResult {
        var text = argument
        if argument == "-" {
            if Terminal.isStandardInputTerminal && Terminal.isAvailable {
                // Not echoed: the code is short-lived but still a credential to the screen.
                text = try SecretText.fromTerminal(prompt: "Authorization code (or the whole redirect address): ", what: "authorization code", allowEmpty: false)
            } else {
                text = try SecretText.fromFile("-", maxBytes: 16 * 1024, what: "authorization code")
            }
        }
        let code: String
        switch ManualCode.parse(text) {
        case .code(let c): code = c
        case .providerError(let error, let description): throw Self.providerRefusal(error, description: description)
        case .invalid(let reason): throw CLIError(message: reason)
        }
        let request = LoginCompleteRequest(profile: profile, app: app, code: code)
        let result = try DaemonClient.call(socket: daemon.socket, "POST", "/v1/admin/login/complete", body: request, as: LoginResult.self)
        guard result.status == "done" else { throw CLIError(message: "the login did not complete: \(result.message ?? result.status)") }
        return result
    }

    // MARK: - device code

    func deviceLogin(profile: String) throws -> LoginResult {
        let start = LoginStartRequest(profile: profile, app: app, scopes: scopes, account: account, device: true)
        let started = try DaemonClient.call(socket: daemon.socket, "POST", "/v1/admin/login/start", body: start, as: LoginStartResponse.self)
        guard let device = started.device else { throw CLIError(message: "credbrokerd started the login without a device code") }
        Console.info("to log in to \(app), open \(device.verificationURI) on any device and enter the code: \(device.userCode)")
        if let complete = device.verificationURIComplete {
            Console.info("or open: \(complete)")
            if !noBrowser && Browser.isAvailable() { Browser.open(complete) }
        }
        let lifetime = max(1, timeout ?? device.expiresIn)
        let deadline = ContinuousClock.now + .seconds(lifetime)
        // The daemon polls the provider at its interval; asking it more often gains nothing.
        let interval = Duration.seconds(min(max(device.interval, 1), 30))
        Console.info("waiting up to \(lifetime) s for the approval ...")
        while ContinuousClock.now + interval < deadline {
            Thread.sleep(forTimeInterval: Double(interval.components.seconds))
            let result = try DaemonClient.call(socket: daemon.socket, "POST", "/v1/admin/login/poll", body: LoginPollRequest(loginID: started.loginID), as: LoginResult.self)
            switch result.status {
            case "pending": continue
            case "done": return result
            default: throw CLIError(message: "the device login failed: \(result.message ?? result.status)")
            }
        }
        throw CLIError(message: "the device code was not approved within \(lifetime) s", hint: "run \"credbroker login \(app) --profile \(profile) --device\" again")
    }
}

/// What `login --code` was given: a bare code, or the address the browser landed on.
package enum ManualCode: Equatable {
    case code(String)
    case providerError(String, description: String?)
    case invalid(String)

    package static func parse(_ input: String) -> ManualCode {
        let text = input.trimmingASCIIWhitespace()
        guard !text.isEmpty else { return .invalid("the authorization code is empty") }
        // An address or a query string: take its code (or error) parameter.
        if text.contains("code=") || text.contains("error=") || text.contains("?") {
            let query: Substring
            if let question = text.firstIndex(of: "?") {
                let rest = text[text.index(after: question)...]
                query = rest.firstIndex(of: "#").map { rest[..<$0] } ?? rest
            } else {
                query = text[...]
            }
            guard let items = RedirectCallback.parse(query: query) else { return .invalid("the address is not valid percent-encoding") }
            if let error = items.first(where: { $0.0 == "error" })?.1, !error.isEmpty {
                return .providerError(error, description: items.first { $0.0 == "error_description" }?.1)
            }
            let codes = items.filter { $0.0 == "code" }.map(\.1)
            guard codes.count == 1, let code = codes.first, !code.isEmpty else {
                return .invalid("the address has no single code= parameter")
            }
            return .code(code)
        }
        guard text.utf8.count <= 4096, !text.contains(where: { $0.isWhitespace }) else {
            return .invalid("the authorization code must be one word (or paste the whole address)")
        }
        // The value as the address bar shows it ("4%2F0A...") or decoded ("4/0A...").
        return .code(text.contains("%") ? (text.removingPercentEncoding ?? text) : text)
    }
}
