import BrokerCrypto
import Foundation

/// Microsoft identity platform v2.0 under `/microsoft/{tenant}/oauth2/v2.0/`.
extension SandboxState {
    static let graphResource = "https://graph.microsoft.com/"
    static let graphPermissions: Set<String> = [
        "User.Read", "Calendars.Read", "Calendars.ReadWrite", "Mail.Read", "Mail.ReadBasic", "Mail.ReadWrite",
        "Mail.Send", "Contacts.Read", "Contacts.ReadWrite",
    ]
    static let openIDScopes: Set<String> = ["openid", "profile", "email", "offline_access"]

    /// Normalizes a v2.0 scope string: a bare permission means Graph's; the OpenID scopes
    /// stay bare. Returns the scopes, or the first one that is not valid.
    static func microsoftScopes(_ text: String?) -> (scopes: [String], invalid: String?) {
        var result: [String] = []
        for raw in scopeList(text) {
            let lower = raw.lowercased()
            if openIDScopes.contains(lower) {
                if !result.contains(lower) { result.append(lower) }
                continue
            }
            let full = raw.contains("://") ? raw : graphResource + raw
            guard full.hasPrefix(graphResource) else { return (result, raw) }
            let name = String(full.dropFirst(graphResource.count))
            guard let canonical = graphPermissions.first(where: { $0.lowercased() == name.lowercased() }) else { return (result, raw) }
            let scope = graphResource + canonical
            if !result.contains(scope) { result.append(scope) }
        }
        return (result, nil)
    }

    func knownTenant(_ tenant: String) -> Bool { tenants.contains(tenant) }

    func microsoftAuthorize(_ request: SandboxRequest, tenant: String) -> SandboxResponse {
        let q = Self.dictionary(request.method == "POST" ? request.form : request.query)
        guard knownTenant(tenant) else {
            return errorPage(400, "invalid_tenant", "AADSTS90002: Tenant '\(tenant)' not found.")
        }
        guard let clientID = q["client_id"], let client = client(clientID, .microsoft) else {
            return errorPage(400, "unauthorized_client",
                "AADSTS700016: Application with identifier '\(q["client_id"] ?? "")' was not found in the directory '\(tenant)'.")
        }
        guard let redirect = q["redirect_uri"], redirectAllowed(client, redirect) else {
            return errorPage(400, "invalid_request",
                "AADSTS50011: The redirect URI '\(q["redirect_uri"] ?? "")' specified in the request does not match the redirect URIs configured for the application '\(client.clientID)'.")
        }
        let state = q["state"]
        guard q["response_type"] == "code" else {
            return errorRedirect(redirect, error: "unsupported_response_type",
                description: "AADSTS700054: response_type '\(q["response_type"] ?? "")' is not enabled for the application.", state: state)
        }
        let (scopes, invalid) = Self.microsoftScopes(q["scope"])
        if let invalid {
            return errorRedirect(redirect, error: "invalid_scope",
                description: "AADSTS70011: The provided value for the input parameter 'scope' is not valid. The scope \(invalid) is not valid.", state: state)
        }
        guard !scopes.isEmpty else {
            return errorRedirect(redirect, error: "invalid_request",
                description: "AADSTS900144: The request body must contain the following parameter: 'scope'.", state: state)
        }
        let method = q["code_challenge_method"] ?? "plain"
        let challenge = q["code_challenge"]
        if let challenge {
            guard method == "S256" || method == "plain", Self.validChallenge(challenge, method: method) else {
                return errorRedirect(redirect, error: "invalid_request", description: "AADSTS501491: Invalid size of Code_Challenge parameter.", state: state)
            }
        } else if client.isPublic {
            return errorRedirect(redirect, error: "invalid_request",
                description: "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption.", state: state)
        }
        guard let user = consentingUser(q["login_hint"]) else {
            return errorRedirect(redirect, error: "access_denied", description: "AADSTS65004: User declined to consent to access the app.", state: state)
        }
        let code = newToken("0.sandbox-")
        codes[code] = AuthorizationCodeRecord(
            provider: .microsoft, clientID: client.clientID, redirectURI: redirect, user: user, scopes: scopes,
            challenge: challenge, challengeMethod: method,
            expiresAt: now.addingTimeInterval(TimeInterval(settings.authorizationCodeLifetime)), offline: scopes.contains("offline_access"),
            tenant: tenant)
        var pairs: [(String, String)] = [("code", code)]
        if let state { pairs.append(("state", state)) }
        pairs.append(("session_state", UUID().uuidString.lowercased()))
        return .redirect(Self.appendQuery(redirect, pairs))
    }

