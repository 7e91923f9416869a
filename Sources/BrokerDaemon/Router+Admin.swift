import BrokerCore
import BrokerCrypto
import BrokerSystem
import BrokerVault
import BrokerWire
import FoundationEssentials
import Logging
import NIOCore

extension Router {
    func admin(_ request: Request, name: String, eventLoop: any EventLoop) -> RouteResult {
        let caller = request.caller
        var event = AuditEvent(time: Int64(Date().timeIntervalSince1970), caller: request.auditCaller, route: "/v1/admin/" + name, result: "ok")
        // The admin check comes first: a caller who is not an admin learns nothing, not even
        // which admin routes and methods exist.
        guard broker.isAdmin(caller) else {
            event.result = "denied"
            event.decision = "deny"
            event.detail = "not an admin"
            audit.record(event)
            logger.notice("admin route denied", metadata: ["caller.uid": "\(caller.uid)", "caller.pid": "\(caller.pid)", "route": "\(Self.printable(name))"])
            return .now(.error(.denied, "not allowed"))
        }
        // Routes under profiles/ carry names in the path.
        let segments = name.split(separator: "/", omittingEmptySubsequences: false)
        let isProfiles = segments.first == "profiles"
        if !isProfiles && Self.adminRoutes[name] == nil {
            return .now(.error(.notFound, "no route \(Self.printable(request.path))"))
        }
        if !isProfiles, let methods = Self.adminRoutes[name], !methods.contains(request.method) {
            return .now(wrongMethod(methods))
        }
        event.decision = "allow"
        if isProfiles {
            return records(request, segments: Array(segments.dropFirst()), event: event, eventLoop: eventLoop)
        }
        switch name {
        case "init": return initVault(request, event: event, eventLoop: eventLoop)
        case "unlock": return unlock(request, event: event, eventLoop: eventLoop)
        case "lock": return lockVault(event: event, eventLoop: eventLoop, reason: "admin request")
        case "rotate":
            return vaultOperation(event, eventLoop) { vault in
                let count = try vault.rotate()
                return .json(OKResponse(message: "re-encrypted \(count) records under a new data key (generation \(vault.keyGeneration))"))
            }
        case "passwd": return passwd(request, event: event, eventLoop: eventLoop)
        case "backup": return backup(request, event: event, eventLoop: eventLoop)
        case "restore": return restore(request, event: event, eventLoop: eventLoop)
        case "reload": return .now(reload(event: event))
        case "status": return status(eventLoop: eventLoop)
        case "audit/verify": return verifyAudit(request, event: event, eventLoop: eventLoop)
        case "slots":
            return vaultOperation(event, eventLoop, requireUnlocked: false) { vault in
                .json(SlotsResponse(slots: try vault.slots().map {
                    SlotsResponse.Slot(id: $0.id, kind: $0.kind.rawValue, kdf: $0.kdfAlgorithm, opslimit: $0.kdfOpsLimit, memlimitBytes: $0.kdfMemLimitBytes)
                }))
            }
        case "add-slot": return addSlot(request, event: event, eventLoop: eventLoop)
        case "import": return importCredential(request, event: event, eventLoop: eventLoop)
        case "login/start", "login/complete", "login/poll", "revoke", "secret/rotate":
            return oauth(name, request, event: event, eventLoop: eventLoop)
        case "remove-slot":
            let parsed: RemoveSlotRequest
            switch decode(RemoveSlotRequest.self, request) {
            case .failure(let e): return .now(.error(e))
            case .success(let r): parsed = r
            }
            var event = event
            event.detail = "slot \(parsed.id)"
            return vaultOperation(event, eventLoop) { vault in
                try vault.removeSlot(id: parsed.id)
                return .json(OKResponse(message: "removed key slot \(parsed.id)"))
            }
        default: return .now(.error(.notFound, "no route \(Self.printable(request.path))"))
        }
    }

