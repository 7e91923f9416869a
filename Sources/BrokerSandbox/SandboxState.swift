import BrokerCrypto
import Foundation

/// All of the sandbox's mutable state and its request handling. Not thread-safe by
/// itself: `Sandbox` runs every request under one lock, which also makes the counters
/// exact.
final class SandboxState {
    var settings = SandboxSettings()
    /// Added to the wall clock by `/_sandbox/clock`, so tests can expire things at once.
    var clockOffset: TimeInterval = 0
    var baseURL = "http://127.0.0.1"
    let log: @Sendable (String) -> Void

    var clients: [String: ClientRecord] = [:]
    var clientOrder: [String] = []
    var users: [String: UserRecord] = [:]
    var userOrder: [String] = []
    var serviceAccounts: [String: ServiceAccountRecord] = [:]
    var tenants: Set<String> = ["common", "organizations", "consumers", SandboxDefaults.tenant]

    var grants: [Int: GrantRecord] = [:]
    var nextGrantID = 1
    var codes: [String: AuthorizationCodeRecord] = [:]
    var refreshTokens: [String: RefreshTokenRecord] = [:]
    var accessTokens: [String: AccessTokenRecord] = [:]
    var deviceCodes: [String: DeviceCodeRecord] = [:]
    var userCodes: [String: String] = [:]  // user code → device code

    var faults: [Fault] = []
    var nextFaultID = 1

    // Counters (GET /_sandbox/counters).
    var tokenRequestCounts: [String: [String: Int]] = [:]
    var refreshCounts: [String: Int] = [:]
    var apiCallCounts: [String: Int] = [:]
    var inFlightTokenRequests = 0
    var maxConcurrentTokenRequests = 0
    /// Under strict rotation, each refused reuse: when the refused token was rotated out,
    /// in seconds since 1970 by the real clock (not the sandbox clock), so a test can tell
    /// a token lost to a kill just after its rotation from one the client lost itself.
    var strictReuseRefusals: [Double] = []

    var data: SeedData

    init(log: @escaping @Sendable (String) -> Void, dataSeed: UInt64 = 1, anchor: Date? = nil) {
        self.log = log
        self.data = SeedData(seed: dataSeed, anchor: anchor ?? SeedData.defaultAnchor(now: Date()))
        SandboxDefaults.register(into: self)
    }

    var now: Date { Date().addingTimeInterval(clockOffset) }

    func addClient(_ client: ClientRecord) {
        if clients[client.clientID] == nil { clientOrder.append(client.clientID) }
        clients[client.clientID] = client
        if let tenant = client.tenant { tenants.insert(tenant) }
    }

    func addUser(_ user: UserRecord) {
        if users[user.email] == nil { userOrder.append(user.email) }
        users[user.email] = user
    }

    func client(_ id: String?, _ provider: Provider) -> ClientRecord? {
        guard let id, let client = clients[id], client.provider == provider else { return nil }
        return client
    }

    func newToken(_ prefix: String, bytes: Int = 24) -> String { prefix + Base64URL.encode(SecureRandom.bytes(bytes)) }

    func newGrant(_ provider: Provider, clientID: String, user: String?, scopes: [String]) -> Int {
        let id = nextGrantID
        nextGrantID += 1
        grants[id] = GrantRecord(id: id, provider: provider, clientID: clientID, user: user, scopes: scopes)
        return id
    }

    func issueAccessToken(_ provider: Provider, clientID: String, grantID: Int?, user: String?, scopes: [String]) -> String {
        let prefix: String
        switch provider {
        case .google: prefix = "ya29.sandbox-"
        case .microsoft: prefix = "EwA.sandbox-"
        case .zoom: prefix = "zm.sandbox-"
        }
        let token = newToken(prefix)
        let expires = now.addingTimeInterval(TimeInterval(settings.accessTokenLifetime))
        accessTokens[token] = AccessTokenRecord(
            provider: provider, clientID: clientID, grantID: grantID, user: user, scopes: scopes, expiresAt: expires)
        return token
    }

