package import BrokerSystem
import BrokerCore
import Foundation

/// Where `login` listens for the provider's redirect: 127.0.0.1 on an ephemeral port by
/// default (RFC 8252 §7.3), or the fixed loopback URI an app was registered with.
package struct RedirectEndpoint: Equatable, Sendable {
    /// As written in the URI ("127.0.0.1" or "localhost"); the listener binds 127.0.0.1.
    package var host: String
    /// 0: an ephemeral port.
    package var port: UInt16
    package var path: String

    package init(host: String, port: UInt16, path: String) {
        self.host = host
        self.port = port
        self.path = path
    }

    package static let ephemeral = RedirectEndpoint(host: "127.0.0.1", port: 0, path: "/callback")

    /// Parses `http://localhost:PORT/PATH` or `http://127.0.0.1:PORT/PATH` (no query or
    /// fragment; a missing path is "/").
    package static func parse(_ text: String) throws(CLIError) -> RedirectEndpoint {
        let usage = "the redirect URI \"\(text)\" must be http://127.0.0.1:PORT/PATH or http://localhost:PORT/PATH to listen on it"
        guard let parts = URLComponents(string: text), parts.scheme?.lowercased() == "http", let host = parts.host?.lowercased(),
              host == "127.0.0.1" || host == "localhost", let port = parts.port, (1...65535).contains(port),
              parts.user == nil, parts.password == nil, parts.query == nil, parts.fragment == nil else {
            throw CLIError(message: usage, exitCode: 64)
        }
        let path = parts.percentEncodedPath.isEmpty ? "/" : parts.percentEncodedPath
        return RedirectEndpoint(host: host, port: UInt16(port), path: path)
    }

    /// The redirect URI for the port actually bound.
    package func uri(port bound: UInt16) -> String { "http://\(host):\(bound)\(path)" }
}

/// What a request to the redirect listener means (pure: no I/O).
package enum RedirectCallback {
    package enum Outcome: Equatable, Sendable {
        /// The provider's authorization code and the state it came back with.
        case code(String, state: String)
        /// The provider redirected with `error=...` (the person declined, a bad scope...).
        case providerError(String, description: String?, state: String)
    }

    package enum Decision: Equatable, Sendable {
        /// A callback to hand to the daemon.
        case deliver(Outcome)
        /// Answered with `status` and otherwise ignored; the listener keeps waiting.
        /// `reason` is said on the terminal (nil for the browser's side requests).
        case reject(status: Int, reason: String?)
    }

    /// Classifies one request line. `expectedState` is the state of the authorization URL
    /// when the CLI could read it there (the daemon checks it in any case); a callback with
    /// another state, without one, or with a state already delivered is rejected here and
    /// never reaches the daemon, so stray or hostile requests cannot end a real login.
    package static func classify(requestLine: String, path: String, expectedState: String?, delivered: Set<String> = []) -> Decision {
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return .reject(status: 400, reason: "ignored a malformed request to the login listener")
        }
        let target = parts[1]
        let question = target.firstIndex(of: "?")
        let requestPath = question.map { target[..<$0] } ?? target
        guard requestPath == path[...] else { return .reject(status: 404, reason: nil) }
        guard parts[0] == "GET" else { return .reject(status: 405, reason: "ignored a \(printableText(parts[0])) request to the login listener") }
        guard let query = question.map({ target[target.index(after: $0)...] }), let items = parse(query: query) else {
            return .reject(status: 400, reason: "ignored a request to the login listener without a valid query")
        }
        func single(_ name: String) -> String?? {
            let values = items.filter { $0.0 == name }.map(\.1)
            if values.count > 1 { return .some(nil) }  // present but ambiguous
            return values.first.map { .some($0) } ?? nil
        }
        for name in ["code", "state", "error"] where single(name) == .some(nil) {
            return .reject(status: 400, reason: "ignored a callback with more than one \"\(name)\"")
        }
        guard let state = single("state") ?? nil, !state.isEmpty else {
            return .reject(status: 400, reason: "ignored a callback without a state (not from this login)")
        }
        if let expectedState, state != expectedState {
            return .reject(status: 400, reason: "ignored a callback whose state does not match this login")
        }
        if delivered.contains(state) {
            return .reject(status: 400, reason: "ignored a repeated callback (its code was already handed to credbrokerd)")
        }
        if let error = single("error") ?? nil, !error.isEmpty {
            let description = single("error_description") ?? nil
            return .deliver(.providerError(error, description: description, state: state))
        }
        guard let code = single("code") ?? nil, !code.isEmpty else {
            return .reject(status: 400, reason: "ignored a callback with neither a code nor an error")
        }
        return .deliver(.code(code, state: state))
    }

    /// `application/x-www-form-urlencoded` pairs in order; nil on bad percent-encoding.
    package static func parse(query: Substring) -> [(String, String)]? {
        var items: [(String, String)] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: "=")
            let rawName = equals.map { pair[..<$0] } ?? pair
            let rawValue = equals.map { pair[pair.index(after: $0)...] } ?? ""
            guard let name = decode(rawName), let value = decode(rawValue) else { return nil }
            items.append((name, value))
        }
        return items
    }

    static func decode(_ text: Substring) -> String? {
        String(text.replacingOccurrences(of: "+", with: " ")).removingPercentEncoding
    }

}

