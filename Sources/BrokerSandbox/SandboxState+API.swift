import Foundation

/// One API route: method and path template (`{name}` captures a segment; a segment
/// `{name}:verb` captures what precedes a Google custom verb), the provider, and the
/// scopes of which the token must hold at least one.
struct APIRoute: Sendable {
    var method: String
    var template: String
    var provider: Provider
    var scopes: [String]
    /// False for Google's batch endpoint, which takes no token of its own: each inner
    /// request is authorized on its own. Graph's `$batch` needs a valid outer token.
    var authenticated = true
    var handler: @Sendable (SandboxState, APIContext) -> SandboxResponse

    var key: String { method + " " + template }

    /// The captures when `path` (split in segments) matches.
    func match(method: String, segments: [Substring]) -> [String: String]? {
        guard method == self.method else { return nil }
        let pattern = template.split(separator: "/", omittingEmptySubsequences: false)
        guard pattern.count == segments.count else { return nil }
        var captures: [String: String] = [:]
        for (want, have) in zip(pattern, segments) {
            if want.hasPrefix("{") {
                let close = want.firstIndex(of: "}")!
                let name = String(want[want.index(after: want.startIndex)..<close])
                let suffix = want[want.index(after: close)...]
                guard have.hasSuffix(suffix), have.count > suffix.count else { return nil }
                let raw = String(have.dropLast(suffix.count))
                captures[name] = raw.removingPercentEncoding ?? raw
            } else if want != have {
                return nil
            }
        }
        return captures
    }
}

/// What an API handler gets: the request, the path captures, and the caller's token.
struct APIContext {
    var request: SandboxRequest
    var params: [String: String]
    var token: AccessTokenRecord
    var route: APIRoute

    var query: [String: String] { SandboxState.dictionary(request.query) }
    var user: String { token.user ?? "" }
}

extension SandboxState {
    static let googleAPIRealm = "https://accounts.google.com/"
    /// Query parameters every Google API accepts (system parameters).
    static let googleSystemParameters: Set<String> = ["fields", "alt", "prettyPrint", "key", "quotaUser", "access_token", "$.xgafv", "callback", "upload_protocol", "uploadType"]