    func issueRefreshToken(_ provider: Provider, clientID: String, grantID: Int) -> String {
        let prefix: String
        switch provider {
        case .google: prefix = "1//sandbox-"
        case .microsoft: prefix = "M.C.sandbox-"
        case .zoom: prefix = "zr.sandbox-"
        }
        let token = newToken(prefix, bytes: 32)
        refreshTokens[token] = RefreshTokenRecord(grantID: grantID, provider: provider, clientID: clientID)
        return token
    }

    /// Whether a refresh token can still be used: it exists, was not rotated out or
    /// revoked, and its grant stands.
    func refreshTokenUsable(_ token: String) -> Bool {
        guard let record = refreshTokens[token], record.valid, let grant = grants[record.grantID] else { return false }
        return !grant.revoked
    }

    /// Revokes a grant and every token issued under it.
    func revokeGrant(_ id: Int) {
        grants[id]?.revoked = true
        for (token, record) in refreshTokens where record.grantID == id { refreshTokens[token]?.valid = false }
        for (token, record) in accessTokens where record.grantID == id { accessTokens[token]?.revoked = true }
    }

    // MARK: Dispatch

    func handle(_ request: SandboxRequest) -> SandboxReply {
        let path = request.path
        if path == "/_sandbox" || path.hasPrefix("/_sandbox/") { return SandboxReply(control(request)) }
        if let provider = tokenEndpointProvider(path) {
            inFlightTokenRequests += 1
            maxConcurrentTokenRequests = max(maxConcurrentTokenRequests, inFlightTokenRequests)
            var reply = tokenEndpoint(request, provider: provider)
            reply.isTokenRequest = true
            return reply
        }
        if let response = oauthEndpoint(request) { return SandboxReply(response) }
        return apiRequest(request)
    }

    func tokenRequestFinished() { inFlightTokenRequests = max(0, inFlightTokenRequests - 1) }

    /// The provider whose token endpoint `path` is, if it is one.
    func tokenEndpointProvider(_ path: String) -> Provider? {
        if path == "/google/token" { return .google }
        if path == "/zoom/oauth/token" { return .zoom }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        // "", "microsoft", tenant, "oauth2", "v2.0", "token"
        if parts.count == 6, parts[1] == "microsoft", parts[3] == "oauth2", parts[4] == "v2.0", parts[5] == "token", parts[2] != "graph" {
            return .microsoft
        }
        return nil
    }

