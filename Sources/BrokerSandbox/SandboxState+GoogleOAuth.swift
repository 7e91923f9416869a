import BrokerCrypto
import Foundation

/// Google OAuth 2.0: web server, installed-app, limited-input-device and service-account
/// flows, under `/google`.
extension SandboxState {
    static let googleScopePrefix = "https://www.googleapis.com/auth/"
    static let googleKnownScopes: Set<String> = {
        var scopes: Set<String> = ["openid", "email", "profile", "https://mail.google.com/"]
        let names = [
            "calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly",
            "gmail.readonly", "gmail.send", "gmail.modify", "gmail.metadata", "gmail.compose", "gmail.labels",
            "contacts", "contacts.readonly", "userinfo.email", "userinfo.profile",
        ]
        for name in names { scopes.insert(googleScopePrefix + name) }
        return scopes
    }()

    /// The audiences a Google JWT-bearer assertion may name: the sandbox's own token
    /// endpoint, or Google's real one (so client code need not special-case the sandbox).
    var googleTokenAudiences: [String] { [baseURL + "/google/token", "https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token"] }

    // MARK: Authorization endpoint

    func googleAuthorize(_ request: SandboxRequest) -> SandboxResponse {
        guard request.method == "GET" || request.method == "POST" else { return errorPage(405, "invalid_request", "Use GET.") }
        let q = Self.dictionary(request.method == "POST" ? request.form : request.query)
        guard let client = client(q["client_id"], .google) else {
            return errorPage(401, "invalid_client", "The OAuth client was not found.")
        }
        guard let redirect = q["redirect_uri"], !redirect.isEmpty else {
            return errorPage(400, "invalid_request", "Missing required parameter: redirect_uri")
        }
        guard redirectAllowed(client, redirect) else {
            return errorPage(400, "redirect_uri_mismatch",
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy: redirect_uri=\(redirect) is not registered for client \(client.clientID).")
        }
        guard client.type != "tv" else { return errorPage(401, "invalid_client", "Invalid client type.") }
        let state = q["state"]
        guard let responseType = q["response_type"], responseType == "code" else {
            return errorRedirect(redirect, error: "unsupported_response_type", description: "Invalid response_type: \(q["response_type"] ?? "")", state: state)
        }
        let scopes = Self.scopeList(q["scope"])
        guard !scopes.isEmpty else {
            return errorRedirect(redirect, error: "invalid_request", description: "Missing required parameter: scope", state: state)
        }
        let unknown = scopes.filter { !Self.googleKnownScopes.contains($0) }
        guard unknown.isEmpty else {
            return errorRedirect(redirect, error: "invalid_scope", description: "Some requested scopes were invalid. {invalid=[\(unknown.joined(separator: ", "))]}", state: state)
        }
        let method = q["code_challenge_method"] ?? "plain"
        let challenge = q["code_challenge"]
        if let challenge {
            guard method == "S256" || method == "plain", Self.validChallenge(challenge, method: method) else {
                return errorRedirect(redirect, error: "invalid_request", description: "Invalid code_challenge or code_challenge_method.", state: state)
            }
        } else if client.isPublic {
            return errorRedirect(redirect, error: "invalid_request", description: "Missing required parameter: code_challenge", state: state)
        }
        let access = q["access_type"] ?? "online"
        guard access == "online" || access == "offline" else {
            return errorRedirect(redirect, error: "invalid_request", description: "Invalid access_type: \(access)", state: state)
        }
        guard let user = consentingUser(q["login_hint"]) else {
            return errorRedirect(redirect, error: "access_denied", description: "The user denied access.", state: state)
        }
        let code = newToken("4/0sandbox-")
        codes[code] = AuthorizationCodeRecord(
            provider: .google, clientID: client.clientID, redirectURI: redirect, user: user, scopes: scopes,
            challenge: challenge, challengeMethod: method,
            expiresAt: now.addingTimeInterval(TimeInterval(settings.authorizationCodeLifetime)), offline: access == "offline")
        var pairs: [(String, String)] = []
        if let state { pairs.append(("state", state)) }
        pairs.append(("code", code))
        pairs.append(("scope", scopes.joined(separator: " ")))
        return .redirect(Self.appendQuery(redirect, pairs))
    }

    /// The user who signs in: the `login_hint` user, else the first registered one; nil
    /// when that user refuses consent or is unknown.
    func consentingUser(_ hint: String?) -> String? {
        let email = (hint?.isEmpty == false) ? hint! : (userOrder.first ?? "")
        guard let user = users[email], user.consents else { return nil }
        return user.email
    }

    // MARK: Token endpoint

    func googleToken(_ request: SandboxRequest, form: [String: String]) -> SandboxResponse {
        let grantType = form["grant_type"] ?? ""
        if grantType == Self.jwtBearerGrant { return googleJWTBearer(form) }
        guard !grantType.isEmpty else { return oauthError(.google, 400, "unsupported_grant_type", "Invalid grant_type: ") }
        let basic = request.basicCredentials
        let clientID = form["client_id"] ?? basic?.user
        let secret = form["client_secret"] ?? basic?.password
        guard let client = client(clientID, .google) else {
            return oauthError(.google, 401, "invalid_client", "The OAuth client was not found.")
        }
        // Google requires the secret of every client that has one, web, desktop
        // (installed app) and TV alike. Only a client registered as public without a
        // secret (it must use PKCE) omits it; any secret sent must be right.
        if client.secret != nil, secret?.isEmpty ?? true {
            return oauthError(.google, 400, "invalid_request", "client_secret is missing.")
        }
        if secret != nil || client.secret != nil {
            guard Self.secretMatches(secret, client.secret) else {
                return oauthError(.google, 401, "invalid_client", "Unauthorized")
            }
        }
        switch grantType {
        case "authorization_code": return googleAuthorizationCode(form, client: client)
        case "refresh_token": return googleRefresh(form, client: client)
        case Self.deviceCodeGrant: return deviceCodeToken(form, client: client, provider: .google)
        default: return oauthError(.google, 400, "unsupported_grant_type", "Invalid grant_type: \(grantType)")
        }
    }

    func googleAuthorizationCode(_ form: [String: String], client: ClientRecord) -> SandboxResponse {
        guard let code = form["code"], !code.isEmpty else {
            return oauthError(.google, 400, "invalid_request", "Missing required parameter: code")
        }
        guard let record = codes[code], record.provider == .google else {
            return oauthError(.google, 400, "invalid_grant", "Malformed auth code.")
        }
        guard !record.used else { return oauthError(.google, 400, "invalid_grant", "Bad Request: the authorization code was already redeemed.") }
        guard now < record.expiresAt else { return oauthError(.google, 400, "invalid_grant", "Bad Request: the authorization code has expired.") }
        guard record.clientID == client.clientID else { return oauthError(.google, 400, "invalid_grant", "Bad Request: the code was issued to another client.") }
        guard form["redirect_uri"] == record.redirectURI else {
            return oauthError(.google, 400, "redirect_uri_mismatch", "Bad Request")
        }
        if let challenge = record.challenge {
            guard let verifier = form["code_verifier"], !verifier.isEmpty else {
                return oauthError(.google, 400, "invalid_grant", "Missing code verifier.")
            }
            guard Self.pkceMatches(verifier: verifier, challenge: challenge, method: record.challengeMethod) else {
                return oauthError(.google, 400, "invalid_grant", "Invalid code verifier.")
            }
        }
        codes[code]?.used = true
        let grant = newGrant(.google, clientID: client.clientID, user: record.user, scopes: record.scopes)
        return googleTokenResponse(client: client, grantID: grant, user: record.user, scopes: record.scopes, refresh: record.offline)
    }

    func googleTokenResponse(client: ClientRecord, grantID: Int?, user: String?, scopes: [String], refresh: Bool) -> SandboxResponse {
        let access = issueAccessToken(.google, clientID: client.clientID, grantID: grantID, user: user, scopes: scopes)
        var body: [String: Any] = [
            "access_token": access, "expires_in": settings.accessTokenLifetime, "token_type": "Bearer",
            "scope": scopes.joined(separator: " "),
        ]
        if refresh, let grantID {
            body["refresh_token"] = issueRefreshToken(.google, clientID: client.clientID, grantID: grantID)
        }
        return .json(200, body, headers: [("Cache-Control", "no-store"), ("Pragma", "no-cache")])
    }

    func googleRefresh(_ form: [String: String], client: ClientRecord) -> SandboxResponse {
        guard let token = form["refresh_token"], !token.isEmpty else {
            return oauthError(.google, 400, "invalid_request", "Missing required parameter: refresh_token")
        }
        guard let record = refreshTokens[token], record.provider == .google else {
            return oauthError(.google, 400, "invalid_grant", "Bad Request")
        }
        guard record.clientID == client.clientID else { return oauthError(.google, 401, "unauthorized_client", "Unauthorized") }
        guard refreshTokenUsable(token), let grant = grants[record.grantID] else {
            return oauthError(.google, 400, "invalid_grant", "Token has been expired or revoked.")
        }
        var scopes = grant.scopes
        if let requested = form["scope"] {
            let wanted = Self.scopeList(requested)
            let extra = wanted.filter { !grant.scopes.contains($0) }
            guard extra.isEmpty, !wanted.isEmpty else {
                return oauthError(.google, 400, "invalid_scope", "Some requested scopes were invalid. {valid=[\(grant.scopes.joined(separator: ", "))], invalid=[\(extra.joined(separator: ", "))]}")
            }
            scopes = wanted
        }
        return googleTokenResponse(client: client, grantID: grant.id, user: grant.user, scopes: scopes, refresh: false)
    }

    /// Service-account assertions (RFC 7523), checked as Google documents.
    func googleJWTBearer(_ form: [String: String]) -> SandboxResponse {
        guard let text = form["assertion"], let jwt = JWTAssertion(text) else {
            return oauthError(.google, 400, "invalid_grant", "Invalid JWT: the assertion is not a signed JWT.")
        }
        guard let iss = jwt.string("iss"), let account = serviceAccounts[iss] else {
            return oauthError(.google, 400, "invalid_grant", "Invalid grant: account not found")
        }
        guard jwt.verify(with: account.key) else {
            return oauthError(.google, 400, "invalid_grant", "Invalid JWT Signature.")
        }
        if let kid = account.keyID, let given = jwt.header["kid"] as? String, given != kid {
            return oauthError(.google, 400, "invalid_grant", "Invalid JWT Signature.")
        }
        guard jwt.audiences.contains(where: { googleTokenAudiences.contains($0) }) else {
            return oauthError(.google, 400, "invalid_grant", "Invalid JWT: Failed audience check. The expected audience is \(baseURL)/google/token.")
        }
        let current = now.timeIntervalSince1970
        guard let iat = jwt.time("iat"), let exp = jwt.time("exp"), exp > iat, exp - iat <= 3600,
            iat <= current + 300, exp > current
        else {
            return oauthError(.google, 400, "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
        }
        let scopes = Self.scopeList(jwt.string("scope"))
        guard !scopes.isEmpty else { return oauthError(.google, 400, "invalid_scope", "Empty or missing scope not allowed.") }
        let unknown = scopes.filter { !Self.googleKnownScopes.contains($0) }
        guard unknown.isEmpty else { return oauthError(.google, 400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.") }
        var subject = account.email
        if let sub = jwt.string("sub"), sub != account.email {
            guard account.delegation, users[sub] != nil else {
                return oauthError(.google, 401, "unauthorized_client",
                    "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
            }
            subject = sub
        }
        let access = issueAccessToken(.google, clientID: account.email, grantID: nil, user: subject, scopes: scopes)
        let body: [String: Any] = ["access_token": access, "expires_in": settings.accessTokenLifetime, "token_type": "Bearer"]
        return .json(200, body, headers: [("Cache-Control", "no-store")])
    }

    // MARK: Device flow (shared by Google and Microsoft)

    func googleDeviceCode(_ request: SandboxRequest) -> SandboxResponse {
        guard request.method == "POST" else { return oauthError(.google, 405, "invalid_request", "Use POST.") }
        let form = Self.dictionary(request.form)
        guard let client = client(form["client_id"], .google) else {
            return oauthError(.google, 401, "invalid_client", "The OAuth client was not found.")
        }
        guard client.type == "tv" else { return oauthError(.google, 401, "invalid_client", "Invalid client type.") }
        let scopes = Self.scopeList(form["scope"])
        guard !scopes.isEmpty, scopes.allSatisfy({ Self.googleKnownScopes.contains($0) }) else {
            return oauthError(.google, 400, "invalid_scope", "Some requested scopes were invalid.")
        }
        let (device, user) = newDeviceCode(.google, client: client, scopes: scopes, tenant: nil)
        let body: [String: Any] = [
            "device_code": device, "user_code": user, "verification_url": baseURL + "/google/device",
            "expires_in": settings.deviceCodeLifetime, "interval": settings.devicePollInterval,
        ]
        return .json(200, body)
    }

    func newDeviceCode(_ provider: Provider, client: ClientRecord, scopes: [String], tenant: String?) -> (String, String) {
        let device = newToken(provider == .google ? "AH-sandbox-" : "DAQABAAEA.sandbox-")
        let user = newUserCode()
        deviceCodes[device] = DeviceCodeRecord(
            provider: provider, clientID: client.clientID, userCode: user, scopes: scopes,
            expiresAt: now.addingTimeInterval(TimeInterval(settings.deviceCodeLifetime)),
            interval: settings.devicePollInterval, tenant: tenant)
        userCodes[user] = device
        return (device, user)
    }

    /// Polling with a device code: pending, slow_down (polled sooner than the interval,
    /// which then grows by 5 s), denied, expired, or the tokens once approved.
    func deviceCodeToken(_ form: [String: String], client: ClientRecord, provider: Provider) -> SandboxResponse {
        guard let code = form["device_code"], let record = deviceCodes[code], record.provider == provider, record.clientID == client.clientID else {
            return provider == .google
                ? oauthError(.google, 400, "invalid_grant", "Bad Request")
                : oauthError(.microsoft, 400, "invalid_grant", "The provided value for the input parameter 'device_code' is not valid.", aadsts: 70000)
        }
        let deniedError = provider == .google ? "access_denied" : "authorization_declined"
        let pendingStatus = provider == .google ? 428 : 400
        guard !record.redeemed else {
            return oauthError(provider, 400, "invalid_grant", "The device code was already redeemed.", aadsts: 54005)
        }
        guard now < record.expiresAt else {
            return oauthError(provider, 400, "expired_token", "The device code has expired.", aadsts: 70019)
        }
        switch record.status {
        case .denied:
            return oauthError(provider, provider == .google ? 403 : 400, deniedError, "The user denied the request.", aadsts: 70000)
        case .pending:
            let current = now
            let tooSoon = record.lastPoll.map { current.timeIntervalSince($0) < TimeInterval(record.interval) } ?? false
            deviceCodes[code]?.lastPoll = current
            if tooSoon {
                deviceCodes[code]?.interval = record.interval + 5
                return oauthError(provider, provider == .google ? 403 : 400, "slow_down", "Polling too frequently; slow down.", aadsts: 70016)
            }
            return oauthError(provider, pendingStatus, "authorization_pending", "Authorization is pending. Continue polling.", aadsts: 70016)
        case .approved(let user):
            deviceCodes[code]?.redeemed = true
            let grant = newGrant(provider, clientID: client.clientID, user: user, scopes: record.scopes)
            if provider == .google {
                return googleTokenResponse(client: client, grantID: grant, user: user, scopes: record.scopes, refresh: true)
            }
            return microsoftTokenResponse(client: client, grantID: grant, user: user, scopes: record.scopes)
        }
    }

    // MARK: Revocation

    func googleRevoke(_ request: SandboxRequest) -> SandboxResponse {
        guard request.method == "POST" else { return oauthError(.google, 405, "invalid_request", "Use POST.") }
        let form = Self.dictionary(request.form + request.query)
        guard let token = form["token"], !token.isEmpty else {
            return oauthError(.google, 400, "invalid_request", "Missing required parameter: token")
        }
        if let record = refreshTokens[token], record.provider == .google, refreshTokenUsable(token) {
            revokeGrant(record.grantID)
            return .json(200, [String: Any]())
        }
        if let record = accessTokens[token], record.provider == .google, !record.revoked, now < record.expiresAt {
            if let grant = record.grantID { revokeGrant(grant) } else { accessTokens[token]?.revoked = true }
            return .json(200, [String: Any]())
        }
        return oauthError(.google, 400, "invalid_token", "Token expired or revoked")
    }
}