    /// Runs `body` with the unlocked vault on the vault thread; maps errors, audits.
    func vaultOperation(_ event: AuditEvent, _ eventLoop: any EventLoop, requireUnlocked: Bool = true,
                        _ body: @escaping @Sendable (Vault) throws -> Response) -> RouteResult {
        let audit = self.audit
        return .later(broker.onVault(eventLoop) { broker in
            var event = event
            var failure: WireError?
            var response = Response(status: 200, body: [])
            if let vault = broker.vault, !requireUnlocked || vault.isUnlocked {
                do { response = try body(vault) } catch { failure = Self.wireError(error) }
            } else if broker.vault == nil {
                failure = WireError.noVault
            } else {
                failure = WireError.vaultLocked
            }
            if let failure {
                event.result = failure.code.rawValue
                event.detail = failure.message
                response = .error(failure)
            }
            audit.record(event)
            return response
        })
    }

    static func wireError(_ error: any Error) -> WireError {
        if let e = error as? WireError { return e }
        if let e = error as? VaultError {
            switch e.code {
            case .locked: return WireError(.locked, e.message, hint: "credbroker vault unlock")
            case .wrongPassphrase: return WireError(.denied, e.message)
            case .notFound: return WireError(.notFound, e.message)
            case .alreadyExists, .invalidArgument, .weakKDF, .lastSlot: return WireError(.badRequest, e.message)
            case .insecurePermissions, .integrityFailure, .damaged, .unsupportedVersion: return WireError(.unavailable, e.message)
            default: return WireError(.internal, e.message)
            }
        }
        if let e = error as? FileSecurityError { return WireError(.badRequest, e.description) }
        if let e = error as? SystemError { return WireError(.internal, e.description) }
        return WireError(.internal, "internal error")
    }

    /// base64 → SecretBytes; the intermediate buffer is wiped.
    static func secret(_ base64: String, field: String) throws -> SecretBytes {
        guard var data = Data(base64Encoded: base64), !data.isEmpty else {
            throw WireError(.badRequest, "\"\(field)\" must be non-empty base64")
        }
        guard data.count <= SecretFile.maxSecretBytes else { throw WireError(.badRequest, "\"\(field)\" is too long") }
        let secret = SecretBytes(copying: data)
        data.resetBytes(in: 0..<data.count)
        return secret
    }

    // MARK: - init, unlock, lock, passwd

    func initVault(_ request: Request, event: AuditEvent, eventLoop: any EventLoop) -> RouteResult {
        let parsed: InitRequest
        switch decode(InitRequest.self, request) {
        case .failure(let e): return .now(.error(e))
        case .success(let r): parsed = r
        }
        guard let strength = PasswordKDF.Strength.named(parsed.kdf ?? "moderate") else {
            return .now(.error(.badRequest, "unknown kdf \(Self.printable(parsed.kdf ?? "")); use interactive, moderate or sensitive"))
        }
        let path = broker.configuration.paths.vault
        return .later(broker.onVault(eventLoop) { broker in
            var event = event
            do {
                guard broker.vault == nil else { throw WireError(.badRequest, "a vault already exists at \"\(path)\"") }
                let passphrase = try Self.secret(parsed.passphrase, field: "passphrase")
                guard passphrase.count >= 8 else { throw WireError(.badRequest, "the passphrase is shorter than 8 characters") }
                let created = try Vault.create(at: path, passphrase: passphrase, strength: strength, allowWeakKDF: parsed.allowWeakKDF ?? false)
                broker.vault = created.vault
                try broker.didUnlock(created.vault)
                let text = String(decoding: created.recoveryKey.unsafeCopyToArray(), as: UTF8.self)
                broker.audit.record(event)
                broker.logger.notice("vault created", metadata: ["vault": "\(path)"])
                return .json(InitResponse(recoveryKey: text, vault: path))
            } catch {
                let wire = Self.wireError(error)
                event.result = wire.code.rawValue
                event.detail = wire.message
                broker.audit.record(event)
                return .error(wire)
            }
        })
    }