    /// Authorization, device-authorization, revocation and userinfo endpoints.
    func oauthEndpoint(_ request: SandboxRequest) -> SandboxResponse? {
        let path = request.path
        switch path {
        case "/google/o/oauth2/v2/auth": return googleAuthorize(request)
        case "/google/device/code": return googleDeviceCode(request)
        case "/google/device": return deviceVerificationPage(request, provider: .google)
        case "/google/revoke": return googleRevoke(request)
        case "/zoom/oauth/authorize": return zoomAuthorize(request)
        default: break
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 6, parts[1] == "microsoft", parts[3] == "oauth2", parts[4] == "v2.0", parts[2] != "graph" {
            let tenant = String(parts[2])
            switch parts[5] {
            case "authorize": return microsoftAuthorize(request, tenant: tenant)
            case "devicecode": return microsoftDeviceCode(request, tenant: tenant)
            default: return nil
            }
        }
        if path == "/microsoft/devicelogin" { return deviceVerificationPage(request, provider: .microsoft) }
        return nil
    }

    // MARK: Token endpoint: counters and faults around the provider's handler

    func tokenEndpoint(_ request: SandboxRequest, provider: Provider) -> SandboxReply {
        let form = tokenParameters(request, provider: provider)
        let grantType = form["grant_type"] ?? ""
        let clientID = tokenClientID(request, form: form)
        tokenRequestCounts[clientID, default: [:]][grantType, default: 0] += 1
        if grantType == "refresh_token", let token = form["refresh_token"] { refreshCounts[token, default: 0] += 1 }

        var delay = 0
        if let fault = takeFault(.token, provider: provider, clientID: clientID, path: request.path, grantType: grantType, hostile: false) {
            if fault.kind == .delay {
                delay = fault.delayMilliseconds
            } else {
                log("sandbox: fault \(fault.kind.rawValue) on \(request.method) \(request.path)")
                return tokenFaultReply(fault, provider: provider)
            }
        }
        guard request.method == "POST" else {
            var reply = SandboxReply(oauthError(provider, 405, "invalid_request", "The token endpoint accepts only POST."))
            reply.delayMilliseconds = delay
            return reply
        }
        var response: SandboxResponse
        // Zoom documents its parameters in the query string, so a bodiless POST is fine there.
        let queryOnly = provider == .zoom && request.body.isEmpty
        if request.mediaType != "application/x-www-form-urlencoded", !queryOnly {
            response = oauthError(provider, 400, "invalid_request", "The request body must be application/x-www-form-urlencoded.", aadsts: 900144)
        } else {
            switch provider {
            case .google: response = googleToken(request, form: form)
            case .microsoft: response = microsoftToken(request, form: form, tenant: tenantOf(request.path))
            case .zoom: response = zoomToken(request, form: form)
            }
        }
        if response.status == 200,
            let fault = takeFault(.token, provider: provider, clientID: clientID, path: request.path, grantType: grantType, hostile: true)
        {
            log("sandbox: fault \(fault.kind.rawValue) on \(request.method) \(request.path)")
            response = hostile(response, fault: fault)
        }
        var reply = SandboxReply(response)
        reply.delayMilliseconds = delay
        return reply
    }

    /// A token request's parameters: the form body; for Zoom, whose documentation sends
    /// them in the query (`POST /oauth/token?grant_type=account_credentials&account_id=...`),
    /// the query's too, a body parameter winning over the same one in the query.
    func tokenParameters(_ request: SandboxRequest, provider: Provider) -> [String: String] {
        let body = request.mediaType == "application/x-www-form-urlencoded" ? request.form : []
        guard provider == .zoom else { return Self.dictionary(request.form) }
        return Self.dictionary(body + request.query)
    }

    func tenantOf(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return parts.count > 1 ? String(parts[1]) : ""
    }

    /// The client a token request is from, for the counters: `client_id`, the Basic user,
    /// or the issuer of a JWT assertion.
    func tokenClientID(_ request: SandboxRequest, form: [String: String]) -> String {
        if let id = form["client_id"], !id.isEmpty { return id }
        if let basic = request.basicCredentials { return basic.user }
        if let assertion = form["assertion"] ?? form["client_assertion"], let jwt = JWTAssertion(assertion), let iss = jwt.string("iss") {
            return iss
        }
        return "unknown"
    }

    /// Takes one use of the first armed fault that matches, if any.
    func takeFault(_ target: Fault.Target, provider: Provider, clientID: String?, path: String, grantType: String?, hostile: Bool) -> Fault? {
        for index in faults.indices {
            let fault = faults[index]
            guard fault.target == target, fault.remaining > 0, fault.kind.isHostileResponse == hostile else { continue }
            if let wanted = fault.provider, wanted != provider { continue }
            if let wanted = fault.clientID, wanted != clientID { continue }
            if let text = fault.pathContains, !path.contains(text) { continue }
            if fault.kind == .slowDown, grantType != Self.deviceCodeGrant { continue }
            faults[index].remaining -= 1
            let taken = faults[index]
            faults.removeAll { $0.remaining <= 0 }
            return taken
        }
        return nil
    }

    static let deviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code"
    static let jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    static let clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    func tokenFaultReply(_ fault: Fault, provider: Provider) -> SandboxReply {
        switch fault.kind {
        case .drop:
            return SandboxReply(action: .drop)
        case .rateLimit:
            return SandboxReply(oauthError(provider, 429, "rate_limit_exceeded", "Rate limit exceeded (sandbox fault).", aadsts: 50196,
                headers: [("Retry-After", String(fault.retryAfterSeconds))]))
        case .serverError:
            return SandboxReply(oauthError(provider, 500, "server_error", "Internal error (sandbox fault).", aadsts: 90033))
        case .unavailable:
            return SandboxReply(oauthError(provider, 503, "temporarily_unavailable", "The service is temporarily unavailable (sandbox fault).", aadsts: 90033,
                headers: [("Retry-After", String(fault.retryAfterSeconds))]))
        case .invalidGrant:
            return SandboxReply(oauthError(provider, 400, "invalid_grant", "Token has been expired or revoked (sandbox fault).", aadsts: 70008))
        case .slowDown:
            return SandboxReply(oauthError(provider, provider == .google ? 403 : 400, "slow_down", "Polling too frequently (sandbox fault).", aadsts: 70016))
        default:
            return SandboxReply(oauthError(provider, 500, "server_error", "unexpected fault", aadsts: 90033))
        }
    }

    /// A hostile variant of a successful token response.
    func hostile(_ response: SandboxResponse, fault: Fault) -> SandboxResponse {
        guard var object = JSON.object(response.body) else { return response }
        switch fault.kind {
        case .oversized:
            object["padding"] = String(repeating: "x", count: max(0, fault.bytes))
        case .malformedJSON:
            let text = JSON.string(object)
            let cut = String(text.prefix(max(1, text.count / 2)))
            return SandboxResponse(status: 200, headers: response.headers, body: Array(cut.utf8))
        case .expiresInZero: object["expires_in"] = 0
        case .expiresInNegative: object["expires_in"] = -3600
        case .expiresInHuge: object["expires_in"] = 1_000_000_000_000
        case .wrongTokenType: object["token_type"] = "mac"
        case .extraScopes:
            let scope = (object["scope"] as? String) ?? ""
            object["scope"] = (scope + " https://www.googleapis.com/auth/drive https://graph.microsoft.com/Directory.ReadWrite.All").trimmingCharacters(in: .whitespaces)
        default: break
        }
        return SandboxResponse.json(200, object, headers: response.headers.filter { $0.name.lowercased() != "content-type" })
    }

    // MARK: OAuth error bodies

    /// An error in the provider's token-endpoint shape: Google `{error, error_description}`;
    /// Microsoft adds `error_codes`, `timestamp`, `trace_id`, `correlation_id` and an
    /// "AADSTSnnnn: " description; Zoom `{reason, error}`.
    func oauthError(
        _ provider: Provider, _ status: Int, _ error: String, _ description: String, aadsts: Int = 9_002_313,
        headers: [(name: String, value: String)] = []
    ) -> SandboxResponse {
        var all = headers
        all.append(("Cache-Control", "no-store"))
        switch provider {
        case .google:
            let body: [String: Any] = ["error": error, "error_description": description]
            return .json(status, body, headers: all)
        case .microsoft:
            let trace = UUID().uuidString.lowercased()
            let correlation = UUID().uuidString.lowercased()
            let timestamp = Self.microsoftTimestamp(now)
            let text = "AADSTS\(aadsts): \(description) Trace ID: \(trace) Correlation ID: \(correlation) Timestamp: \(timestamp)"
            let body: [String: Any] = [
                "error": error, "error_description": text, "error_codes": [aadsts], "timestamp": timestamp,
                "trace_id": trace, "correlation_id": correlation,
                "error_uri": "https://login.microsoftonline.com/error?code=\(aadsts)",
            ]
            return .json(status, body, headers: all)
        case .zoom:
            let body: [String: Any] = ["reason": description, "error": error]
            return .json(status, body, headers: all)
        }
    }

    static func microsoftTimestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        return formatter.string(from: date)
    }

