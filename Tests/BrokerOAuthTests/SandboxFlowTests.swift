import BrokerCore
import BrokerHTTP
import BrokerOAuth
import BrokerSandbox
import BrokerTesting
import Foundation
import Testing

/// A transport that runs curl for each request (no redirects followed), so the flows can be
/// checked end to end against the sandbox before the libcurl transport exists.
struct CurlProcessTransport: HTTPTransport {
    func send(_ request: HTTPRequest) async throws(HTTPTransportError) -> HTTPResponse {
        var arguments = ["-s", "-i", "--max-time", "20", "-X", request.method, "-H", "Expect:"]
        for field in request.headers { arguments += ["-H", "\(field.name): \(field.value)"] }
        if !request.body.isEmpty { arguments += ["--data-binary", "@-"] }
        arguments.append(request.url)
        let result: ProcessResult
        do {
            result = try Subprocess.run("curl", arguments, stdin: request.body.isEmpty ? nil : String(decoding: request.body, as: UTF8.self), timeout: 60)
        } catch {
            throw HTTPTransportError(.network, "curl did not run")
        }
        guard result.status == 0 else { throw HTTPTransportError(.network, "curl exited with status \(result.status)") }
        let bytes = Array(result.stdout.utf8)
        var split = bytes.count
        var i = 0
        while i + 3 < bytes.count {
            if bytes[i] == 13, bytes[i + 1] == 10, bytes[i + 2] == 13, bytes[i + 3] == 10 { split = i; break }
            i += 1
        }
        let head = String(decoding: bytes[0..<split], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw HTTPTransportError(.network, "not an HTTP response") }
        var headers: [HTTPHeaderField] = []
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(HTTPHeaderField(String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return HTTPResponse(status: status, headers: headers, body: Array(bytes[min(bytes.count, split + 4)...]))
    }
}

/// A sandbox in this process, with helpers for the steps a person or the CLI would do.
struct Sandbox {
    let url: String
    let transport = CurlProcessTransport()

    static func with(strict: Bool = false, _ body: (Sandbox) async throws -> Void) async throws {
        let server = try SandboxServer(options: SandboxOptions(strictRotation: strict, log: { _ in }))
        let url = try await server.start(port: 0)
        do {
            try await body(Sandbox(url: url))
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func config(_ type: ProviderType, clientID: String, tenant: String? = nil, clientAuth: ClientAuthMethod? = nil) throws -> ProviderConfig {
        try ProviderConfig.resolve(type: type, clientID: clientID, tenant: tenant,
            endpoints: ProviderConfig.sandboxEndpoints(type: type, base: url, tenant: tenant), clientAuth: clientAuth, rotatesRefreshTokens: nil)
    }

    func client(_ config: ProviderConfig, _ credential: ClientCredential) -> OAuthClient {
        OAuthClient(config: config, credential: credential, transport: transport)
    }

    /// Opens the authorization URL as a consenting browser would; returns the redirect's query.
    func authorize(_ authorizationURL: String) async throws -> [String: String] {
        let response = try await transport.send(HTTPRequest(method: "GET", url: authorizationURL))
        #expect(response.status == 302, "\(String(decoding: response.body, as: UTF8.self))")
        return queryParameters(response.header("Location") ?? "")
    }

    @discardableResult
    func control(_ path: String, _ json: String) async throws -> HTTPResponse {
        try await transport.send(HTTPRequest(method: "POST", url: url + "/_sandbox/" + path, headers: [HTTPHeaderField("Content-Type", "application/json")], body: Array(json.utf8)))
    }

    func get(_ url: String, bearer: String) async throws -> HTTPResponse {
        try await transport.send(HTTPRequest(method: "GET", url: url, headers: [HTTPHeaderField("Authorization", "Bearer \(bearer)")]))
    }

    /// A full authorization-code login: URL, consent, state check, exchange.
    func login(_ c: OAuthClient, scopes: [String], redirect: String, hint: String? = nil) async throws -> OAuthTokenSet {
        let pkce = PKCE.generate()
        let state = LoginState.generate()
        let url = AuthorizationRequest.url(config: c.config, redirectURI: redirect, scopes: scopes, state: state, codeChallenge: pkce.challenge, loginHint: hint)
        let back = try await authorize(url)
        #expect(LoginState.matches(state, back["state"] ?? ""))
        let code = try #require(back["code"])
        return try await c.exchangeCode(code, codeVerifier: pkce.verifier, redirectURI: redirect, requestedScopes: scopes)
    }
}

@Suite("flows end to end against the sandbox")
struct SandboxFlowTests {
    @Test("Google: login with PKCE, narrowed refresh, API call, revoke, then invalid_grant")
    func google() async throws {
        try await Sandbox.with { s in
            let c = s.client(try s.config(.google, clientID: "sandbox-desktop.apps.googleusercontent.com"), .secret("GOCSPX-sandbox-desktop-secret"))
            let tokens = try await s.login(c, scopes: [Scope.calendarRead, Scope.gmailRead], redirect: "http://127.0.0.1:5000/cb")
            #expect(tokens.scopes == [Scope.calendarRead, Scope.gmailRead])
            let refreshToken = try #require(tokens.refreshToken)
            let narrowed = try await c.refresh(refreshToken: refreshToken, scopes: [Scope.calendarRead], grantScopes: tokens.scopes)
            #expect(narrowed.scopes == [Scope.calendarRead])
            #expect(narrowed.refreshToken == nil)
            let calendars = try await s.get(try #require(c.config.apiBaseURLs["calendar"]) + "/users/me/calendarList", bearer: narrowed.accessToken)
            #expect(calendars.status == 200)
            let gmail = try await s.get(try #require(c.config.apiBaseURLs["gmail"]) + "/users/me/messages", bearer: narrowed.accessToken)
            #expect(gmail.status == 403)
            let broader = await oauthError { () async throws(OAuthError) in try await c.refresh(refreshToken: refreshToken, scopes: [Scope.calendar], grantScopes: []) }
            #expect(broader?.kind == .invalidScope)
            try await c.revoke(token: refreshToken)
            let dead = await oauthError { () async throws(OAuthError) in try await c.refresh(refreshToken: refreshToken, scopes: [], grantScopes: tokens.scopes) }
            #expect(dead?.kind == .invalidGrant)
            #expect(dead?.message.contains(refreshToken) == false)
            let wrongSecret = s.client(c.config, .secret("GOCSPX-wrong"))
            #expect(await oauthError { () async throws(OAuthError) in try await wrongSecret.refresh(refreshToken: refreshToken, scopes: [], grantScopes: []) }?.kind == .invalidClient)
        }
    }

    @Test("Google: device flow pending, slow_down, approval; a denied user is access_denied")
    func googleDevice() async throws {
        try await Sandbox.with { s in
            let c = s.client(try s.config(.google, clientID: "sandbox-tv.apps.googleusercontent.com"), .secret("GOCSPX-sandbox-tv-secret"))
            let device = try await c.startDeviceAuthorization(scopes: [Scope.calendarRead])
            #expect(device.verificationURI == s.url + "/google/device")
            #expect(await oauthError { () async throws(OAuthError) in try await c.pollDevice(device, requestedScopes: [Scope.calendarRead]) }?.kind == .authorizationPending)
            #expect(await oauthError { () async throws(OAuthError) in try await c.pollDevice(device, requestedScopes: [Scope.calendarRead]) }?.kind == .slowDown)
            try await s.control("device", #"{"user_code":"\#(device.userCode)","action":"approve"}"#)
            try await s.control("clock", #"{"advance":60}"#)
            let tokens = try await c.pollDevice(device, requestedScopes: [Scope.calendarRead])
            #expect(tokens.refreshToken != nil && tokens.scopes == [Scope.calendarRead])

            let denied = try await c.startDeviceAuthorization(scopes: [Scope.calendarRead])
            try await s.control("device", #"{"user_code":"\#(denied.userCode)","action":"deny"}"#)
            #expect(await oauthError { () async throws(OAuthError) in try await c.pollDevice(denied, requestedScopes: [Scope.calendarRead]) }?.kind == .accessDenied)
            try await s.control("clock", #"{"advance":3600}"#)
            #expect(await oauthError { () async throws(OAuthError) in try await c.pollDevice(denied, requestedScopes: [Scope.calendarRead]) }?.kind == .expiredToken)
        }
    }

    @Test("Google: service account JWT bearer; a key the sandbox does not know is invalid_grant")
    func serviceAccount() async throws {
        try await Sandbox.with { s in
            let publicPEM = try TestKeys.publicPEM(TestKeys.first)
            let body = try JSONSerialization.data(withJSONObject: ["email": "robot@p.iam.gserviceaccount.com", "public_key_pem": publicPEM, "key_id": "k1", "delegation": true])
            #expect(try await s.control("service-accounts", String(decoding: body, as: UTF8.self)).status / 100 == 2)
            let c = s.client(try s.config(.google, clientID: "unused"), .none)
            let tokens = try await c.jwtBearer(serviceAccountEmail: "robot@p.iam.gserviceaccount.com", privateKeyPEM: TestKeys.first, keyID: "k1", scopes: [Scope.calendarRead], subject: "bob@sandbox.test")
            #expect(tokens.scopes == [Scope.calendarRead] && tokens.refreshToken == nil)
            let calendars = try await s.get(s.url + "/google/calendar/v3/users/me/calendarList", bearer: tokens.accessToken)
            #expect(calendars.status == 200)
            let wrong = await oauthError { () async throws(OAuthError) in
                try await c.jwtBearer(serviceAccountEmail: "robot@p.iam.gserviceaccount.com", privateKeyPEM: TestKeys.second, keyID: "k1", scopes: [Scope.calendarRead], subject: nil)
            }
            #expect(wrong?.kind == .invalidGrant)
        }
    }

    @Test("Google: hostile token responses and faults map to kinds")
    func faults() async throws {
        try await Sandbox.with { s in
            let c = s.client(try s.config(.google, clientID: "sandbox-desktop.apps.googleusercontent.com"), .secret("GOCSPX-sandbox-desktop-secret"))
            let tokens = try await s.login(c, scopes: [Scope.calendarRead], redirect: "http://127.0.0.1:5000/cb")
            let rt = try #require(tokens.refreshToken)
            let cases: [(String, OAuthError.Kind)] = [
                (#"{"kind":"rate_limit","retry_after":7}"#, .rateLimited),
                (#"{"kind":"unavailable"}"#, .serverError),
                (#"{"kind":"server_error"}"#, .serverError),
                (#"{"kind":"invalid_grant"}"#, .invalidGrant),
                (#"{"kind":"drop"}"#, .network),
                (#"{"kind":"oversized"}"#, .invalidResponse),
                (#"{"kind":"malformed_json"}"#, .invalidResponse),
                (#"{"kind":"expires_in_zero"}"#, .invalidResponse),
                (#"{"kind":"expires_in_negative"}"#, .invalidResponse),
                (#"{"kind":"expires_in_huge"}"#, .invalidResponse),
                (#"{"kind":"wrong_token_type"}"#, .invalidResponse),
                (#"{"kind":"extra_scopes"}"#, .invalidResponse),
            ]
            for (fault, kind) in cases {
                #expect(try await s.control("faults", fault).status / 100 == 2)
                let error = await oauthError { () async throws(OAuthError) in try await c.refresh(refreshToken: rt, scopes: [], grantScopes: tokens.scopes) }
                #expect(error?.kind == kind, "\(fault): \(error?.message ?? "no error")")
                #expect(error?.message.contains(rt) == false)
                if kind == .rateLimited { #expect(error?.retryAfterSeconds == 7) }
            }
            // The grant still works after all that.
            #expect(try await c.refresh(refreshToken: rt, scopes: [], grantScopes: tokens.scopes).scopes == [Scope.calendarRead])
        }
    }

    @Test("Microsoft: public client login, rotation, strict reuse detection, device flow, Graph call")
    func microsoft() async throws {
        try await Sandbox.with(strict: true) { s in
            let m = try s.config(.microsoft, clientID: "00000000-0000-4000-8000-00000000a001", tenant: "sandbox-tenant")
            let c = s.client(m, .none)
            let tokens = try await s.login(c, scopes: [Scope.graphCalendarsRead, "User.Read"], redirect: "http://localhost:8400/cb")
            #expect(tokens.scopes.contains(Scope.graphCalendarsRead))
            #expect(tokens.scopes.contains("https://graph.microsoft.com/User.Read"))
            let first = try #require(tokens.refreshToken)
            let refreshed = try await c.refresh(refreshToken: first, scopes: [Scope.graphCalendarsRead], grantScopes: tokens.scopes)
            let second = try #require(refreshed.refreshToken)
            #expect(second != first)
            #expect(refreshed.scopes == [Scope.graphCalendarsRead, "offline_access"])
            let reuse = await oauthError { () async throws(OAuthError) in try await c.refresh(refreshToken: first, scopes: [], grantScopes: tokens.scopes) }
            #expect(reuse?.kind == .invalidGrant)
            #expect(reuse?.providerCode?.hasPrefix("AADSTS") == true)
            let me = try await s.get(try #require(m.apiBaseURLs["graph"]) + "/me/calendars", bearer: refreshed.accessToken)
            #expect(me.status == 200)

            let device = try await c.startDeviceAuthorization(scopes: [Scope.graphMailRead])
            #expect(await oauthError { () async throws(OAuthError) in try await c.pollDevice(device, requestedScopes: [Scope.graphMailRead]) }?.kind == .authorizationPending)
            try await s.control("device", #"{"user_code":"\#(device.userCode)","action":"approve"}"#)
            try await s.control("clock", #"{"advance":60}"#)
            let deviceTokens = try await c.pollDevice(device, requestedScopes: [Scope.graphMailRead])
            #expect(deviceTokens.refreshToken != nil && deviceTokens.scopes.contains(Scope.graphMailRead))

            let other = try await c.startDeviceAuthorization(scopes: [Scope.graphMailRead])
            try await s.control("device", #"{"user_code":"\#(other.userCode)","action":"deny"}"#)
            #expect(await oauthError { () async throws(OAuthError) in try await c.pollDevice(other, requestedScopes: [Scope.graphMailRead]) }?.kind == .accessDenied)
        }
    }

    @Test("Microsoft: client credentials with a secret (post and Basic) and with a certificate assertion")
    func microsoftApp() async throws {
        try await Sandbox.with { s in
            let post = s.client(try s.config(.microsoft, clientID: "00000000-0000-4000-8000-00000000a002", tenant: "sandbox-tenant"), .secret("sandbox-ms-confidential-secret"))
            let app = try await post.clientCredentials(scopes: [])
            #expect(app.scopes == [Scope.graphDefault])
            let basic = s.client(try s.config(.microsoft, clientID: "00000000-0000-4000-8000-00000000a002", tenant: "sandbox-tenant", clientAuth: .clientSecretBasic), .secret("sandbox-ms-confidential-secret"))
            _ = try await basic.clientCredentials(scopes: [Scope.graphDefault])
            let wrong = s.client(post.config, .secret("nope"))
            let refused = await oauthError { () async throws(OAuthError) in try await wrong.clientCredentials(scopes: []) }
            #expect(refused?.kind == .invalidClient && refused?.providerCode == "AADSTS7000215")

            let publicPEM = try TestKeys.publicPEM(TestKeys.first)
            let body = try JSONSerialization.data(withJSONObject: ["provider": "microsoft", "type": "confidential", "client_id": "cert-app", "certificate_pem": publicPEM, "permissions": ["Mail.Read"]])
            #expect(try await s.control("clients", String(decoding: body, as: UTF8.self)).status / 100 == 2)
            let cert = s.client(try s.config(.microsoft, clientID: "cert-app", tenant: "sandbox-tenant"), .privateKey(pem: TestKeys.first, keyID: "0123456789abcdef0123456789abcdef01234567"))
            let certToken = try await cert.clientCredentials(scopes: [])
            #expect(!certToken.accessToken.isEmpty)
            let badKey = s.client(cert.config, .privateKey(pem: TestKeys.second, keyID: nil))
            let badSignature = await oauthError { () async throws(OAuthError) in try await badKey.clientCredentials(scopes: []) }
            #expect(badSignature?.kind == .invalidClient && badSignature?.providerCode == "AADSTS700027")
        }
    }

    @Test("Zoom: login with Basic, rotating refresh, reuse refused; server-to-server account credentials")
    func zoom() async throws {
        try await Sandbox.with { s in
            let z = try s.config(.zoom, clientID: "sandboxZoomOAuthClient")
            let c = s.client(z, .secret("sandbox-zoom-oauth-secret"))
            let tokens = try await s.login(c, scopes: [], redirect: "http://127.0.0.1:9000/cb")
            #expect(tokens.scopes == ["user:read", "meeting:read", "meeting:write"])
            let first = try #require(tokens.refreshToken)
            let refreshed = try await c.refresh(refreshToken: first, scopes: [], grantScopes: tokens.scopes)
            #expect(refreshed.refreshToken != nil && refreshed.refreshToken != first)
            let reuse = await oauthError { () async throws(OAuthError) in try await c.refresh(refreshToken: first, scopes: [], grantScopes: tokens.scopes) }
            #expect(reuse?.kind == .invalidGrant)
            let me = try await s.get(try #require(z.apiBaseURLs["zoom"]) + "/users/me", bearer: refreshed.accessToken)
            #expect(me.status == 200)
            let wrong = s.client(z, .secret("nope"))
            #expect(await oauthError { () async throws(OAuthError) in try await wrong.refresh(refreshToken: first, scopes: [], grantScopes: []) }?.kind == .invalidClient)

            let s2s = s.client(try s.config(.zoom, clientID: "sandboxZoomS2SClient"), .secret("sandbox-zoom-s2s-secret"))
            let app = try await s2s.zoomAccountCredentials(accountID: "sandbox-account")
            #expect(app.scopes == ["user:read:admin", "meeting:read:admin"] && app.refreshToken == nil)
            #expect(await oauthError { () async throws(OAuthError) in try await s2s.zoomAccountCredentials(accountID: "other") }?.kind == .invalidRequest)
        }
    }
}
