import BrokerCore
import BrokerCrypto
import BrokerHTTP
import BrokerOAuth
import BrokerVault
import BrokerWire
import FoundationEssentials
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Logins (DESIGN.md, "Logins"): the daemon keeps the client secret, the PKCE verifier
/// and the `state`; the CLI runs the loopback listener and hands back code and state.
/// Pending logins are single-use and expire after 10 minutes. Device-code logins poll
/// the provider here.
///
/// @unchecked Sendable: `pending` is guarded by `lock`.
final class LoginManager: @unchecked Sendable {
    let broker: Broker
    let refresher: Refresher
    let transport: any HTTPTransport
    private let lock = NIOLock()
    private var pending: [String: Pending] = [:]

    static let lifetime = 600.0
    static let maxPending = 64
    static let maxWrongStates = 5

    struct Pending: Sendable {
        var id: String
        var profile: String
        var app: String
        var scopes: [String]
        var accountHint: String?
        var redirectURI: String?
        var verifier: String
        var state: String
        var created: Date
        var expires: Date
        var device: DeviceAuthorization?
        var result: LoginResult?
        var wrongStates = 0
    }

    init(broker: Broker, refresher: Refresher, transport: any HTTPTransport) {
        self.broker = broker
        self.refresher = refresher
        self.transport = transport
    }

    private var logger: Logger { broker.logger }

    // MARK: - Start

    func start(_ request: LoginStartRequest, eventLoop: any EventLoop) async -> Result<LoginStartResponse, WireError> {
        let now = Date()
        let app: ProviderAppPayload
        switch await readApp(profile: request.profile, app: request.app, eventLoop: eventLoop) {
        case .failure(let e): return .failure(e)
        case .success(let a): app = a
        }
        let config: ProviderConfig
        do throws(OAuthError) { config = try Refresher.providerConfig(app) } catch {
            return .failure(WireError(.badRequest, "provider app \"\(request.app)\" in profile \"\(request.profile)\" is misconfigured: \(error.message)", hint: "credbroker setup \(app.type) --name \(request.app) --profile \(request.profile)"))
        }
        var scopes = ScopeAliases.expandAll(request.scopes ?? [])
        if scopes.isEmpty { scopes = app.scopes ?? [] }
        guard !scopes.isEmpty else {
            return .failure(WireError(.badRequest, "name the scopes to ask for (provider app \"\(request.app)\" has no default scopes)", hint: "credbroker login \(request.app) --profile \(request.profile) --scope calendar.readonly"))
        }
        // Ask for what identifies the account, so the grant is stored under the account the
        // provider says it is (not what was typed).
        for extra in Self.identityScopes(config.type) where !scopes.contains(extra) { scopes.append(extra) }
        let id = Digest.hex(SecureRandom.bytes(16))
        let pkce = PKCE.generate()
        let state = LoginState.generate()
        var entry = Pending(id: id, profile: request.profile, app: request.app, scopes: scopes, accountHint: request.account,
                            redirectURI: nil, verifier: pkce.verifier, state: state, created: now, expires: now.addingTimeInterval(Self.lifetime))
        if request.device == true {
            guard config.deviceAuthorizationURL != nil else {
                return .failure(WireError(.badRequest, "provider app \"\(request.app)\" has no device authorization endpoint; log in through the browser instead"))
            }
            let client = OAuthClient(config: config, credential: Refresher.credential(app, previous: false), transport: transport)
            let device: DeviceAuthorization
            do throws(OAuthError) { device = try await client.startDeviceAuthorization(scopes: scopes) } catch {
                return .failure(Self.wire(error, during: "starting the device login"))
            }
            entry.device = device
            entry.expires = now.addingTimeInterval(Double(min(device.expiresIn, 1800)))
            guard insert(entry) else { return .failure(WireError(.tooMany, "too many logins are pending; finish or wait for one")) }
            let finalEntry = entry
            Task { [self] in await pollDevice(finalEntry, config: config, app: app) }
            return .success(LoginStartResponse(loginID: id, authorizationURL: nil, redirectURI: nil,
                                               device: .init(verificationURI: device.verificationURI, verificationURIComplete: device.verificationURIComplete,
                                                             userCode: device.userCode, interval: device.interval, expiresIn: device.expiresIn),
                                               expiresAt: RFC3339.string(entry.expires)))
        }
        guard let redirect = request.redirectURI ?? app.redirectURI else {
            return .failure(WireError(.badRequest, "\"redirect_uri\" is required (the CLI's loopback listener)"))
        }
        guard Self.acceptableRedirect(redirect, registered: app.redirectURI) else {
            return .failure(WireError(.badRequest, "the redirect URI must be http://127.0.0.1:PORT/..., http://[::1]:PORT/... or http://localhost:PORT/..., or the app's registered one"))
        }
        entry.redirectURI = redirect
        guard insert(entry) else { return .failure(WireError(.tooMany, "too many logins are pending; finish or wait for one")) }
        let url = AuthorizationRequest.url(config: config, redirectURI: redirect, scopes: scopes, state: state,
                                           codeChallenge: pkce.challenge, loginHint: request.account)
        return .success(LoginStartResponse(loginID: id, authorizationURL: url, redirectURI: redirect, device: nil, expiresAt: RFC3339.string(entry.expires)))
    }

