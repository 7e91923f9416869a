import BrokerCore
import BrokerHTTP
import BrokerOAuth
import BrokerVault
import BrokerWire
import FoundationEssentials
import NIOCore

/// The OAuth admin routes (docs/spec/api.md): login/start, login/complete, login/poll,
/// revoke, secret/rotate. Every one is audited; none answers with a secret.
extension Router {
    func oauth(_ name: String, _ request: Request, event: AuditEvent, eventLoop: any EventLoop) -> RouteResult {
        switch name {
        case "login/start":
            let parsed: LoginStartRequest
            switch decode(LoginStartRequest.self, request) {
            case .failure(let e): return .now(.error(e))
            case .success(let r): parsed = r
            }
            var event = event
            event.profile = parsed.profile
            event.provider = parsed.app
            event.detail = parsed.device == true ? "device code" : "authorization code with PKCE"
            return audited(event, eventLoop) { [logins] in
                await logins.start(parsed, eventLoop: eventLoop).map { Response.json($0) }
            }
        case "login/complete":
            let parsed: LoginCompleteRequest
            switch decode(LoginCompleteRequest.self, request) {
            case .failure(let e): return .now(.error(e))
            case .success(let r): parsed = r
            }
            var event = event
            event.profile = parsed.profile
            event.provider = parsed.app
            event.detail = parsed.loginID != nil ? "loopback callback" : "code typed in"
            return audited(event, eventLoop) { [logins] in
                await logins.complete(parsed, eventLoop: eventLoop).map { Response.json($0) }
            }
        case "login/poll":
            let parsed: LoginPollRequest
            switch decode(LoginPollRequest.self, request) {
            case .failure(let e): return .now(.error(e))
            case .success(let r): parsed = r
            }
            // Polls are not audited one by one; the login itself is.
            switch logins.poll(parsed.loginID) {
            case .success(let r): return .now(.json(r))
            case .failure(let e): return .now(.error(e))
            }
        case "revoke":
            let parsed: RevokeRequest
            switch decode(RevokeRequest.self, request) {
            case .failure(let e): return .now(.error(e))
            case .success(let r): parsed = r
            }
            var event = event
            event.profile = parsed.profile
            event.provider = parsed.app
            event.account = parsed.account
            return audited(event, eventLoop) { [self] in await revoke(parsed, eventLoop: eventLoop) }
        case "secret/rotate":
            let parsed: SecretRotateRequest
            switch decode(SecretRotateRequest.self, request) {
            case .failure(let e): return .now(.error(e))
            case .success(let r): parsed = r
            }
            guard !parsed.clientSecret.isEmpty, parsed.clientSecret.utf8.count <= 4096 else {
                return .now(.error(.badRequest, "\"client_secret\" must be 1 to 4096 bytes"))
            }
            var event = event
            event.profile = parsed.profile
            event.provider = parsed.app
            return vaultOperation(event, eventLoop) { vault in
                var app = try vault.get(ProviderAppPayload.self, profile: parsed.profile, name: parsed.app)
                guard app.clientSecret != parsed.clientSecret else { throw WireError(.badRequest, "that is already the client secret of \"\(parsed.app)\"") }
                // The last secret known to work stays as the fallback until the new one works.
                if app.previousClientSecret == nil { app.previousClientSecret = app.clientSecret }
                app.clientSecret = parsed.clientSecret
                try vault.put(app, profile: parsed.profile, name: parsed.app)
                return .json(OKResponse(message: "stored the new client secret of \"\(parsed.app)\" in profile \"\(parsed.profile)\"; the old one stays as a fallback until a refresh succeeds with the new one"))
            }
        default:
            return .now(.error(.notFound, "no route \(Self.printable(request.path))"))
        }
    }

    /// Runs an async admin operation and writes its audit line.
    func audited(_ event: AuditEvent, _ eventLoop: any EventLoop, _ body: @escaping @Sendable () async -> Result<Response, WireError>) -> RouteResult {
        let promise = eventLoop.makePromise(of: Response.self)
        promise.completeWithTask { [audit] in
            var event = event
            switch await body() {
            case .success(let response):
                audit.record(event)
                return response
            case .failure(let error):
                event.result = error.code.rawValue
                event.detail = (event.detail.map { $0 + ": " } ?? "") + error.message
                audit.record(event)
                return .error(error)
            }
        }
        return .later(promise.futureResult)
    }

    /// Revokes at the provider where it has an endpoint, then deletes the grant. When the
    /// provider cannot be reached the grant is kept, so the revocation can be retried.
    func revoke(_ request: RevokeRequest, eventLoop: any EventLoop) async -> Result<Response, WireError> {
        let key: GrantKey
        if let account = request.account {
            key = GrantKey(profile: request.profile, app: request.app, account: account)
        } else {
            let accounts = broker.accounts(profile: request.profile, app: request.app)
            guard accounts.count == 1 else {
                return .failure(WireError(accounts.isEmpty ? .notFound : .badRequest,
                                          accounts.isEmpty ? "no grant for \"\(request.app)\" in profile \"\(request.profile)\"" : "\"\(request.app)\" has \(accounts.count) accounts in profile \"\(request.profile)\"; name one with --account"))
            }
            key = GrantKey(profile: request.profile, app: request.app, account: accounts[0])
        }
        let material: Refresher.Material
        switch await refresher.readMaterial(key) {
        case .failure(let e): return .failure(e)
        case .success(let m): material = m
        }
        var revokedAtProvider = false
        var note = ""
        if let config = try? Refresher.providerConfig(material.app), config.revocationURL != nil,
           let token = material.grant.refreshToken ?? material.grant.accessToken {
            let client = OAuthClient(config: config, credential: Refresher.credential(material.app, previous: false), transport: refresher.transport)
            do throws(OAuthError) {
                try await client.revoke(token: token)
                revokedAtProvider = true
            } catch {
                if error.isRetryable {
                    return .failure(WireError(.unavailable, "the provider could not be reached to revoke the grant (\(error.message)); the grant is kept so you can try again"))
                }
                // invalid_token and the like: already dead at the provider.
                note = " (the provider said: \(error.message))"
                revokedAtProvider = true
            }
        } else {
            note = "; \(material.app.type) has no revocation endpoint here: remove the app's access in your account's security settings too"
        }
        do {
            try await broker.onVault(eventLoop) { broker in
                guard let vault = broker.vault, vault.isUnlocked else { throw WireError.vaultLocked }
                try vault.inTransaction { () throws(VaultError) in
                    try vault.delete(RecordID(profile: key.profile, kind: .grant, name: key.recordName))
                    if material.grant.flow == "jwt_bearer" {
                        try? vault.delete(RecordID(profile: key.profile, kind: .serviceAccount, name: key.recordName))
                    }
                }
                try broker.refreshIndex(vault, invalidate: key)
            }.get()
        } catch let error as WireError {
            return .failure(error)
        } catch let error as VaultError {
            return .failure(WireError(.internal, "revoked at the provider but cannot delete the grant: \(error.message)"))
        } catch {
            return .failure(WireError(.internal, "cannot delete the grant"))
        }
        let message = (revokedAtProvider ? "revoked at the provider and deleted" : "deleted") + " the grant for \"\(key.app)\" account \"\(key.account)\" in profile \"\(key.profile)\"" + note
        return .success(.json(RevokeResponse(account: key.account, revokedAtProvider: revokedAtProvider, message: message)))
    }
}