    /// The provider's error page for a request that cannot be redirected back (unknown
    /// client, unregistered redirect URI): shown to the user, never sent to the app.
    func errorPage(_ status: Int, _ error: String, _ description: String) -> SandboxResponse {
        log("sandbox: authorization refused: \(error): \(description)")
        let html = "<!doctype html><title>Sandbox authorization error</title><h1>Error \(status): \(Self.htmlEscape(error))</h1><p>\(Self.htmlEscape(description))</p>\n"
        var response = SandboxResponse.text(status, html, contentType: "text/html; charset=utf-8")
        response.headers.append(("X-Sandbox-Error", error))
        return response
    }

    /// A redirect back to the client with `error` (RFC 6749 §4.1.2.1).
    func errorRedirect(_ redirectURI: String, error: String, description: String, state: String?) -> SandboxResponse {
        log("sandbox: authorization refused: \(error): \(description)")
        var pairs: [(String, String)] = [("error", error), ("error_description", description)]
        if let state { pairs.append(("state", state)) }
        return .redirect(Self.appendQuery(redirectURI, pairs))
    }

    static func appendQuery(_ uri: String, _ pairs: [(String, String)]) -> String {
        uri + (uri.contains("?") ? "&" : "?") + FormCoding.encode(pairs)
    }

