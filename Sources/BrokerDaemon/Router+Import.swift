import BrokerCore
import BrokerCrypto
import BrokerOAuth
import BrokerVault
import BrokerWire
import FoundationEssentials
import NIOCore

/// `POST /v1/admin/import` (docs/spec/api.md, "Imports"): adopts a credential found outside
/// the vault. Everything is checked, then verified with the provider, then written in one
/// transaction; any failure stores nothing.
extension Router {
    func importCredential(_ request: Request, event: AuditEvent, eventLoop: any EventLoop) -> RouteResult {
        let parsed: ImportRequest
        switch decode(ImportRequest.self, request) {
        case .failure(let e): return .now(.error(e))
        case .success(let r): parsed = r
        }
        var event = event
        event.profile = parsed.profile
        event.provider = parsed.app
        event.account = parsed.account
        let source = parsed.source.map { Self.printable(String($0.prefix(200))) }
        var detail = "import"
        if let source { detail += " from \(source)" }
        if parsed.dryRun == true { detail += " (dry run)" }
        event.detail = detail
        guard !parsed.app.isEmpty, !parsed.app.contains("/") else {
            return .now(.error(.badRequest, "\"app\" must be a provider app name"))
        }
        if let account = parsed.account, !Self.acceptableAccount(account) {
            return .now(.error(.badRequest, "\"account\" must be 1 to 320 printable characters without \"/\""))
        }
        let valid: ValidGrant
        switch Self.validGrant(parsed.grant, allowEmptyScopes: parsed.verify) {
        case .failure(let e): return .now(.error(e))
        case .success(let v): valid = v
        }
        guard valid.flow == nil || valid.flow == "jwt_bearer" else {
            return .now(.error(.badRequest, "an import holds a user's grant or a service account (flow \"\(valid.flow!)\" is set up with credbroker setup)"))
        }
        if valid.flow == "jwt_bearer" && valid.scopes.isEmpty {
            return .now(.error(.badRequest, "a service account's tokens carry the scopes asked for: name them (credbroker import --scope ...)"))
        }
        var newApp: ProviderAppPayload?
        if let record = parsed.appRecord {
            switch Self.appPayload(record, name: parsed.app) {
            case .failure(let e): return .now(.error(e))
            case .success(let p): newApp = p
            }
        }
        event.scopes = valid.scopes
        let plan = ImportPlan(request: parsed, grant: valid, newApp: newApp)
        return audited(event, eventLoop) { [self] in await runImport(plan, eventLoop: eventLoop) }
    }

    struct ImportPlan: Sendable {
        var request: ImportRequest
        var grant: ValidGrant
        var newApp: ProviderAppPayload?
    }

    /// What the vault said before the provider was asked.
    private struct ImportState: Sendable {
        var app: ProviderAppPayload
        var createProfile: Bool
        var createApp: Bool
    }

