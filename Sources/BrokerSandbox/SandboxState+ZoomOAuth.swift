import Foundation

/// Zoom OAuth under `/zoom/oauth/`: authorization code with client_secret_basic, refresh
/// tokens that rotate on every use, and account credentials for server-to-server apps.
extension SandboxState {
    func zoomAuthorize(_ request: SandboxRequest) -> SandboxResponse {
        let q = Self.dictionary(request.query)
        guard let client = client(q["client_id"], .zoom), client.type == "oauth" else {
            return errorPage(400, "invalid_client", "Invalid client_id: \(q["client_id"] ?? "")")
        }
        guard let redirect = q["redirect_uri"], redirectAllowed(client, redirect) else {
            return errorPage(400, "invalid_request", "Invalid redirect: \(q["redirect_uri"] ?? "")")
        }
        let state = q["state"]
        guard q["response_type"] == "code" else {
            return errorRedirect(redirect, error: "unsupported_response_type", description: "Unsupported response type", state: state)
        }
        let method = q["code_challenge_method"] ?? "plain"
        let challenge = q["code_challenge"]
        if let challenge, !(method == "S256" || method == "plain") || !Self.validChallenge(challenge, method: method) {
            return errorRedirect(redirect, error: "invalid_request", description: "Invalid code_challenge", state: state)
        }
        guard let user = consentingUser(q["login_hint"]) else {
            return errorRedirect(redirect, error: "access_denied", description: "The user denied access", state: state)
        }
        let code = newToken("zc.sandbox-", bytes: 16)
        let scopes = client.permissions.isEmpty ? ["user:read", "meeting:read"] : client.permissions
        codes[code] = AuthorizationCodeRecord(
            provider: .zoom, clientID: client.clientID, redirectURI: redirect, user: user, scopes: scopes,
            challenge: challenge, challengeMethod: method,
            expiresAt: now.addingTimeInterval(TimeInterval(settings.authorizationCodeLifetime)), offline: true)
        var pairs: [(String, String)] = [("code", code)]
        if let state { pairs.append(("state", state)) }
        return .redirect(Self.appendQuery(redirect, pairs))
    }

    func zoomToken(_ request: SandboxRequest, form: [String: String]) -> SandboxResponse {
        // Zoom takes the client's credentials only in a Basic Authorization header.
        guard let basic = request.basicCredentials, let client = client(basic.user, .zoom),
            Self.secretMatches(basic.password, client.secret)
        else {
            return oauthError(.zoom, 401, "invalid_client", "Invalid client_id or client_secret")
        }
        let grantType = form["grant_type"] ?? ""
        switch grantType {
        case "authorization_code":
            guard client.type == "oauth" else { return oauthError(.zoom, 400, "unsupported_grant_type", "Unsupported grant type") }
            return zoomAuthorizationCode(form, client: client)
        case "refresh_token":
            guard client.type == "oauth" else { return oauthError(.zoom, 400, "unsupported_grant_type", "Unsupported grant type") }
            return zoomRefresh(form, client: client)
        case "account_credentials":
            guard client.type == "server_to_server" else {
                return oauthError(.zoom, 400, "unsupported_grant_type", "Unsupported grant type")
            }
            guard let account = form["account_id"], !account.isEmpty else {
                return oauthError(.zoom, 400, "invalid_request", "Missing account_id")
            }
            guard account == client.accountID else { return oauthError(.zoom, 400, "invalid_request", "Invalid account_id") }
            let grant = newGrant(.zoom, clientID: client.clientID, user: nil, scopes: client.permissions)
            let access = issueAccessToken(.zoom, clientID: client.clientID, grantID: grant, user: nil, scopes: client.permissions)
            let body: [String: Any] = [
                "access_token": access, "token_type": "bearer", "expires_in": settings.accessTokenLifetime,
                "scope": client.permissions.joined(separator: " "), "api_url": baseURL + "/zoom",
            ]
            return .json(200, body)
        default:
            return oauthError(.zoom, 400, "unsupported_grant_type", "Unsupported grant type")
        }
    }

    func zoomAuthorizationCode(_ form: [String: String], client: ClientRecord) -> SandboxResponse {
        guard let code = form["code"], let record = codes[code], record.provider == .zoom, record.clientID == client.clientID else {
            return oauthError(.zoom, 400, "invalid_request", "Invalid authorization code")
        }
        guard !record.used else { return oauthError(.zoom, 400, "invalid_grant", "Authorization code has already been used") }
        guard now < record.expiresAt else { return oauthError(.zoom, 400, "invalid_grant", "Authorization code has expired") }
        guard form["redirect_uri"] == record.redirectURI else { return oauthError(.zoom, 400, "invalid_request", "Redirect URI mismatch.") }
        if let challenge = record.challenge {
            guard let verifier = form["code_verifier"], Self.pkceMatches(verifier: verifier, challenge: challenge, method: record.challengeMethod) else {
                return oauthError(.zoom, 400, "invalid_request", "Invalid code_verifier")
            }
        }
        codes[code]?.used = true
        let grant = newGrant(.zoom, clientID: client.clientID, user: record.user, scopes: record.scopes)
        return zoomTokenResponse(client: client, grantID: grant, user: record.user, scopes: record.scopes)
    }

    func zoomTokenResponse(client: ClientRecord, grantID: Int, user: String?, scopes: [String]) -> SandboxResponse {
        let access = issueAccessToken(.zoom, clientID: client.clientID, grantID: grantID, user: user, scopes: scopes)
        let body: [String: Any] = [
            "access_token": access, "token_type": "bearer", "expires_in": settings.accessTokenLifetime,
            "refresh_token": issueRefreshToken(.zoom, clientID: client.clientID, grantID: grantID),
            "scope": scopes.joined(separator: " "), "api_url": baseURL + "/zoom",
        ]
        return .json(200, body)
    }

    /// Rotation on every use: the presented refresh token stops working at once.
    func zoomRefresh(_ form: [String: String], client: ClientRecord) -> SandboxResponse {
        guard let token = form["refresh_token"], let record = refreshTokens[token], record.provider == .zoom,
            record.clientID == client.clientID, refreshTokenUsable(token), let grant = grants[record.grantID]
        else {
            return oauthError(.zoom, 400, "invalid_grant", "Invalid Token!")
        }
        refreshTokens[token]?.valid = false
        refreshTokens[token]?.rotatedAt = Date().timeIntervalSince1970
        return zoomTokenResponse(client: client, grantID: grant.id, user: grant.user, scopes: grant.scopes)
    }
}