    func unlock(_ request: Request, event: AuditEvent, eventLoop: any EventLoop) -> RouteResult {
        var event = event
        let parsed: UnlockRequest
        switch decode(UnlockRequest.self, request) {
        case .failure(let e): return .now(.error(e))
        case .success(let r): parsed = r
        }
        guard ["passphrase", "keyfile", "recovery"].contains(parsed.method) else {
            return .now(.error(.badRequest, "\"method\" must be passphrase, keyfile or recovery"))
        }
        event.detail = "method \(parsed.method)"
        if let wait = broker.unlockDelay(now: Date()) {
            event.result = "too_many"
            event.detail = "unlock attempt during backoff (\(wait) s left)"
            audit.record(event)
            return .now(.error(WireError(.tooMany, "too many failed unlock attempts; retry in \(wait) s", retryAfter: wait)))
        }
        let audit = self.audit
        let logger = self.logger
        let captured = event
        return .later(broker.onVault(eventLoop) { broker in
            var event = captured
            guard let vault = broker.vault else {
                return .error(WireError.noVault)
            }
            if vault.isUnlocked {
                audit.record(event)
                return .json(OKResponse(message: "vault is already unlocked"))
            }
            // Checked again here, where attempts run one at a time: attempts queued on many
            // connections all passed the event loop's check before the first one failed.
            if let wait = broker.unlockDelay(now: Date()) {
                event.result = "too_many"
                event.detail = "unlock attempt during backoff (\(wait) s left)"
                audit.record(event)
                return .error(WireError(.tooMany, "too many failed unlock attempts; retry in \(wait) s", retryAfter: wait))
            }
            do {
                let bytes = try Self.secret(parsed.secret, field: "secret")
                let secret: UnlockSecret
                switch parsed.method {
                case "keyfile": secret = try UnlockSecret.keyFile(bytes)
                case "recovery": secret = try UnlockSecret.recoveryKey(bytes)
                default: secret = UnlockSecret.passphrase(bytes)
                }
                try vault.unlock(secret)
                try broker.didUnlock(vault)
                audit.record(event)
                logger.notice("vault unlocked", metadata: ["caller.uid": "\(event.caller?.caller.uid ?? 0)", "method": "\(parsed.method)"])
                return .json(OKResponse(message: "vault unlocked"))
            } catch {
                let wire = Self.wireError(error)
                if wire.code == .denied || wire.code == .badRequest {
                    let (failures, delay) = broker.unlockFailed(now: Date())
                    event.detail = "failed unlock \(failures) (method \(parsed.method))" + (delay > 0 ? "; next attempt allowed in \(Int(delay)) s" : "")
                    logger.warning("failed unlock", metadata: ["caller.uid": "\(event.caller?.caller.uid ?? 0)", "failures": "\(failures)"])
                } else {
                    event.detail = wire.message
                }
                event.result = wire.code.rawValue
                audit.record(event)
                return .error(wire)
            }
        })
    }

    func lockVault(event: AuditEvent, eventLoop: any EventLoop, reason: String) -> RouteResult {
        var event = event
        event.detail = reason
        let lock = { [self] () -> RouteResult in
            vaultOperation(event, eventLoop, requireUnlocked: false) { [broker] vault in
                vault.lock()
                broker.didLock()
                broker.logger.notice("vault locked", metadata: ["reason": "\(reason)"])
                return .json(OKResponse(message: "vault locked"))
            }
        }
        guard let refresher = broker.refresher else { return lock() }
        // Refreshes in flight finish first: a rotated refresh token must reach the vault
        // before its keys go.
        let drained = eventLoop.makeFutureWithTask { await refresher.pauseAndDrain() }
        return .later(drained.flatMap { _ in
            switch lock() {
            case .now(let response): return eventLoop.makeSucceededFuture(response)
            case .later(let future): return future
            }
        })
    }