    func apiRequest(_ request: SandboxRequest) -> SandboxReply {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: false)
        var pathMatched = false
        for route in Self.routes {
            let pattern = route.template.split(separator: "/", omittingEmptySubsequences: false)
            if pattern.count == segments.count, route.match(method: route.method, segments: segments) != nil { pathMatched = true }
            guard let params = route.match(method: request.method, segments: segments) else { continue }
            return apiCall(request, route: route, params: params)
        }
        log("sandbox: rejected \(request.method) \(request.path): no such route")
        let provider: Provider = request.path.hasPrefix("/microsoft") ? .microsoft : request.path.hasPrefix("/zoom") ? .zoom : .google
        if pathMatched {
            return SandboxReply(apiError(provider, 405, "Method Not Allowed", googleStatus: "INVALID_ARGUMENT", graphCode: "Request_BadRequest"))
        }
        switch provider {
        case .microsoft:
            return SandboxReply(graphError(400, "BadRequest", "Resource not found for the segment '\(segments.last ?? "")'."))
        default:
            return SandboxReply(.text(404, "<!DOCTYPE html><title>Error 404 (Not Found)</title><p>The requested URL <code>\(Self.htmlEscape(request.path))</code> was not found on this server.", contentType: "text/html; charset=UTF-8"))
        }
    }

    func apiCall(_ request: SandboxRequest, route: APIRoute, params: [String: String]) -> SandboxReply {
        apiCallCounts[route.key, default: 0] += 1
        var delay = 0
        // An API fault's client_id matches the client the bearer token was issued to (for a
        // service account, its email); a request without a known token matches none.
        let tokenClient = request.bearerToken.flatMap { accessTokens[$0]?.clientID }
        if let fault = takeFault(.api, provider: route.provider, clientID: tokenClient, path: request.path, grantType: nil, hostile: false) {
            log("sandbox: fault \(fault.kind.rawValue) on \(request.method) \(request.path)")
            switch fault.kind {
            case .delay: delay = fault.delayMilliseconds
            case .drop: return SandboxReply(action: .drop)
            case .invalidToken: return SandboxReply(unauthorized(route.provider, tokenGiven: true))
            case .rateLimit:
                return SandboxReply(apiError(route.provider, 429, "Rate Limit Exceeded", googleStatus: "RESOURCE_EXHAUSTED", graphCode: "TooManyRequests",
                    reason: "rateLimitExceeded", domain: "usageLimits", headers: [("Retry-After", String(fault.retryAfterSeconds))]))
            case .rateLimit403, .userRateLimit:
                // Calendar signals rate limits with 403 and a usageLimits reason; Graph and
                // Zoom have no such form and answer 429.
                let user = fault.kind == .userRateLimit
                let message = user ? "User Rate Limit Exceeded" : "Rate Limit Exceeded"
                let status = route.provider == .google ? 403 : 429
                return SandboxReply(apiError(route.provider, status, message, googleStatus: "PERMISSION_DENIED", graphCode: "TooManyRequests",
                    reason: user ? "userRateLimitExceeded" : "rateLimitExceeded", domain: "usageLimits",
                    headers: [("Retry-After", String(fault.retryAfterSeconds))]))
            case .unavailable:
                return SandboxReply(apiError(route.provider, 503, "The service is currently unavailable.", googleStatus: "UNAVAILABLE", graphCode: "ServiceNotAvailable",
                    headers: [("Retry-After", String(fault.retryAfterSeconds))]))
            default:
                return SandboxReply(apiError(route.provider, 500, "Internal error encountered.", googleStatus: "INTERNAL", graphCode: "InternalServerError"))
            }
        }
        var response = authorizedCall(request, route: route, params: params)
        if response.status >= 400 {
            let error = JSON.object(response.body)?["error"]
            let message = ((error as? [String: Any])?["message"] as? String) ?? ""
            log("sandbox: \(request.method) \(request.path) answered \(response.status)" + (message.isEmpty ? "" : ": " + message))
        }
        if route.provider == .microsoft { response.headers.append(("request-id", UUID().uuidString.lowercased())) }
        var reply = SandboxReply(response)
        reply.delayMilliseconds = delay
        return reply
    }

    /// Checks the bearer token (401) and its scopes (403), then runs the handler.
    func authorizedCall(_ request: SandboxRequest, route: APIRoute, params: [String: String]) -> SandboxResponse {
        if !route.authenticated {
            let anonymous = AccessTokenRecord(provider: route.provider, clientID: "", grantID: nil, user: nil, scopes: [], expiresAt: now)
            return route.handler(self, APIContext(request: request, params: params, token: anonymous, route: route))
        }
        guard let bearer = request.bearerToken, !bearer.isEmpty else { return unauthorized(route.provider, tokenGiven: false) }
        guard let token = accessTokens[bearer], token.provider == route.provider, !token.revoked, now < token.expiresAt else {
            return unauthorized(route.provider, tokenGiven: true)
        }
        // Graph refuses /me to an app-only token before it looks at permissions.
        if route.provider == .microsoft, token.user == nil, route.template.hasPrefix("/microsoft/graph/v1.0/me") {
            return graphAppOnly()
        }
        if !route.scopes.isEmpty, !route.scopes.contains(where: { token.scopes.contains($0) }) {
            return insufficientScope(route)
        }
        return route.handler(self, APIContext(request: request, params: params, token: token, route: route))
    }

    func unauthorized(_ provider: Provider, tokenGiven: Bool) -> SandboxResponse {
        switch provider {
        case .google:
            var challenge = "Bearer realm=\"\(Self.googleAPIRealm)\""
            if tokenGiven { challenge += ", error=\"invalid_token\"" }
            let detail: [String: Any] = ["message": "Invalid Credentials", "domain": "global", "reason": "authError", "location": "Authorization", "locationType": "header"]
            let error: [String: Any] = [
                "code": 401, "status": "UNAUTHENTICATED", "errors": [detail],
                "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            ]
            return .json(401, ["error": error], headers: [("WWW-Authenticate", challenge)])
        case .microsoft:
            var challenge = "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\""
            if tokenGiven { challenge += ", error=\"invalid_token\"" }
            let message = tokenGiven ? "Access token has expired or is not yet valid." : "Access token is empty."
            return graphError(401, "InvalidAuthenticationToken", message, headers: [("WWW-Authenticate", challenge)])
        case .zoom:
            let body: [String: Any] = ["code": 124, "message": tokenGiven ? "Invalid access token." : "Access token is missing."]
            return .json(401, body, headers: [("WWW-Authenticate", "Bearer error=\"invalid_token\"")])
        }
    }

    func insufficientScope(_ route: APIRoute) -> SandboxResponse {
        let challenge: String
        switch route.provider {
        case .google:
            challenge = "Bearer realm=\"\(Self.googleAPIRealm)\", error=\"insufficient_scope\", scope=\"\(route.scopes.joined(separator: " "))\""
            let detail: [String: Any] = ["message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"]
            let info: [String: Any] = [
                "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "domain": "googleapis.com",
                "metadata": ["method": route.key, "service": "googleapis.com"],
            ]
            let error: [String: Any] = [
                "code": 403, "message": "Request had insufficient authentication scopes.", "status": "PERMISSION_DENIED",
                "errors": [detail], "details": [info],
            ]
            return .json(403, ["error": error], headers: [("WWW-Authenticate", challenge)])
        case .microsoft:
            challenge = "Bearer error=\"insufficient_scope\", scope=\"\(route.scopes.joined(separator: " "))\""
            return graphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.", headers: [("WWW-Authenticate", challenge)])
        case .zoom:
            let body: [String: Any] = ["code": 4711, "message": "Invalid access token, does not contain scopes:[\(route.scopes.joined(separator: ", "))]."]
            return .json(403, body, headers: [("WWW-Authenticate", "Bearer error=\"insufficient_scope\"")])
        }
    }

    /// An error in the API's shape: Google's `{"error":{code,message,status,errors}}`,
    /// Graph's `{"error":{code,message,innerError}}`, Zoom's `{code,message}`.
    func apiError(
        _ provider: Provider, _ status: Int, _ message: String, googleStatus: String = "INVALID_ARGUMENT", graphCode: String = "BadRequest",
        reason: String = "badRequest", domain: String = "global", headers: [(name: String, value: String)] = []
    ) -> SandboxResponse {
        switch provider {
        case .google:
            let detail: [String: Any] = ["message": message, "domain": domain, "reason": reason]
            let error: [String: Any] = ["code": status, "message": message, "status": googleStatus, "errors": [detail]]
            return .json(status, ["error": error], headers: headers)
        case .microsoft:
            return graphError(status, graphCode, message, headers: headers)
        case .zoom:
            return .json(status, ["code": status, "message": message], headers: headers)
        }
    }

    func googleError(_ status: Int, _ message: String, _ googleStatus: String = "INVALID_ARGUMENT", reason: String = "badRequest") -> SandboxResponse {
        return apiError(.google, status, message, googleStatus: googleStatus, reason: reason)
    }

    func graphError(_ status: Int, _ code: String, _ message: String, headers: [(name: String, value: String)] = []) -> SandboxResponse {
        let inner: [String: Any] = [
            "date": Self.rfc3339(now), "request-id": UUID().uuidString.lowercased(),
            "client-request-id": UUID().uuidString.lowercased(),
        ]
        let error: [String: Any] = ["code": code, "message": message, "innerError": inner]
        return .json(status, ["error": error], headers: headers)
    }

    /// Google rejects query parameters it does not know.
    func googleUnknownParameter(_ context: APIContext, allowed: Set<String>) -> SandboxResponse? {
        for (name, _) in context.request.query where !allowed.contains(name) && !Self.googleSystemParameters.contains(name) {
            return googleError(400, "Invalid JSON payload received. Unknown name \"\(name)\": Cannot bind query parameter. Field '\(name)' could not be found in request message.")
        }
        return nil
    }

    /// Graph rejects OData system query options it does not support on a route.
    func graphUnknownOption(_ context: APIContext, allowed: Set<String>) -> SandboxResponse? {
        for (name, _) in context.request.query where name.hasPrefix("$") && !allowed.contains(name) {
            return graphError(400, "BadRequest", "Query option '\(name.dropFirst())' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.")
        }
        return nil
    }

    // MARK: Identity routes

    func googleUserinfo(_ context: APIContext) -> SandboxResponse {
        guard let user = users[context.user] else {
            let body: [String: Any] = ["sub": context.user, "email": context.user, "email_verified": true]
            return .json(200, body)
        }
        let parts = user.name.split(separator: " ")
        var body: [String: Any] = ["sub": user.id, "name": user.name, "given_name": String(parts.first ?? ""), "family_name": String(parts.last ?? "")]
        if context.token.scopes.contains("email") || context.token.scopes.contains(Self.googleScopePrefix + "userinfo.email") {
            body["email"] = user.email
            body["email_verified"] = true
        }
        return .json(200, body)
    }

    func graphMe(_ context: APIContext) -> SandboxResponse {
        guard let user = users[context.user] else { return graphAppOnly() }
        let parts = user.name.split(separator: " ")
        let body: [String: Any] = [
            "@odata.context": baseURL + "/microsoft/graph/v1.0/$metadata#users/$entity",
            "id": user.id, "displayName": user.name, "givenName": String(parts.first ?? ""), "surname": String(parts.last ?? ""),
            "mail": user.email, "userPrincipalName": user.email, "businessPhones": [String](), "jobTitle": NSNull(),
            "mobilePhone": NSNull(), "officeLocation": NSNull(), "preferredLanguage": "en-US",
        ]
        return .json(200, body)
    }

    func graphAppOnly() -> SandboxResponse {
        graphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    }

    func zoomMe(_ context: APIContext) -> SandboxResponse {
        let email = context.token.user ?? "admin@sandbox.test"
        let name = users[email]?.name ?? "Sandbox Admin"
        let body: [String: Any] = ["id": "sandbox-" + (users[email]?.id ?? "admin"), "email": email, "display_name": name, "account_id": SandboxDefaults.zoomAccount, "type": 2]
        return .json(200, body)
    }
}