    func microsoftDeviceCode(_ request: SandboxRequest, tenant: String) -> SandboxResponse {
        guard request.method == "POST" else { return oauthError(.microsoft, 405, "invalid_request", "Use POST.", aadsts: 900561) }
        guard knownTenant(tenant) else { return oauthError(.microsoft, 400, "invalid_request", "Tenant '\(tenant)' not found.", aadsts: 90002) }
        let form = Self.dictionary(request.form)
        guard let client = client(form["client_id"], .microsoft) else {
            return oauthError(.microsoft, 400, "unauthorized_client", "Application with identifier '\(form["client_id"] ?? "")' was not found in the directory '\(tenant)'.", aadsts: 700016)
        }
        let (scopes, invalid) = Self.microsoftScopes(form["scope"])
        guard invalid == nil, !scopes.isEmpty else {
            return oauthError(.microsoft, 400, "invalid_scope", "The provided value for the input parameter 'scope' is not valid.", aadsts: 70011)
        }
        let (device, user) = newDeviceCode(.microsoft, client: client, scopes: scopes, tenant: tenant)
        let uri = baseURL + "/microsoft/devicelogin"
        let body: [String: Any] = [
            "device_code": device, "user_code": user, "verification_uri": uri,
            "expires_in": settings.deviceCodeLifetime, "interval": settings.devicePollInterval,
            "message": "To sign in, use a web browser to open the page \(uri) and enter the code \(user) to authenticate.",
        ]
        return .json(200, body)
    }

    // MARK: Token endpoint

    func microsoftToken(_ request: SandboxRequest, form: [String: String], tenant: String) -> SandboxResponse {
        guard knownTenant(tenant) else { return oauthError(.microsoft, 400, "invalid_request", "Tenant '\(tenant)' not found.", aadsts: 90002) }
        let grantType = form["grant_type"] ?? ""
        guard !grantType.isEmpty else {
            return oauthError(.microsoft, 400, "invalid_request", "The request body must contain the following parameter: 'grant_type'.", aadsts: 900144)
        }
        // Client authentication by HTTP Basic (client_secret_basic) when the form names no
        // client: the Basic user is the client id, the password its secret.
        var form = form
        if form["client_id"] == nil, form["client_secret"] == nil, let basic = request.basicCredentials {
            form["client_id"] = basic.user
            form["client_secret"] = basic.password
        }
        guard let clientID = form["client_id"], let client = client(clientID, .microsoft) else {
            return oauthError(.microsoft, 400, "unauthorized_client",
                "Application with identifier '\(form["client_id"] ?? "")' was not found in the directory '\(tenant)'.", aadsts: 700016)
        }
        if let failure = microsoftClientAuthentication(form, client: client, tenant: tenant) { return failure }
        switch grantType {
        case "authorization_code": return microsoftAuthorizationCode(form, client: client)
        case "refresh_token": return microsoftRefresh(form, client: client)
        case "client_credentials": return microsoftClientCredentials(form, client: client)
        case Self.deviceCodeGrant: return deviceCodeToken(form, client: client, provider: .microsoft)
        default:
            return oauthError(.microsoft, 400, "unsupported_grant_type", "The provided value for the input parameter 'grant_type' is not valid.", aadsts: 70003)
        }
    }