    /// Scopes added to every login so the account can be identified.
    static func identityScopes(_ type: ProviderType) -> [String] {
        switch type {
        case .google: return ["openid", "email"]
        case .microsoft: return ["openid", "email", "https://graph.microsoft.com/User.Read"]
        default: return []
        }
    }

    static func acceptableRedirect(_ uri: String, registered: String?) -> Bool {
        if let registered, uri == registered { return true }
        guard let url = URL(string: uri), url.scheme == "http", let host = url.host, url.port != nil else { return false }
        return ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) && url.query == nil && url.fragment == nil
    }

    private func insert(_ entry: Pending) -> Bool {
        lock.withLock {
            let now = Date()
            pending = pending.filter { $0.value.expires > now }
            guard pending.count < Self.maxPending else { return false }
            pending[entry.id] = entry
            return true
        }
    }

    // MARK: - Complete

    func complete(_ request: LoginCompleteRequest, eventLoop: any EventLoop) async -> Result<LoginResult, WireError> {
        let now = Date()
        // Find the pending login and take it (single use) before anything is sent.
        let taken: Result<Pending, WireError> = lock.withLock {
            pending = pending.filter { $0.value.expires > now }
            if let id = request.loginID {
                guard var entry = pending[id], entry.device == nil else {
                    return .failure(WireError(.notFound, "no pending login with that id (it was used, expired after 10 minutes, or never existed)", hint: "start again with credbroker login"))
                }
                guard let state = request.state, LoginState.matches(state, entry.state) else {
                    entry.wrongStates += 1
                    pending[id] = entry.wrongStates >= Self.maxWrongStates ? nil : entry
                    return .failure(WireError(.badRequest, request.state == nil ? "the callback carries no state" : "the callback's state does not match this login (a forged or stale redirect)"))
                }
                pending[id] = nil
                return .success(entry)
            }
            guard let profile = request.profile, let app = request.app else {
                return .failure(WireError(.badRequest, "name the login (\"login_id\" and \"state\") or the \"profile\" and \"app\""))
            }
            guard let entry = pending.values.filter({ $0.profile == profile && $0.app == app && $0.device == nil }).max(by: { $0.created < $1.created }) else {
                return .failure(WireError(.notFound, "no pending login for \"\(app)\" in profile \"\(profile)\" (logins expire after 10 minutes)", hint: "credbroker login \(app) --profile \(profile)"))
            }
            if let state = request.state, !LoginState.matches(state, entry.state) {
                return .failure(WireError(.badRequest, "the state does not match the pending login"))
            }
            pending[entry.id] = nil
            return .success(entry)
        }
        let entry: Pending
        switch taken {
        case .failure(let e): return .failure(e)
        case .success(let p): entry = p
        }
        if let error = request.error {
            let text = String(error.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }.prefix(100).map(Character.init))
            return .failure(WireError(.denied, "the provider did not grant access: \(text)"))
        }
        guard !request.code.isEmpty, request.code.utf8.count <= 4096 else {
            return .failure(WireError(.badRequest, "\"code\" must be 1 to 4096 bytes"))
        }
        let app: ProviderAppPayload
        switch await readApp(profile: entry.profile, app: entry.app, eventLoop: eventLoop) {
        case .failure(let e): return .failure(e)
        case .success(let a): app = a
        }
        let config: ProviderConfig
        do throws(OAuthError) { config = try Refresher.providerConfig(app) } catch {
            return .failure(WireError(.badRequest, "provider app \"\(entry.app)\" is misconfigured: \(error.message)"))
        }
        let client = OAuthClient(config: config, credential: Refresher.credential(app, previous: false), transport: transport)
        let tokens: OAuthTokenSet
        do throws(OAuthError) {
            tokens = try await client.exchangeCode(request.code, codeVerifier: entry.verifier, redirectURI: entry.redirectURI ?? "", requestedScopes: entry.scopes)
        } catch {
            return .failure(Self.wire(error, during: "exchanging the authorization code"))
        }
        return await finish(entry, tokens: tokens, config: config, eventLoop: eventLoop)
    }

    /// Identifies the account, stores the grant (committed before the token is cached),
    /// and audits the login.
    private func finish(_ entry: Pending, tokens: OAuthTokenSet, config: ProviderConfig, eventLoop: any EventLoop) async -> Result<LoginResult, WireError> {
        let discovered = await Self.discoverAccount(config: config, accessToken: tokens.accessToken, transport: transport)
        if let hint = entry.accountHint, let discovered, hint.lowercased() != discovered.lowercased() {
            return .failure(WireError(.badRequest, "you signed in as \"\(discovered)\", not \"\(hint)\"; nothing was stored", hint: "credbroker login \(entry.app) --profile \(entry.profile) --account \(discovered)"))
        }
        guard let account = discovered ?? entry.accountHint else {
            return .failure(WireError(.badRequest, "the provider did not say which account signed in; nothing was stored", hint: "credbroker login \(entry.app) --profile \(entry.profile) --account YOUR-ACCOUNT"))
        }
        guard !account.isEmpty, account.utf8.count <= 320, !account.contains("/"),
              !account.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            return .failure(WireError(.badRequest, "the account name the provider reported cannot be used as a grant name"))
        }
        let key = GrantKey(profile: entry.profile, app: entry.app, account: account)
        let now = Date()
        let scopes = tokens.scopes.isEmpty ? entry.scopes : tokens.scopes
        let stored: Result<GrantPayload, WireError>
        do {
            stored = try await broker.onVault(eventLoop) { broker -> Result<GrantPayload, WireError> in
                guard let vault = broker.vault, vault.isUnlocked else { return .failure(WireError.vaultLocked) }
                do throws(VaultError) {
                    let existing = try? vault.get(GrantPayload.self, profile: key.profile, name: key.recordName)
                    // A provider may not send a new refresh token on a repeated consent; the
                    // old one stays valid then.
                    let refreshToken = tokens.refreshToken ?? (existing?.flow == nil ? existing?.refreshToken : nil)
                    var payload = GrantPayload(app: key.app, account: key.account, scopes: scopes, refreshToken: refreshToken, obtainedAt: now,
                                               accessToken: tokens.accessToken, accessTokenExpiresAt: now.addingTimeInterval(Double(tokens.expiresIn)))
                    payload.refreshTokenObtainedAt = tokens.refreshToken == nil ? existing?.refreshTokenObtainedAt ?? existing?.obtainedAt : now
                    payload.lastRefreshAt = now
                    try vault.put(payload, profile: key.profile, name: key.recordName)
                    return .success(payload)
                } catch {
                    broker.logger.error("cannot store a login", metadata: ["credential": "\(key.profile)/\(key.recordName)", "error": "\(error.message)"])
                    return .failure(WireError(.internal, "cannot store the grant: \(error.message)"))
                }
            }.get()
        } catch {
            return .failure(WireError(.unavailable, "the daemon is stopping"))
        }
        let payload: GrantPayload
        switch stored {
        case .failure(let e): return .failure(e)
        case .success(let p): payload = p
        }
        // The grant is committed; the index and the cache follow it.
        _ = try? await broker.onVault(eventLoop) { broker in
            if let vault = broker.vault, vault.isUnlocked { try broker.refreshIndex(vault, invalidate: key) }
        }.get()
        refresher.noteLogin(key, at: now)
        var event = AuditEvent(time: Int64(now.timeIntervalSince1970), caller: nil, route: "login", result: "ok")
        event.profile = key.profile
        event.provider = key.app
        event.account = key.account
        event.scopes = scopes
        event.tokenFingerprint = AuditEvent.fingerprint(ofToken: tokens.accessToken)
        event.detail = entry.device != nil ? "device code" : "authorization code with PKCE"
        if payload.refreshToken == nil { event.detail! += "; no refresh token was issued" }
        broker.audit.record(event)
        logger.notice("login stored", metadata: ["credential": "\(key.profile)/\(key.recordName)"])
        var message: String?
        if payload.refreshToken == nil {
            message = "the provider issued no refresh token: tokens last until \(RFC3339.string(now.addingTimeInterval(Double(tokens.expiresIn)))) and then need a new login"
        }
        return .success(LoginResult(status: "done", profile: key.profile, app: key.app, account: key.account, scopes: scopes, message: message))
    }

    /// Asks the provider who signed in (OpenID userinfo, Graph /me, Zoom /users/me).
    static func discoverAccount(config: ProviderConfig, accessToken: String, transport: any HTTPTransport) async -> String? {
        guard let url = config.userinfoURL else { return nil }
        let request = HTTPRequest(method: "GET", url: url, headers: [HTTPHeaderField("Authorization", "Bearer \(accessToken)"), HTTPHeaderField("Accept", "application/json")])
        guard let response = try? await transport.send(request), response.status == 200,
              case .object(let members)? = try? JSONValue.parse(response.body) else { return nil }
        for name in ["email", "mail", "userPrincipalName", "preferred_username"] {
            if case .string(let value)? = members[name], !value.isEmpty { return value }
        }
        return nil
    }

    // MARK: - Device logins

    func poll(_ loginID: String) -> Result<LoginResult, WireError> {
        lock.withLock {
            let now = Date()
            guard let entry = pending[loginID], entry.device != nil else {
                return .failure(WireError(.notFound, "no pending device login with that id (it finished and was collected, or expired)"))
            }
            if let result = entry.result {
                pending[loginID] = nil
                return .success(result)
            }
            if entry.expires <= now {
                pending[loginID] = nil
                return .success(LoginResult(status: "failed", profile: entry.profile, app: entry.app, message: "the device code expired before it was approved"))
            }
            return .success(LoginResult(status: "pending", profile: entry.profile, app: entry.app))
        }
    }

    private func pollDevice(_ entry: Pending, config: ProviderConfig, app: ProviderAppPayload) async {
        guard let device = entry.device else { return }
        let client = OAuthClient(config: config, credential: Refresher.credential(app, previous: false), transport: transport)
        var interval = max(1, device.interval)
        let loop = refresher.eventLoop
        while Date() < entry.expires {
            try? await Task.sleep(for: .seconds(interval))
            guard lock.withLock({ pending[entry.id] != nil }) else { return }
            do throws(OAuthError) {
                let tokens = try await client.pollDevice(device, requestedScopes: entry.scopes)
                let result = await finish(entry, tokens: tokens, config: config, eventLoop: loop)
                setResult(entry, result)
                return
            } catch {
                switch error.kind {
                case .authorizationPending: continue
                case .slowDown: interval += 5
                case .network, .serverError, .rateLimited: continue
                default:
                    setResult(entry, .failure(Self.wire(error, during: "the device login")))
                    return
                }
            }
        }
        setResult(entry, .failure(WireError(.badRequest, "the device code expired before it was approved")))
    }

    private func setResult(_ entry: Pending, _ result: Result<LoginResult, WireError>) {
        lock.withLock {
            guard pending[entry.id] != nil else { return }
            switch result {
            case .success(let r): pending[entry.id]?.result = r
            case .failure(let e): pending[entry.id]?.result = LoginResult(status: "failed", profile: entry.profile, app: entry.app, message: e.message)
            }
            // Collected by the next poll, or dropped a minute later.
            pending[entry.id]?.expires = Date().addingTimeInterval(60)
        }
    }

    // MARK: - Helpers

    private func readApp(profile: String, app: String, eventLoop: any EventLoop) async -> Result<ProviderAppPayload, WireError> {
        do {
            return try await broker.onVault(eventLoop) { broker -> Result<ProviderAppPayload, WireError> in
                guard let vault = broker.vault, vault.isUnlocked else { return .failure(broker.currentState == .uninitialized ? WireError.noVault : WireError.vaultLocked) }
                do throws(VaultError) {
                    return .success(try vault.get(ProviderAppPayload.self, profile: profile, name: app))
                } catch {
                    if error.code == .notFound {
                        return .failure(WireError(.notFound, "no provider app \"\(app)\" in profile \"\(profile)\"", hint: "credbroker setup google --name \(app) --profile \(profile)"))
                    }
                    return .failure(WireError(.internal, "cannot read provider app \"\(app)\": \(error.message)"))
                }
            }.get()
        } catch {
            return .failure(WireError(.unavailable, "the daemon is stopping"))
        }
    }

    /// A provider's refusal as an API error (messages carry no secret: OAuthError's never do).
    static func wire(_ error: OAuthError, during what: String) -> WireError {
        switch error.kind {
        case .accessDenied: return WireError(.denied, "\(what): access was denied at the provider")
        case .invalidGrant: return WireError(.badRequest, "\(what): the provider refused the code (\(error.message)); codes are single-use and expire within minutes")
        case .invalidClient, .unauthorizedClient: return WireError(.badRequest, "\(what): the provider refused the client (\(error.message))", hint: "check the client id and secret (credbroker secret rotate)")
        case .network, .serverError, .rateLimited: return WireError(.unavailable, "\(what): the provider did not answer (\(error.message))", retryAfter: error.retryAfterSeconds)
        case .expiredToken: return WireError(.badRequest, "\(what): the device code expired before it was approved")
        default: return WireError(.badRequest, "\(what): \(error.message)")
        }
    }
}