    func passwd(_ request: Request, event: AuditEvent, eventLoop: any EventLoop) -> RouteResult {
        let parsed: PasswdRequest
        switch decode(PasswdRequest.self, request) {
        case .failure(let e): return .now(.error(e))
        case .success(let r): parsed = r
        }
        guard let strength = PasswordKDF.Strength.named(parsed.kdf ?? "moderate") else {
            return .now(.error(.badRequest, "unknown kdf; use interactive, moderate or sensitive"))
        }
        return vaultOperation(event, eventLoop) { vault in
            let current = try Self.secret(parsed.current, field: "current")
            let new = try Self.secret(parsed.new, field: "new")
            guard new.count >= 8 else { throw WireError(.badRequest, "the new passphrase is shorter than 8 characters") }
            try vault.changePassphrase(current: current, new: new, strength: strength)
            return .json(OKResponse(message: "passphrase changed"))
        }
    }

    func addSlot(_ request: Request, event: AuditEvent, eventLoop: any EventLoop) -> RouteResult {
        let parsed: AddSlotRequest
        switch decode(AddSlotRequest.self, request) {
        case .failure(let e): return .now(.error(e))
        case .success(let r): parsed = r
        }
        var event = event
        event.detail = "add \(parsed.kind) slot"
        return vaultOperation(event, eventLoop) { [self] vault in
            switch parsed.kind {
            case "passphrase":
                guard let text = parsed.passphrase else { throw WireError(.badRequest, "a passphrase slot needs \"passphrase\" (base64)") }
                guard let strength = PasswordKDF.Strength.named(parsed.kdf ?? "moderate") else { throw WireError(.badRequest, "unknown kdf") }
                let secret = try Self.secret(text, field: "passphrase")
                guard secret.count >= 8 else { throw WireError(.badRequest, "the passphrase is shorter than 8 characters") }
                return .json(AddSlotResponse(id: try vault.addPassphraseSlot(secret, strength: strength), kind: "passphrase"))
            case "keyfile":
                guard let path = parsed.path else { throw WireError(.badRequest, "a key-file slot needs \"path\", where the daemon writes the new key file") }
                let checked = try checkedPath(path)
                let key = try Vault.createKeyFile(at: checked)
                return .json(AddSlotResponse(id: try vault.addKeyFileSlot(key), kind: "keyfile"))
            case "recovery":
                let text = try vault.addRecoverySlot()
                let slots = try vault.slots()
                return .json(AddSlotResponse(id: slots.map(\.id).max() ?? 0, kind: "recovery",
                                             recoveryKey: String(decoding: text.unsafeCopyToArray(), as: UTF8.self)))
            default:
                throw WireError(.badRequest, "\"kind\" must be passphrase, keyfile or recovery")
            }
        }
    }

    // MARK: - backup, restore

    /// System mode: backups live under the daemon's state directory, so an admin cannot
    /// make the daemon write or read anywhere it can.
    func checkedPath(_ path: String) throws -> String {
        try checkedPath(path, under: FileSecurity.parentDirectory(of: broker.configuration.paths.vault))
    }

    /// An absolute path without "..", in system mode confined to `directory`, so an admin
    /// cannot make the daemon read or write wherever it can.
    func checkedPath(_ path: String, under directory: String) throws -> String {
        guard path.hasPrefix("/") else { throw WireError(.badRequest, "the path must be absolute: \(Self.printable(path))") }
        guard !path.split(separator: "/").contains("..") else { throw WireError(.badRequest, "the path must not contain \"..\"") }
        if broker.configuration.mode == .system {
            let prefix = directory.hasSuffix("/") ? directory : directory + "/"
            guard path.hasPrefix(prefix) else {
                throw WireError(.badRequest, "in system mode this path must lie under \"\(prefix)\"")
            }
        }
        return path
    }

    func backup(_ request: Request, event: AuditEvent, eventLoop: any EventLoop) -> RouteResult {
        let parsed: PathRequest
        switch decode(PathRequest.self, request) {
        case .failure(let e): return .now(.error(e))
        case .success(let r): parsed = r
        }
        var event = event
        event.detail = "backup to \(parsed.path)"
        return vaultOperation(event, eventLoop, requireUnlocked: false) { [self] vault in
            let path = try checkedPath(parsed.path)
            try vault.backup(to: path, overwrite: parsed.force ?? false)
            return .json(OKResponse(message: "backed up to \"\(path)\""))
        }
    }

