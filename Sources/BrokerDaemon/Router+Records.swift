import BrokerCore
import BrokerOAuth
import BrokerVault
import BrokerWire
import FoundationEssentials
import NIOCore

extension Router {
    /// Record management under /v1/admin/profiles/...:
    ///   GET    profiles                                list profiles
    ///   PUT    profiles/P                              create profile P
    ///   DELETE profiles/P[?force=true]                 delete it (with its records: force)
    ///   PUT    profiles/P/apps/NAME                    store a provider app (AppRecord)
    ///   DELETE profiles/P/apps/NAME
    ///   PUT    profiles/P/grants/APP/ACCOUNT           store a grant (GrantRecord)
    ///   DELETE profiles/P/grants/APP/ACCOUNT
    func records(_ request: Request, segments: [Substring], event: AuditEvent, eventLoop: any EventLoop) -> RouteResult {
        var decoded: [String] = []
        for s in segments {
            guard let d = PathCoding.decode(s), !d.isEmpty else {
                return .now(.error(.badRequest, "a path segment is empty or not valid percent-encoding"))
            }
            decoded.append(d)
        }
        var event = event
        event.profile = decoded.first
        switch (decoded.count, request.method) {
        case (0, "GET"):
            return vaultOperation(event, eventLoop, requireUnlocked: false) { vault in
                .json(["profiles": try vault.listProfiles()])
            }
        case (0, _):
            return .now(wrongMethod(["GET"]))
        case (1, "PUT"):
            let name = decoded[0]
            return vaultOperation(event, eventLoop) { [broker] vault in
                try vault.createProfile(name)
                try broker.refreshIndex(vault)
                return .json(OKResponse(message: "created profile \"\(name)\""), status: 201)
            }
        case (1, "DELETE"):
            let name = decoded[0]
            let force = request.query["force"] == "true" || request.query["force"] == "1"
            return vaultOperation(event, eventLoop) { [broker] vault in
                try vault.deleteProfile(name, force: force)
                try broker.refreshIndex(vault)
                return .json(OKResponse(message: "deleted profile \"\(name)\""))
            }
        case (1, _):
            return .now(wrongMethod(["PUT", "DELETE"]))
        case (3, let method) where decoded[1] == "apps":
            let (profile, app) = (decoded[0], decoded[2])
            event.provider = app
            switch method {
            case "PUT":
                let parsed: AppRecord
                switch decode(AppRecord.self, request) {
                case .failure(let e): return .now(.error(e))
                case .success(let r): parsed = r
                }
                let payload: ProviderAppPayload
                switch Self.appPayload(parsed, name: app) {
                case .failure(let e): return .now(.error(e))
                case .success(let p): payload = p
                }
                return vaultOperation(event, eventLoop) { [broker] vault in
                    // A re-setup keeps a pending secret-rotation fallback.
                    var stored = payload
                    if let old = try? vault.get(ProviderAppPayload.self, profile: profile, name: app) {
                        stored.previousClientSecret = old.previousClientSecret
                    }
                    try vault.put(stored, profile: profile, name: app)
                    try broker.refreshIndex(vault)
                    return .json(OKResponse(message: "stored provider app \"\(app)\" in profile \"\(profile)\""))
                }
            case "DELETE":
                return vaultOperation(event, eventLoop) { [broker] vault in
                    try vault.delete(RecordID(profile: profile, kind: .providerApp, name: app))
                    try broker.refreshIndex(vault)
                    return .json(OKResponse(message: "deleted provider app \"\(app)\" from profile \"\(profile)\""))
                }
            default:
                return .now(wrongMethod(["PUT", "DELETE"]))
            }
        case (4, let method) where decoded[1] == "grants":
            let key = GrantKey(profile: decoded[0], app: decoded[2], account: decoded[3])
            event.provider = key.app
            event.account = key.account
            switch method {
            case "PUT":
                let parsed: GrantRecord
                switch decode(GrantRecord.self, request) {
                case .failure(let e): return .now(.error(e))
                case .success(let r): parsed = r
                }
                let valid: ValidGrant
                switch Self.validGrant(parsed, allowEmptyScopes: false) {
                case .failure(let e): return .now(.error(e))
                case .success(let v): valid = v
                }
                let (scopes, flow, expires) = (valid.scopes, valid.flow, valid.expiresAt)
                event.scopes = scopes
                let expiry = expires
                return vaultOperation(event, eventLoop) { [broker] vault in
                    var payload = GrantPayload(app: key.app, account: key.account, scopes: scopes, refreshToken: parsed.refreshToken,
                                               obtainedAt: Date(), accessToken: parsed.accessToken, accessTokenExpiresAt: expiry,
                                               flow: flow, subject: parsed.subject, accountID: parsed.accountID)
                    if flow == "jwt_bearer" || flow == "client_credentials" || flow == "account_credentials" { payload.lastRefreshAt = nil }
                    try vault.inTransaction { () throws(VaultError) in
                        try vault.put(payload, profile: key.profile, name: key.recordName)
                        if let sa = parsed.serviceAccount, flow == "jwt_bearer" {
                            try vault.put(ServiceAccountPayload(clientEmail: sa.clientEmail, privateKeyPEM: sa.privateKey, privateKeyID: sa.privateKeyID, tokenURI: sa.tokenURI),
                                          profile: key.profile, name: key.recordName)
                        }
                    }
                    try broker.refreshIndex(vault, invalidate: key)
                    return .json(OKResponse(message: "stored the grant for \"\(key.app)\" account \"\(key.account)\" in profile \"\(key.profile)\""))
                }
            case "DELETE":
                return vaultOperation(event, eventLoop) { [broker] vault in
                    try vault.delete(RecordID(profile: key.profile, kind: .grant, name: key.recordName))
                    try broker.refreshIndex(vault, invalidate: key)
                    return .json(OKResponse(message: "deleted the grant for \"\(key.app)\" account \"\(key.account)\""))
                }
            default:
                return .now(wrongMethod(["PUT", "DELETE"]))
            }
        default:
            return .now(.error(.notFound, "no route \(Self.printable(request.path))"))
        }
    }