    static func htmlEscape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Parameters as a dictionary; for a repeated name the first value wins.
    static func dictionary(_ pairs: [(name: String, value: String)]) -> [String: String] {
        var result: [String: String] = [:]
        for pair in pairs where result[pair.name] == nil { result[pair.name] = pair.value }
        return result
    }

    static func scopeList(_ text: String?) -> [String] {
        guard let text else { return [] }
        var seen = Set<String>()
        var result: [String] = []
        for part in text.split(whereSeparator: { $0 == " " || $0 == "+" || $0 == "\t" }) {
            let scope = String(part)
            if seen.insert(scope).inserted { result.append(scope) }
        }
        return result
    }

    // MARK: Redirect URIs and PKCE

    /// Exact match, or for loopback-capable clients an `http` loopback URI on any port
    /// (RFC 8252 §7.3). A registered loopback URI with no path accepts any path.
    static func redirectMatches(registered: String, requested: String, loopbackAnyPort: Bool) -> Bool {
        if registered == requested { return true }
        guard loopbackAnyPort, let reg = URLComponents(string: registered), let req = URLComponents(string: requested),
            reg.scheme == "http", req.scheme == "http", let regHost = reg.host, let reqHost = req.host,
            req.fragment == nil, req.user == nil, req.password == nil
        else { return false }
        let a = regHost.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let b = reqHost.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard a == b, a == "127.0.0.1" || a == "::1" || a == "localhost" else { return false }
        if reg.path.isEmpty || reg.path == "/" { return true }
        return reg.path == req.path && reg.query == req.query
    }

    func redirectAllowed(_ client: ClientRecord, _ uri: String) -> Bool {
        client.redirectURIs.contains { Self.redirectMatches(registered: $0, requested: uri, loopbackAnyPort: client.loopbackAnyPort) }
    }

    /// Whether `verifier` answers `challenge` (RFC 7636 §4.6).
    static func pkceMatches(verifier: String, challenge: String, method: String) -> Bool {
        guard verifier.count >= 43, verifier.count <= 128 else { return false }
        if method == "plain" { return verifier == challenge }
        return Base64URL.encode(SHA256.hash(Array(verifier.utf8))) == challenge
    }

    static func validChallenge(_ challenge: String, method: String) -> Bool {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        guard challenge.unicodeScalars.allSatisfy({ allowed.contains($0) }) else { return false }
        return method == "S256" ? challenge.count == 43 : (challenge.count >= 43 && challenge.count <= 128)
    }

    /// Secrets are fake, but compare them without an early exit anyway.
    static func secretMatches(_ given: String?, _ expected: String?) -> Bool {
        guard let given, let expected else { return false }
        let a = Array(given.utf8), b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// A user code like "BCDF-GHJK": consonants only, so no words appear.
    func newUserCode() -> String {
        let letters = Array("BCDFGHJKLMNPQRSTVWXZ")
        var text = ""
        for (index, byte) in SecureRandom.bytes(8).enumerated() {
            if index == 4 { text.append("-") }
            text.append(letters[Int(byte) % letters.count])
        }
        return userCodes[text] == nil ? text : newUserCode()
    }

    func deviceVerificationPage(_ request: SandboxRequest, provider: Provider) -> SandboxResponse {
        let html = """
            <!doctype html><title>Sandbox device login</title>
            <h1>Sandbox device login (\(provider.rawValue))</h1>
            <p>The sandbox approves device codes through its control API:</p>
            <pre>curl -X POST \(baseURL)/_sandbox/device -d '{"user_code":"XXXX-XXXX","action":"approve"}'</pre>

            """
        return .text(200, html, contentType: "text/html; charset=utf-8")
    }
}