    func restore(_ request: Request, event: AuditEvent, eventLoop: any EventLoop) -> RouteResult {
        let parsed: PathRequest
        switch decode(PathRequest.self, request) {
        case .failure(let e): return .now(.error(e))
        case .success(let r): parsed = r
        }
        guard let passphrase = parsed.passphrase else {
            return .now(.error(.badRequest, "\"passphrase\" (of the backup, base64) is required: the backup is checked before anything is replaced"))
        }
        var event = event
        event.detail = "restore from \(parsed.path)"
        let target = broker.configuration.paths.vault
        let operation = { [self] () -> RouteResult in vaultOperation(event, eventLoop, requireUnlocked: false) { [self] vault in
            let path = try checkedPath(parsed.path)
            let bytes = try Self.secret(passphrase, field: "passphrase")
            // Close ours, restore, reopen locked; on failure reopen the old one.
            vault.close()
            broker.didLock()
            do {
                try Vault.restore(from: path, to: target, force: parsed.force ?? false, secret: UnlockSecret.passphrase(bytes))
            } catch {
                broker.vault = try? Vault.open(at: target)
                broker.setState(broker.vault == nil ? .uninitialized : .locked)
                throw error
            }
            broker.vault = try Vault.open(at: target)
            broker.setState(.locked)
            return .json(OKResponse(message: "restored \"\(target)\" from \"\(path)\"; the vault is locked: unlock it"))
        } }
        // As for lock: refreshes in flight finish first, so a refresh token the provider
        // rotates meanwhile reaches the vault being replaced instead of vanishing with it.
        // What can fail while the vault is still open is checked before the refresher is
        // paused (once the vault is closed, unlocking resumes it).
        do {
            _ = try checkedPath(parsed.path)
            _ = try Self.secret(passphrase, field: "passphrase")
        } catch {
            var event = event
            let failure = Self.wireError(error)
            event.result = failure.code.rawValue
            event.detail = failure.message
            audit.record(event)
            return .now(.error(failure))
        }
        guard let refresher = broker.refresher, broker.vault != nil else { return operation() }
        let drained = eventLoop.makeFutureWithTask { await refresher.pauseAndDrain() }
        return .later(drained.flatMap { _ in
            switch operation() {
            case .now(let response): return eventLoop.makeSucceededFuture(response)
            case .later(let future): return future
            }
        })
    }

    // MARK: - reload, status, audit

    func reload(event: AuditEvent) -> Response {
        var event = event
        switch reloadPolicies() {
        case .success(let set):
            broker.replacePolicies(set)
            event.detail = "\(set.rules.count) rules from \(set.files.count) files"
            audit.record(event)
            logger.notice("policies reloaded", metadata: ["rules": "\(set.rules.count)", "files": "\(set.files.joined(separator: ","))"])
            return .json(OKResponse(message: "loaded \(set.rules.count) rules from \(set.files.count) files"))
        case .failure(let error):
            event.result = "bad_request"
            event.detail = error.message
            audit.record(event)
            logger.error("policy reload failed; keeping the old policies", metadata: ["error": "\(error.message)"])
            return .error(.badRequest, "\(error.message); the old policies stay in force")
        }
    }