    /// A confidential client proves itself with its secret or a certificate assertion; a
    /// public client must send neither.
    func microsoftClientAuthentication(_ form: [String: String], client: ClientRecord, tenant: String) -> SandboxResponse? {
        let secret = form["client_secret"]
        let assertion = form["client_assertion"]
        if client.isPublic {
            guard secret == nil, assertion == nil else {
                return oauthError(.microsoft, 401, "invalid_client", "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.", aadsts: 700025)
            }
            return nil
        }
        if let assertion {
            guard form["client_assertion_type"] == Self.clientAssertionType else {
                return oauthError(.microsoft, 400, "invalid_request", "The client_assertion_type must be \(Self.clientAssertionType).", aadsts: 50027)
            }
            guard let key = client.certificateKey else {
                return oauthError(.microsoft, 401, "invalid_client", "The client has no certificate credential registered.", aadsts: 700027)
            }
            guard let jwt = JWTAssertion(assertion), jwt.verify(with: key) else {
                return oauthError(.microsoft, 401, "invalid_client", "Client assertion failed signature validation.", aadsts: 700027)
            }
            guard jwt.string("iss") == client.clientID, jwt.string("sub") == client.clientID else {
                return oauthError(.microsoft, 401, "invalid_client", "Client assertion contains an invalid issuer or subject.", aadsts: 700023)
            }
            let audiences = [
                baseURL + "/microsoft/\(tenant)/oauth2/v2.0/token",
                "https://login.microsoftonline.com/\(tenant)/oauth2/v2.0/token",
            ]
            guard jwt.audiences.contains(where: { audiences.contains($0) }) else {
                return oauthError(.microsoft, 401, "invalid_client", "Client assertion audience claim does not match Realm issuer.", aadsts: 700212)
            }
            let current = now.timeIntervalSince1970
            let notBefore = jwt.time("nbf") ?? jwt.time("iat") ?? 0
            guard let exp = jwt.time("exp"), exp > current, notBefore <= current + 300 else {
                return oauthError(.microsoft, 401, "invalid_client", "Client assertion is not within its valid time range.", aadsts: 700024)
            }
            return nil
        }
        guard let secret else {
            return oauthError(.microsoft, 401, "invalid_client",
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", aadsts: 7_000_218)
        }
        guard Self.secretMatches(secret, client.secret) else {
            return oauthError(.microsoft, 401, "invalid_client",
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '\(client.clientID)'.", aadsts: 7_000_215)
        }
        return nil
    }

    func microsoftAuthorizationCode(_ form: [String: String], client: ClientRecord) -> SandboxResponse {
        guard let code = form["code"], let record = codes[code], record.provider == .microsoft else {
            return oauthError(.microsoft, 400, "invalid_grant", "The provided value for the 'code' parameter is not valid.", aadsts: 70000)
        }
        guard !record.used else {
            return oauthError(.microsoft, 400, "invalid_grant",
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.", aadsts: 54005)
        }
        guard now < record.expiresAt else {
            return oauthError(.microsoft, 400, "invalid_grant",
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.", aadsts: 70008)
        }
        guard record.clientID == client.clientID else {
            return oauthError(.microsoft, 400, "invalid_grant", "The code was issued to a different client.", aadsts: 70000)
        }
        guard form["redirect_uri"] == record.redirectURI else {
            return oauthError(.microsoft, 400, "invalid_grant",
                "The reply URL specified in the request does not match the reply URL used when requesting the code.", aadsts: 500_112)
        }
        if let challenge = record.challenge {
            guard let verifier = form["code_verifier"],
                Self.pkceMatches(verifier: verifier, challenge: challenge, method: record.challengeMethod)
            else {
                return oauthError(.microsoft, 400, "invalid_grant", "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.", aadsts: 501_481)
            }
        }
        codes[code]?.used = true
        let grant = newGrant(.microsoft, clientID: client.clientID, user: record.user, scopes: record.scopes)
        return microsoftTokenResponse(client: client, grantID: grant, user: record.user, scopes: record.scopes)
    }

    /// Access token scopes: the resource scopes; a refresh token only with offline_access.
    func microsoftTokenResponse(client: ClientRecord, grantID: Int, user: String?, scopes: [String]) -> SandboxResponse {
        let access = issueAccessToken(.microsoft, clientID: client.clientID, grantID: grantID, user: user, scopes: scopes)
        var body: [String: Any] = [
            "token_type": "Bearer", "scope": scopes.joined(separator: " "), "expires_in": settings.accessTokenLifetime,
            "ext_expires_in": settings.accessTokenLifetime, "access_token": access,
        ]
        if grants[grantID]?.scopes.contains("offline_access") == true {
            body["refresh_token"] = issueRefreshToken(.microsoft, clientID: client.clientID, grantID: grantID)
        }
        return .json(200, body, headers: [("Cache-Control", "no-store")])
    }

    /// Every refresh returns a new refresh token. The old one stays valid (Microsoft's
    /// documented behaviour) unless strict rotation is on, which refuses its reuse.
    func microsoftRefresh(_ form: [String: String], client: ClientRecord) -> SandboxResponse {
        guard let token = form["refresh_token"], let record = refreshTokens[token], record.provider == .microsoft else {
            return oauthError(.microsoft, 400, "invalid_grant", "The provided value for the input parameter 'refresh_token' is not valid.", aadsts: 9_002_313)
        }
        guard record.clientID == client.clientID else {
            return oauthError(.microsoft, 400, "invalid_grant", "The refresh token was issued to a different client.", aadsts: 700_005)
        }
        if let rotatedAt = record.rotatedAt, settings.microsoftStrictRotation {
            log("sandbox: refused reuse of a rotated Microsoft refresh token (strict)")
            strictReuseRefusals.append(rotatedAt)
            return oauthError(.microsoft, 400, "invalid_grant",
                "The provided grant has already been redeemed: refresh token reuse detected (sandbox strict rotation).", aadsts: 70000)
        }
        guard refreshTokenUsable(token), let grant = grants[record.grantID] else {
            return oauthError(.microsoft, 400, "invalid_grant",
                "The provided grant has expired due to it being revoked, a fresh auth token is needed.", aadsts: 50173)
        }
        var scopes = grant.scopes
        if let requested = form["scope"] {
            let (wanted, invalid) = Self.microsoftScopes(requested)
            if let invalid {
                return oauthError(.microsoft, 400, "invalid_scope", "The provided value for the input parameter 'scope' is not valid. The scope \(invalid) is not valid.", aadsts: 70011)
            }
            let extra = wanted.filter { !grant.scopes.contains($0) }
            guard extra.isEmpty else {
                return oauthError(.microsoft, 400, "invalid_grant",
                    "The user or administrator has not consented to use the application with ID '\(client.clientID)'. Send an interactive authorization request for this user and resource.", aadsts: 65001)
            }
            if !wanted.isEmpty { scopes = wanted }
        }
        refreshTokens[token]?.rotatedAt = Date().timeIntervalSince1970
        if settings.microsoftStrictRotation { refreshTokens[token]?.valid = false }
        let access = issueAccessToken(.microsoft, clientID: client.clientID, grantID: grant.id, user: grant.user, scopes: scopes)
        let body: [String: Any] = [
            "token_type": "Bearer", "scope": scopes.joined(separator: " "), "expires_in": settings.accessTokenLifetime,
            "ext_expires_in": settings.accessTokenLifetime, "access_token": access,
            "refresh_token": issueRefreshToken(.microsoft, clientID: client.clientID, grantID: grant.id),
        ]
        return .json(200, body, headers: [("Cache-Control", "no-store")])
    }

    /// App-only tokens: the scope must be `{resource}/.default`; the token carries the
    /// app's application permissions.
    func microsoftClientCredentials(_ form: [String: String], client: ClientRecord) -> SandboxResponse {
        guard !client.isPublic else {
            return oauthError(.microsoft, 401, "invalid_client",
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", aadsts: 7_000_218)
        }
        let scopes = Self.scopeList(form["scope"])
        guard scopes.count == 1, scopes[0] == Self.graphResource + ".default" || scopes[0] == "https://graph.microsoft.com/.default" else {
            return oauthError(.microsoft, 400, "invalid_scope",
                "The provided value for scope \(form["scope"] ?? "") is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", aadsts: 1_002_012)
        }
        let granted = client.permissions.map { Self.graphResource + $0 }
        let grant = newGrant(.microsoft, clientID: client.clientID, user: nil, scopes: granted)
        let access = issueAccessToken(.microsoft, clientID: client.clientID, grantID: grant, user: nil, scopes: granted)
        let body: [String: Any] = [
            "token_type": "Bearer", "expires_in": settings.accessTokenLifetime, "ext_expires_in": settings.accessTokenLifetime,
            "access_token": access,
        ]
        return .json(200, body, headers: [("Cache-Control", "no-store")])
    }
}