/// The pages the browser sees. Fixed text: nothing from the request is echoed, so there is
/// nothing to escape and no code or error text to leak into the browser's history or cache.
package enum RedirectPages {
    package static let success = page(200, "OK", title: "Logged in", text: "credbroker received the authorization. You can close this tab and return to the terminal.")
    package static let failure = page(400, "Bad Request", title: "Login failed", text: "credbroker could not complete the login. The terminal says why.")
    package static let ignored = page(400, "Bad Request", title: "Not accepted", text: "This request does not belong to the login credbroker is waiting for.")
    package static let notFound = page(404, "Not Found", title: "Not found", text: "Nothing here.")
    package static let wrongMethod = page(405, "Method Not Allowed", title: "Not allowed", text: "Only GET is accepted here.")

    package static func page(for status: Int) -> [UInt8] {
        switch status {
        case 404: notFound
        case 405: wrongMethod
        default: ignored
        }
    }

    static func page(_ status: Int, _ reason: String, title: String, text: String) -> [UInt8] {
        let html = """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>credbroker: \(title)</title></head>
            <body style="font-family: sans-serif; margin: 3em"><h1>\(title)</h1><p>\(text)</p></body></html>

            """
        let body = Array(html.utf8)
        let head = "HTTP/1.1 \(status) \(reason)\r\n"
            + "Content-Type: text/html; charset=utf-8\r\n"
            + "Content-Length: \(body.count)\r\n"
            + "Cache-Control: no-store\r\n"
            + "Referrer-Policy: no-referrer\r\n"
            + "X-Content-Type-Options: nosniff\r\n"
            + "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"
            + "Connection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}

/// The loopback listener of a browser login: answers every request, and returns the
/// callbacks that belong to this login, each state at most once.
package final class LoginRedirectServer {
    let listener: LoopbackListener
    package let endpoint: RedirectEndpoint
    /// The URI to send in login/start (with the bound port).
    package let redirectURI: String
    /// The state of the authorization URL, when known: other states are rejected here.
    package var expectedState: String?
    private var delivered: Set<String> = []
    /// Where rejections are reported (the terminal; tests collect them).
    package var report: (String) -> Void = { Console.warning($0) }

    package init(endpoint: RedirectEndpoint, limits: LoopbackListener.Limits = LoopbackListener.Limits()) throws(CLIError) {
        do { listener = try LoopbackListener(port: endpoint.port, limits: limits) } catch {
            let what = endpoint.port == 0 ? "an ephemeral port" : "port \(endpoint.port)"
            throw CLIError(message: "cannot listen on 127.0.0.1 (\(what)) for the login's redirect: \(error.reason)",
                           hint: endpoint.port == 0 ? nil : "stop what uses port \(endpoint.port), or finish the login with --code")
        }
        self.endpoint = endpoint
        redirectURI = endpoint.uri(port: listener.port)
    }

    package var port: UInt16 { listener.port }

    /// Answers requests until one is a callback of this login, and returns it (its
    /// connection waits for `Callback.finish`); nil when `deadline` passes.
    package func next(until deadline: ContinuousClock.Instant) throws(CLIError) -> Callback? {
        while true {
            let request: LoopbackRequest
            do {
                guard let r = try listener.nextRequest(until: deadline) else { return nil }
                request = r
            } catch {
                throw CLIError(message: "the login listener failed: \(error.reason)")
            }
            switch RedirectCallback.classify(requestLine: request.requestLine, path: endpoint.path, expectedState: expectedState, delivered: delivered) {
            case .reject(let status, let reason):
                request.respond(RedirectPages.page(for: status))
                if let reason { report(reason) }
            case .deliver(let outcome):
                switch outcome {
                case .code(_, let state), .providerError(_, _, let state): delivered.insert(state)
                }
                return Callback(outcome: outcome, request: request)
            }
        }
    }

    /// Stops listening; later connections are refused.
    package func close() { listener.close() }

    package struct Callback {
        package let outcome: RedirectCallback.Outcome
        let request: LoopbackRequest

        /// Shows the browser the success or failure page and closes its connection.
        package func finish(success: Bool) {
            request.respond(success ? RedirectPages.success : RedirectPages.failure)
        }
    }

    /// The `state` parameter of an authorization URL.
    package static func state(ofAuthorizationURL url: String) -> String? {
        URLComponents(string: url)?.queryItems?.first { $0.name == "state" }?.value.flatMap { $0.isEmpty ? nil : $0 }
    }
}