    private func runImport(_ plan: ImportPlan, eventLoop: any EventLoop) async -> Result<Response, WireError> {
        let request = plan.request
        // 1 and 2: the app and duplicates, before the provider is contacted.
        let state: ImportState
        let checked: Result<ImportState, WireError> = await vaultResult(eventLoop) { vault -> Result<ImportState, WireError> in
            Self.checkImport(plan, vault: vault)
        }
        switch checked {
        case .failure(let e): return .failure(e)
        case .success(let s): state = s
        }
        var scopes = plan.grant.scopes
        if request.dryRun == true {
            let what = Self.describe(request, account: request.account, state: state)
            return .success(.json(ImportResponse(profile: request.profile, app: request.app, account: request.account, scopes: scopes,
                                                 createdProfile: state.createProfile, createdApp: state.createApp, verified: false,
                                                 refreshTokenRotated: false, message: "dry run: would import \(what); nothing was written")))
        }
        // 4: one token from the provider, before anything is stored.
        var tokens: OAuthTokenSet?
        var account = request.account
        if request.verify {
            let obtained: OAuthTokenSet
            switch await verifyImport(plan, app: state.app) {
            case .failure(let e): return .failure(e)
            case .success(let t): obtained = t
            }
            tokens = obtained
            if scopes.isEmpty { scopes = obtained.scopes }
            if account == nil, let config = try? Refresher.providerConfig(state.app) {
                account = await LoginManager.discoverAccount(config: config, accessToken: obtained.accessToken, transport: refresher.transport)
            }
        }
        guard !scopes.isEmpty else {
            return .failure(WireError(.badRequest, "the provider did not say which scopes the grant holds; nothing was stored", hint: "name them: credbroker import ... --scope SCOPE"))
        }
        guard let account, Self.acceptableAccount(account) else {
            return .failure(WireError(.badRequest, "the file does not name the account and the provider did not say who it is; nothing was stored",
                                      hint: "name it: credbroker import FILE --profile \(request.profile) --account YOU@EXAMPLE.COM"))
        }
        // 5: profile, app and grant in one transaction.
        let key = GrantKey(profile: request.profile, app: request.app, account: account)
        let now = Date()
        var rotated = false
        if let new = tokens?.refreshToken, new != request.grant.refreshToken { rotated = true }
        var payload = GrantPayload(app: key.app, account: key.account, scopes: scopes,
                                   refreshToken: plan.grant.flow == nil ? (tokens?.refreshToken ?? request.grant.refreshToken) : nil,
                                   obtainedAt: now, flow: plan.grant.flow, subject: request.grant.subject)
        if let tokens {
            payload.accessToken = tokens.accessToken
            payload.accessTokenExpiresAt = now.addingTimeInterval(Double(tokens.expiresIn))
            payload.accessTokenScopes = tokens.scopes.isEmpty ? nil : tokens.scopes
            payload.lastRefreshAt = now
        } else if plan.grant.flow == nil, let access = request.grant.accessToken, let expires = plan.grant.expiresAt {
            payload.accessToken = access
            payload.accessTokenExpiresAt = expires
        }
        let serviceAccount = request.grant.serviceAccount
        let record = payload
        let stored: Result<Void, WireError> = await vaultResult(eventLoop) { [broker] vault -> Result<Void, WireError> in
            do {
                try vault.inTransaction { () throws(VaultError) in
                    try Self.storeImport(vault, key: key, state: state, grant: record, serviceAccount: serviceAccount, flow: plan.grant.flow)
                }
                try broker.refreshIndex(vault, invalidate: key)
                return .success(())
            } catch {
                return .failure(Self.wireError(error))
            }
        }
        if case .failure(let e) = stored {
            return .failure(e.code == .badRequest ? WireError(.badRequest, e.message + "; nothing was imported", hint: "credbroker status --profile \(key.profile)") : e)
        }
        if tokens != nil { refresher.noteLogin(key, at: now) }
        let what = Self.describe(request, account: account, state: state)
        var message = "imported \(what)"
        if !request.verify {
            message += "; not verified (--no-verify)"
        } else if plan.grant.flow == nil {
            message += "; verified with one refresh"
        } else {
            message += "; verified with one token request"
        }
        if rotated { message += "; the provider rotated the refresh token and the new one is stored" }
        return .success(.json(ImportResponse(profile: key.profile, app: key.app, account: account, scopes: scopes,
                                             createdProfile: state.createProfile, createdApp: state.createApp, verified: request.verify,
                                             refreshTokenRotated: rotated, message: message)))
    }

    private static func optionalApp(_ vault: Vault, profile: String, name: String) throws(VaultError) -> ProviderAppPayload? {
        do {
            return try vault.get(ProviderAppPayload.self, profile: profile, name: name)
        } catch {
            if error.code == .notFound { return nil }
            throw error
        }
    }

    /// Whether a record exists, from the plaintext index (no decryption, and a damaged
    /// record counts as present rather than being silently replaced).
    private static func exists(_ vault: Vault, _ kind: RecordKind, profile: String, name: String) throws(VaultError) -> Bool {
        try vault.list(profile: profile, kind: kind).contains { $0.name == name }
    }