    /// A provider app record checked as a whole (PUT apps and imports).
    static func appPayload(_ parsed: AppRecord, name app: String) -> Result<ProviderAppPayload, WireError> {
        guard ["google", "microsoft", "zoom", "generic"].contains(parsed.type) else {
            return .failure(WireError(.badRequest, "\"type\" must be google, microsoft, zoom or generic"))
        }
        guard !parsed.clientID.isEmpty else { return .failure(WireError(.badRequest, "\"client_id\" must not be empty")) }
        // An empty value removes an optional endpoint (a provider's default).
        if let bad = (parsed.endpoints ?? [:]).first(where: { !$0.value.isEmpty && !Self.acceptableURL($0.value) }) {
            return .failure(WireError(.badRequest, "endpoint \(Self.printable(bad.key)) must be an https:// URL (http:// only for loopback hosts)"))
        }
        let payload = ProviderAppPayload(type: parsed.type, clientID: parsed.clientID, clientSecret: parsed.clientSecret,
                                         tenant: parsed.tenant, endpoints: parsed.endpoints ?? [:], clientAuth: parsed.clientAuth,
                                         rotatesRefreshTokens: parsed.rotatesRefreshTokens, scopes: parsed.scopes.map(ScopeAliases.expandAll),
                                         redirectURI: parsed.redirectURI, privateKeyPEM: parsed.privateKey, keyID: parsed.keyID)
        // The whole provider configuration is checked now, not at the first login.
        do throws(OAuthError) { _ = try Refresher.providerConfig(payload) } catch {
            return .failure(WireError(.badRequest, "provider app \(Self.printable(app)): \(error.message)"))
        }
        if let redirect = parsed.redirectURI, !Self.acceptableURL(redirect) {
            return .failure(WireError(.badRequest, "\"redirect_uri\" must be an https:// URL or an http:// loopback one"))
        }
        return .success(payload)
    }

    struct ValidGrant {
        var scopes: [String]
        /// nil: a user's grant (refresh_token).
        var flow: String?
        var expiresAt: Date?
    }

    /// A grant record checked (PUT grants and imports). `allowEmptyScopes`: an import that
    /// learns the scopes from the provider.
    static func validGrant(_ parsed: GrantRecord, allowEmptyScopes: Bool) -> Result<ValidGrant, WireError> {
        let scopes = ScopeAliases.expandAll(parsed.scopes)
        guard !scopes.isEmpty || allowEmptyScopes else { return .failure(WireError(.badRequest, "\"scopes\" must name at least one scope")) }
        var expires: Date?
        if let text = parsed.expiresAt {
            guard let d = RFC3339.parse(text) else { return .failure(WireError(.badRequest, "\"expires_at\" must be RFC 3339")) }
            expires = d
        }
        guard (parsed.accessToken == nil) == (expires == nil) else {
            return .failure(WireError(.badRequest, "\"access_token\" and \"expires_at\" go together"))
        }
        let flow = parsed.flow == "refresh_token" ? nil : parsed.flow
        switch flow {
        case nil:
            guard parsed.refreshToken != nil || parsed.accessToken != nil else {
                return .failure(WireError(.badRequest, "a grant needs a \"refresh_token\" or an \"access_token\""))
            }
        case "client_credentials":
            break
        case "jwt_bearer":
            guard let sa = parsed.serviceAccount, !sa.clientEmail.isEmpty, sa.privateKey.contains("PRIVATE KEY") else {
                return .failure(WireError(.badRequest, "a jwt_bearer grant needs \"service_account\" with \"client_email\" and a PEM \"private_key\""))
            }
        case "account_credentials":
            guard let id = parsed.accountID, !id.isEmpty else {
                return .failure(WireError(.badRequest, "an account_credentials grant needs \"account_id\""))
            }
        default:
            return .failure(WireError(.badRequest, "\"flow\" must be refresh_token, client_credentials, jwt_bearer or account_credentials"))
        }
        if let flow, parsed.refreshToken != nil {
            return .failure(WireError(.badRequest, "an app-only grant (\(flow)) has no refresh token"))
        }
        return .success(ValidGrant(scopes: scopes, flow: flow, expiresAt: expires))
    }

    /// https:// anywhere; http:// only for loopback hosts (the sandbox, tests).
    static func acceptableURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else { return false }
        if scheme == "https" { return true }
        return scheme == "http" && (host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]")
    }
}