    func status(eventLoop: any EventLoop) -> RouteResult {
        let broker = self.broker
        return .later(broker.onVault(eventLoop) { broker in
            let (state, index, cache, policies) = broker.statusSnapshot()
            let now = Date()
            var profiles: [AdminStatusResponse.Profile] = []
            for name in index.profiles.keys.sorted() {
                let p = index.profiles[name]!
                var apps: [AdminStatusResponse.App] = []
                var grants: [AdminStatusResponse.Grant] = []
                for (appName, app) in p.apps.sorted(by: { $0.key < $1.key }) {
                    apps.append(AdminStatusResponse.App(name: appName, type: app.type, configured: app.configured))
                    for account in app.accounts.sorted() {
                        let key = GrantKey(profile: name, app: appName, account: account)
                        guard let vault = broker.vault, vault.isUnlocked,
                              let payload = try? vault.get(GrantPayload.self, profile: name, name: key.recordName) else {
                            grants.append(AdminStatusResponse.Grant(app: appName, account: account, scopes: [], state: "unknown",
                                                                    tokenValidUntil: nil, lastRefresh: nil, lastError: nil))
                            continue
                        }
                        grants.append(Self.statusGrant(key, payload: payload, cached: cache[key], appType: app.type, now: now))
                    }
                }
                profiles.append(AdminStatusResponse.Profile(name: name, apps: apps, grants: grants))
            }
            let auditState = broker.audit.isHealthy ? "ok" : "failing: \(broker.audit.problem ?? "unknown")"
            return .json(AdminStatusResponse(state: state.rawValue, vault: broker.configuration.paths.vault, mode: broker.configuration.mode.rawValue,
                                             policies: policies.files, profiles: profiles, audit: auditState))
        })
    }

    /// One grant's status line: state, latest token expiry, refresh history, and what to do.
    static func statusGrant(_ key: GrantKey, payload: GrantPayload, cached: CachedGrant?, appType: String, now: Date) -> AdminStatusResponse.Grant {
        let dead = payload.state == "dead" || cached?.dead == true
        var validUntil = payload.accessTokenExpiresAt
        for token in cached?.tokens.values ?? [:].values where validUntil == nil || token.expiresAt > validUntil! {
            validUntil = token.expiresAt
        }
        let login = "credbroker login \(key.app) --profile \(key.profile)" + (key.account == "default" ? "" : " --account \(key.account)")
        let rtObtained = payload.refreshToken == nil ? nil : (payload.refreshTokenObtainedAt ?? payload.obtainedAt)
        let warnings = GrantWarnings.warnings(appType: appType, dead: dead, refreshTokenObtained: rtObtained, diedAt: payload.lastErrorAt,
                                              lastError: payload.lastError, lastRefresh: payload.lastRefreshAt)
        return AdminStatusResponse.Grant(
            app: key.app, account: key.account, scopes: payload.scopes, state: dead ? "dead" : "active",
            tokenValidUntil: validUntil.map { RFC3339.string($0) },
            lastRefresh: payload.lastRefreshAt.map { RFC3339.string($0) },
            lastError: payload.lastError,
            flow: payload.flow ?? (payload.refreshToken == nil ? "access_token" : "refresh_token"),
            refreshTokenObtained: rtObtained.map { RFC3339.string($0) },
            fix: dead ? login : nil,
            warnings: warnings.isEmpty ? nil : warnings)
    }

    func verifyAudit(_ request: Request, event: AuditEvent, eventLoop: any EventLoop) -> RouteResult {
        let parsed: PathRequest
        switch decode(PathRequest.self, request) {
        case .failure(let e): return .now(.error(e))
        case .success(let r): parsed = r
        }
        let auditPath = broker.configuration.paths.auditLog
        return vaultOperation(event, eventLoop) { [self, audit] vault in
            // The daemon reads the file on its vault thread: an absolute path, in system mode
            // only beside the live log, a regular file of bounded size (no FIFO to block on,
            // no /dev/zero to fill memory).
            let path = try checkedPath(parsed.path, under: FileSecurity.parentDirectory(of: auditPath))
            guard let pair = try vault.internalKey(name: Broker.auditKeyName) else {
                throw WireError(.notFound, "this vault has no audit key yet")
            }
            let live = FileSecurity.absolute(path) == FileSecurity.absolute(auditPath)
            if live { audit.flush() }
            let limit = max(2 * broker.configuration.audit.maxBytes, 16 * 1024 * 1024)
            guard let bytes = try FileSecurity.readRegularFile(path, limit: limit) else {
                throw WireError(.notFound, "\"\(path)\" does not exist")
            }
            let result = AuditVerifier.verify(fileBytes: bytes, keyPair: pair, checkpoint: live ? audit.checkpoint : nil)
            return .json(result)
        }
    }
}