    private static func storeImport(_ vault: Vault, key: GrantKey, state: ImportState, grant: GrantPayload,
                                    serviceAccount: ServiceAccountKey?, flow: String?) throws(VaultError) {
        if state.createProfile, try !vault.listProfiles().contains(key.profile) { try vault.createProfile(key.profile) }
        if try Self.exists(vault, .grant, profile: key.profile, name: key.recordName) {
            throw VaultError(.alreadyExists, "profile \"\(key.profile)\" already has a grant of \"\(key.app)\" for \"\(key.account)\"")
        }
        if state.createApp {
            if try Self.exists(vault, .providerApp, profile: key.profile, name: key.app) {
                throw VaultError(.alreadyExists, "provider app \"\(key.app)\" appeared in profile \"\(key.profile)\" during the import")
            }
            try vault.put(state.app, profile: key.profile, name: key.app)
        }
        try vault.put(grant, profile: key.profile, name: key.recordName)
        if let sa = serviceAccount, flow == "jwt_bearer" {
            try vault.put(ServiceAccountPayload(clientEmail: sa.clientEmail, privateKeyPEM: sa.privateKey, privateKeyID: sa.privateKeyID, tokenURI: sa.tokenURI),
                          profile: key.profile, name: key.recordName)
        }
    }

    private static func describe(_ request: ImportRequest, account: String?, state: ImportState) -> String {
        var text = "\"\(request.app)\" (\(state.app.type)) account "
        if let account { text += "\"\(account)\"" } else { text += "(to be asked of the provider)" }
        text += " into profile \"\(request.profile)\""
        var created: [String] = []
        if state.createProfile { created.append("the profile") }
        if state.createApp { created.append("the provider app") }
        if !created.isEmpty { text += " (creating \(created.joined(separator: " and ")))" }
        return text
    }

    /// Steps 1 and 2 of the spec: the app to use, and no duplicate.
    private static func checkImport(_ plan: ImportPlan, vault: Vault) -> Result<ImportState, WireError> {
        let request = plan.request
        let profile = request.profile
        do {
            try ProfileName.validate(profile)
            let profileExists = try vault.listProfiles().contains(profile)
            var existing: ProviderAppPayload?
            if profileExists {
                existing = try Self.optionalApp(vault, profile: profile, name: request.app)
            }
            let app: ProviderAppPayload
            if let existing {
                if let wanted = plan.newApp {
                    guard wanted.type == existing.type, wanted.clientID == existing.clientID else {
                        throw WireError(.badRequest, "provider app \"\(request.app)\" in profile \"\(profile)\" is a \(existing.type) app with another client id than the file's",
                                        hint: "import under another app name: --name NAME")
                    }
                    if let a = wanted.clientSecret, let b = existing.clientSecret, !ConstantTime.equals(Array(a.utf8), Array(b.utf8)) {
                        throw WireError(.badRequest, "provider app \"\(request.app)\" in profile \"\(profile)\" has another client secret than the file's; an import never replaces it",
                                        hint: "import under another app name (--name NAME), or change the app's secret with credbroker secret rotate \(request.app) --profile \(profile)")
                    }
                }
                app = existing
            } else {
                guard let wanted = plan.newApp else {
                    throw WireError(.notFound, "no provider app \"\(request.app)\" in profile \"\(profile)\", and the file does not describe one",
                                    hint: "set it up first: credbroker setup PROVIDER --name \(request.app) --profile \(profile)")
                }
                app = wanted
            }
            if profileExists {
                if let account = request.account, try Self.exists(vault, .grant, profile: profile, name: "\(request.app)/\(account)") {
                    throw WireError(.badRequest, "profile \"\(profile)\" already has a grant of \"\(request.app)\" for \"\(account)\"; nothing was imported",
                                    hint: "to replace it, first: credbroker revoke \(request.app) --profile \(profile) --account \(account)")
                }
                if let token = request.grant.refreshToken, existing != nil {
                    let mine = Array(token.utf8)
                    for id in try vault.list(profile: profile, kind: .grant) where id.name.hasPrefix(request.app + "/") {
                        guard let other = try? vault.get(GrantPayload.self, profile: profile, name: id.name), let theirs = other.refreshToken else { continue }
                        if ConstantTime.equals(mine, Array(theirs.utf8)) {
                            throw WireError(.badRequest, "this refresh token is already in the vault, as the grant of \"\(request.app)\" for \"\(other.account)\" in profile \"\(profile)\"; nothing was imported")
                        }
                    }
                }
            }
            return .success(ImportState(app: app, createProfile: !profileExists, createApp: existing == nil))
        } catch {
            return .failure(Self.wireError(error))
        }
    }

    /// Step 4: one token from the provider with the imported credential.
    private func verifyImport(_ plan: ImportPlan, app: ProviderAppPayload) async -> Result<OAuthTokenSet, WireError> {
        let config: ProviderConfig
        do throws(OAuthError) { config = try Refresher.providerConfig(app) } catch {
            return .failure(WireError(.badRequest, "provider app \"\(plan.request.app)\": \(error.message)"))
        }
        let client = OAuthClient(config: config, credential: Refresher.credential(app, previous: false), transport: refresher.transport)
        let grant = plan.request.grant
        do throws(OAuthError) {
            if plan.grant.flow == "jwt_bearer" {
                guard let sa = grant.serviceAccount else { return .failure(WireError(.badRequest, "the service account key is missing")) }
                return .success(try await client.jwtBearer(serviceAccountEmail: sa.clientEmail, privateKeyPEM: sa.privateKey, keyID: sa.privateKeyID,
                                                           scopes: plan.grant.scopes, subject: grant.subject))
            }
            guard let refreshToken = grant.refreshToken else {
                return .failure(WireError(.badRequest, "the credential has no refresh token to verify; import it with --no-verify to keep its access token until it expires"))
            }
            // Google, Zoom and generic: the whole grant (the answer names its scopes).
            // Microsoft needs the scopes of one resource.
            let scopes = config.type == .microsoft ? Self.oneResource(plan.grant.scopes) : []
            if config.type == .microsoft && scopes.isEmpty {
                return .failure(WireError(.badRequest, "a Microsoft refresh needs the grant's scopes, and the file names none", hint: "name them: credbroker import ... --scope SCOPE"))
            }
            return .success(try await client.refresh(refreshToken: refreshToken, scopes: scopes, grantScopes: config.type == .microsoft ? plan.grant.scopes : []))
        } catch {
            return .failure(Self.importRefused(error))
        }
    }

    static func importRefused(_ error: OAuthError) -> WireError {
        let what = "verifying the import"
        switch error.kind {
        case .invalidGrant:
            return WireError(.badRequest, "\(what): the provider refused the refresh token (\(error.message)); it was revoked or has expired, so nothing was imported",
                             hint: "log in instead: credbroker login PROVIDER --profile PROFILE")
        default:
            return LoginManager.wire(error, during: what)
        }
    }

    /// The scopes of one resource among `scopes` (Microsoft refreshes one resource at a
    /// time): Graph's when there are any, else the first resource's. Identity scopes go
    /// with every resource.
    static func oneResource(_ scopes: [String]) -> [String] {
        func resource(_ s: String) -> String? {
            if ["openid", "profile", "email", "offline_access"].contains(s.lowercased()) { return nil }
            guard s.contains("://") else { return "https://graph.microsoft.com/" }
            guard let slash = s.lastIndex(of: "/") else { return s }
            return String(s[...slash])
        }
        let resources: [String] = scopes.compactMap(resource).map { $0.lowercased() }
        let graph = "https://graph.microsoft.com/"
        guard let first = resources.first else { return [] }
        let chosen: String = resources.contains(graph) ? graph : first
        var out: [String] = []
        for scope in scopes {
            guard let r = resource(scope) else { continue }
            if r.lowercased() == chosen { out.append(scope) }
        }
        return out
    }

    /// An account name usable as a grant name (as a login checks the provider's answer).
    static func acceptableAccount(_ account: String) -> Bool {
        guard !account.isEmpty, account.utf8.count <= 320, !account.contains("/") else { return false }
        for scalar in account.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7F { return false }
        return true
    }

    /// Runs `body` on the vault thread with the vault unlocked.
    private func vaultResult<T: Sendable>(_ eventLoop: any EventLoop, _ body: @escaping @Sendable (Vault) -> Result<T, WireError>) async -> Result<T, WireError> {
        do {
            return try await broker.onVault(eventLoop) { broker -> Result<T, WireError> in
                guard let vault = broker.vault else { return .failure(WireError.noVault) }
                guard vault.isUnlocked else { return .failure(WireError.vaultLocked) }
                return body(vault)
            }.get()
        } catch {
            return .failure(WireError(.unavailable, "the daemon is stopping"))
        }
    }
}
