import BrokerCore
import BrokerCrypto
import BrokerSystem
import BrokerVault
import BrokerWire
import FoundationEssentials
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The daemon's state and the decisions on it: the vault (locked, unlocked or absent), the
/// policies, the grant index and the token cache.
///
/// Threading: fast state (`state`, `policies`, `index`, `cache`, unlock backoff, activity)
/// is guarded by `lock` and read on the event loops, so the cached-token path never leaves
/// the loop. The vault itself is touched only on `vaultThread` (one thread: vault operations
/// are serialized and may block for a KDF run without stalling an event loop).
///
/// @unchecked Sendable: see above; `vault` is confined to `vaultThread`.
final class Broker: @unchecked Sendable {
    enum VaultState: String, Sendable { case uninitialized, locked, unlocked }

    let configuration: Configuration
    let logger: Logger
    let audit: AuditLog
    let daemonUID: UInt32
    let metrics: DaemonMetrics
    let startedAt = Date()
    let version: String
    private let vaultThread: NIOThreadPool
    private let lock = NIOLock()

    // Guarded by `lock`.
    private var state: VaultState {
        didSet { metrics.setVaultLocked(state != .unlocked) }
    }
    private var policies: PolicySet
    private var index = GrantIndex()
    /// Grants the provider refused (from the vault at unlock, then as refreshes find them).
    private var deadGrants: Set<GrantKey> = [] {
        didSet { metrics.setDeadGrants(deadGrants.count) }
    }
    private var cache: [GrantKey: CachedGrant] = [:]
    /// Grant reads in flight, joined by concurrent requests.
    private var loads: [GrantKey: EventLoopFuture<Result<GrantPayload, WireError>>] = [:]
    private var unlockFailures = 0
    private var unlockBlockedUntil = Date.distantPast
    private var lastActivity = Date()

    /// The vault: touched only on `vaultThread` (inside `onVault`).
    var vault: Vault?
    /// Set once at start, before the first request.
    var refresher: Refresher?

    static let auditKeyName = "audit-keypair"
    static let defaultMinValidSeconds = 60
    static let unlockFreeAttempts = 3
    static let unlockMaxDelaySeconds = 300.0

    init(configuration: Configuration, policies: PolicySet, vault: Vault?, audit: AuditLog, metrics: DaemonMetrics, logger: Logger, version: String) {
        self.configuration = configuration
        self.policies = policies
        self.vault = vault
        self.audit = audit
        self.metrics = metrics
        self.logger = logger
        self.version = version
        self.daemonUID = UserDatabase.effectiveUID
        self.state = vault == nil ? .uninitialized : (vault!.isUnlocked ? .unlocked : .locked)
        self.vaultThread = NIOThreadPool(numberOfThreads: 1)
        vaultThread.start()
        metrics.setVaultLocked(state != .unlocked)
        metrics.setKnownProviders(Self.providerNames(policies: policies, index: index))
    }

    func shutdown() {
        try? vaultThread.syncShutdownGracefully()
    }

    var currentState: VaultState { lock.withLock { state } }

    /// The accounts an app has grants for in a profile (the index; no vault access).
    func accounts(profile: String, app: String) -> [String] {
        lock.withLock { index.accounts(profile: profile, app: app) }
    }

    func isAdmin(_ caller: Caller) -> Bool {
        lock.withLock { policies }.isAdmin(caller, mode: configuration.mode, daemonUID: daemonUID)
    }

    /// Whether `caller` may read the metrics: an admin, or a rule grants `metrics = true`.
    func mayReadMetrics(_ caller: Caller) -> Bool {
        let current = lock.withLock { self.policies }
        return current.isAdmin(caller, mode: configuration.mode, daemonUID: daemonUID) || current.mayReadMetrics(caller)
    }

    func replacePolicies(_ new: PolicySet) {
        lock.withLock {
            policies = new
            metrics.setKnownProviders(Self.providerNames(policies: policies, index: index))
        }
    }

    /// The provider names that get a metrics label of their own: the apps of the index and
    /// the names the policies grant (the operator's configuration, never a caller's).
    private static func providerNames(policies: PolicySet, index: GrantIndex) -> Set<String> {
        var names = Set<String>()
        for rule in policies.rules { for name in rule.providers where name != "*" { names.insert(name) } }
        for profile in index.profiles.values { names.formUnion(profile.apps.keys) }
        return names
    }

    /// Runs `body` with the vault on the vault thread.
    func onVault<T: Sendable>(_ eventLoop: any EventLoop, _ body: @escaping @Sendable (Broker) throws -> T) -> EventLoopFuture<T> {
        vaultThread.runIfActive(eventLoop: eventLoop) { [self] in try body(self) }
    }

    // MARK: - Health

    func health() -> HealthResponse {
        let s = currentState
        let uptime = Int(Date().timeIntervalSince(startedAt))
        if !audit.isHealthy {
            return HealthResponse(status: "degraded", version: version, uptimeSeconds: uptime, detail: "the audit log cannot be written")
        }
        switch s {
        case .uninitialized: return HealthResponse(status: "uninitialized", version: version, uptimeSeconds: uptime)
        case .locked: return HealthResponse(status: "locked", version: version, uptimeSeconds: uptime)
        case .unlocked: return HealthResponse(status: "ok", version: version, uptimeSeconds: uptime)
        }
    }

    // MARK: - Tokens

    /// A token ready to send: the response body, and what the audit line needs.
    struct TokenAnswer: Sendable {
        var body: [UInt8]
        var account: String
        var fingerprint: String
        /// The grant's provider counters (resolved when it was cached).
        var served: TokenCounters
    }

    enum TokenOutcome: Sendable {
        case done(Result<TokenAnswer, WireError>)
        /// The grant is not cached: read it from the vault, then decide again.
        case needsLoad(GrantKey)
        /// No cached token fits: the refresher obtains one, then the cache answers.
        case needsRefresh(RefreshNeed)
    }

    /// What the refresher must obtain for a request.
    struct RefreshNeed: Sendable {
        var key: GrantKey
        /// The scopes the new token carries (the request's, or the grant's when the grant
        /// cannot be narrowed).
        var scopes: [String]
        var minValid: Int
        var force: Bool
    }

    /// The cached-token path: every check that needs no vault access, on the event loop.
    func token(_ request: TokenRequest, scopes: [String], caller: Caller, event: inout AuditEvent, now: Date) -> TokenOutcome {
        lock.lock()
        defer { lock.unlock() }
        switch state {
        case .uninitialized:
            return .done(.failure(WireError.noVault))
        case .locked:
            return .done(.failure(WireError.vaultLocked))
        case .unlocked:
            break
        }
        if configuration.audit.onFailure == .refuse && !audit.isHealthy {
            return .done(.failure(WireError(.unavailable, "the audit log cannot be written; tokens are refused until it can")))
        }
        // Resolve the account among those this caller may use, so an ambiguity or an
        // absence is reported only to callers allowed to know.
        var account = request.account
        var decided: PolicyDecision?
        if account == nil {
            let candidates = index.accounts(profile: request.profile, app: request.provider)
            var allowed: [String] = []
            for candidate in candidates {
                let d = policies.decide(TokenQuestion(profile: request.profile, provider: request.provider, account: candidate, scopes: scopes), for: caller)
                if d.allowed {
                    allowed.append(candidate)
                    decided = d
                }
            }
            if allowed.count != 1 { decided = nil }
            if allowed.count == 1 {
                account = allowed[0]
            } else if allowed.isEmpty && candidates.count == 1 {
                // Denied either way; decide on the one account so the logged reason is the real one.
                account = candidates[0]
            } else if allowed.count > 1 {
                event.decision = "allow"
                return .done(.failure(WireError(.badRequest, "profile \"\(request.profile)\" has \(allowed.count) accounts for \"\(request.provider)\" that you may use; name one with \"account\"")))
            }
        }
        let question = TokenQuestion(profile: request.profile, provider: request.provider, account: account, scopes: scopes)
        let decision = decided ?? policies.decide(question, for: caller)
        event.account = account
        event.decision = decision.allowed ? "allow" : "deny"
        event.rule = decision.rule
        event.detail = decision.allowed ? nil : decision.reason
        guard decision.allowed else {
            return .done(.failure(WireError(.denied, "not allowed")))
        }
        // Only allowed requests count as activity: a caller the policy refuses must not keep
        // an unlocked vault from its idle lock.
        lastActivity = now
        guard let account else {
            return .done(.failure(WireError(.notFound, "no grant for \"\(request.provider)\" in profile \"\(request.profile)\"", hint: "credbroker login \(request.provider) --profile \(request.profile)")))
        }
        let key = GrantKey(profile: request.profile, app: request.provider, account: account)
        guard index.contains(key) else {
            return .done(.failure(WireError(.notFound, "no grant for \"\(request.provider)\" account \"\(account)\" in profile \"\(request.profile)\"", hint: "credbroker login \(request.provider) --profile \(request.profile)")))
        }
        guard cache[key] != nil else { return .needsLoad(key) }
        return answer(key: key, request: request, scopes: scopes, caller: caller, event: &event, now: now)
    }

    /// Answers from the cached grant (caller holds `lock`), or says what to refresh. The
    /// response body is built once per token per second (`expires_in` counts seconds).
    private func answer(key: GrantKey, request: TokenRequest, scopes: [String], caller: Caller, event: inout AuditEvent, now: Date) -> TokenOutcome {
        guard let grant = cache[key] else { return .done(.failure(WireError(.internal, "grant vanished from the cache"))) }
        // Built only on the failure paths (this runs per request).
        var login: String { "credbroker login \(key.app) --profile \(key.profile)" }
        if grant.dead {
            return .done(.failure(WireError(.reauthRequired, "the grant for \"\(key.app)\" account \"\(key.account)\" in profile \"\(key.profile)\" was revoked or expired at the provider", hint: login)))
        }
        let missing = scopes.filter { !grant.scopes.contains($0) }
        if !missing.isEmpty {
            let scopeFlags = scopes.map { "--scope \(ScopeAliases.alias(for: $0) ?? $0)" }.joined(separator: " ")
            return .done(.failure(WireError(.reauthRequired, "the grant for \"\(key.app)\" account \"\(key.account)\" does not include \(missing.joined(separator: ", "))", hint: "\(login) \(scopeFlags)")))
        }
        // The token carries exactly the scopes asked for when the provider can narrow a
        // refresh; otherwise it carries the grant's, and the policy must allow all of them.
        var tokenScopes = scopes
        if !grant.narrowable {
            tokenScopes = grant.scopes
            if tokenScopes.count != scopes.count {
                let wide = policies.decide(TokenQuestion(profile: key.profile, provider: key.app, account: key.account, scopes: tokenScopes), for: caller)
                if !wide.allowed {
                    event.decision = "deny"
                    event.detail = "the token would carry all of the grant's scopes (this grant cannot be narrowed) and the policy does not allow them all: \(wide.reason)"
                    return .done(.failure(WireError(.denied, "not allowed")))
                }
            }
        }
        let scopeKey = ScopeSet.key(tokenScopes)
        let minValid = request.minValidSeconds ?? Self.defaultMinValidSeconds
        let force = request.forceRefresh == true
        if let token = grant.tokens[scopeKey] {
            let remaining = token.expiresAt.timeIntervalSince(now)
            // A token obtained in the last 30 s is as fresh as a refresh would make it: it is
            // served even when the provider's lifetime is shorter than min_valid_seconds,
            // and force_refresh gets it too (at most one refresh per scope set per 30 s).
            let recent = now.timeIntervalSince(token.obtainedAt) < Self.forceRefreshInterval
            if remaining >= Double(minValid) || (recent && remaining > 0) {
                if !force || !grant.canRefresh || recent {
                    return .done(.success(body(key: key, scopeKey: scopeKey, served: grant.served, now: now)))
                }
            }
        }
        guard grant.canRefresh else {
            return .done(.failure(WireError(.reauthRequired, "the grant for \"\(key.app)\" account \"\(key.account)\" has no valid token and no refresh token", hint: login)))
        }
        return .needsRefresh(RefreshNeed(key: key, scopes: tokenScopes, minValid: minValid, force: force))
    }

    static let forceRefreshInterval = 30.0

    /// The answer body for a cached token (caller holds `lock`; the token exists).
    private func body(key: GrantKey, scopeKey: String, served: TokenCounters, now: Date) -> TokenAnswer {
        Self.serve(&cache[key]!.tokens[scopeKey]!, key: key, served: served, now: now)
    }

    /// Marks the token used and returns its answer, built once per second (`expires_in`
    /// counts seconds); one access to the cached token.
    private static func serve(_ token: inout CachedToken, key: GrantKey, served: TokenCounters, now: Date) -> TokenAnswer {
        token.lastUsed = now
        let second = Int64(now.timeIntervalSince1970.rounded(.down))
        if let body = token.body, token.bodySecond == second {
            return TokenAnswer(body: body, account: key.account, fingerprint: token.fingerprint, served: served)
        }
        let expiresIn = max(0, Int(token.expiresAt.timeIntervalSince(now)))
        let body = TokenResponse(accessToken: token.accessToken, tokenType: "Bearer", expiresAt: token.expiresAtText, expiresIn: expiresIn,
                                 scopes: token.scopes, profile: key.profile, provider: key.app, account: key.account).jsonBytes
        token.body = body
        token.bodySecond = second
        return TokenAnswer(body: body, account: key.account, fingerprint: token.fingerprint, served: served)
    }

    /// After a refresh: the token for `need`, if the cache has one that is still valid.
    func answerAfterRefresh(_ need: RefreshNeed, now: Date) -> Result<TokenAnswer, WireError> {
        lock.withLock {
            guard state == .unlocked else { return .failure(WireError.vaultLocked) }
            let scopeKey = ScopeSet.key(need.scopes)
            guard let grant = cache[need.key], let token = grant.tokens[scopeKey], token.expiresAt > now else {
                return .failure(WireError(.unavailable, "the refreshed token for \"\(need.key.app)\" account \"\(need.key.account)\" is gone (the vault was locked or the grant changed); try again"))
            }
            return .success(body(key: need.key, scopeKey: scopeKey, served: grant.served, now: now))
        }
    }

    /// Reads a grant from the vault into the cache, then decides again. Concurrent requests
    /// for one grant share one read (a herd on a cold grant costs one decryption).
    func loadGrant(_ key: GrantKey, request: TokenRequest, scopes: [String], caller: Caller, event: AuditEvent, eventLoop: any EventLoop) -> EventLoopFuture<(TokenOutcome, AuditEvent)> {
        var started = false
        let read: EventLoopFuture<Result<GrantPayload, WireError>> = lock.withLock {
            if let inFlight = loads[key] { return inFlight }
            started = true
            let future = onVault(eventLoop) { broker -> Result<GrantPayload, WireError> in
                guard let vault = broker.vault, vault.isUnlocked else { return .failure(WireError.vaultLocked) }
                do throws(VaultError) {
                    return .success(try vault.get(GrantPayload.self, profile: key.profile, name: key.recordName))
                } catch {
                    if error.code == .notFound { return .failure(WireError(.notFound, "no grant for \"\(key.app)\" account \"\(key.account)\" in profile \"\(key.profile)\"")) }
                    broker.logger.error("cannot read grant", metadata: ["credential": "\(key.profile)/\(key.recordName)", "error": "\(error.message)"])
                    return .failure(WireError(.internal, "cannot read the grant"))
                }
            }
            loads[key] = future
            return future
        }
        // Registered outside the lock: a completed future runs the callback at once.
        if started { read.whenComplete { [weak self] _ in self?.lock.withLock { _ = self?.loads.removeValue(forKey: key) } } }
        return read.hop(to: eventLoop).map { [weak self] result -> (TokenOutcome, AuditEvent) in
            guard let self else { return (.done(.failure(WireError(.unavailable, "the daemon is stopping"))), event) }
            let payload: GrantPayload
            switch result {
            case .failure(let e): return (.done(.failure(e)), event)
            case .success(let p): payload = p
            }
            var event = event
            var adopted: [String: CachedToken] = [:]
            let outcome: TokenOutcome = lock.withLock {
                guard state == .unlocked else { return .done(.failure(WireError.vaultLocked)) }
                if cache[key] == nil {
                    let type = index.profiles[key.profile]?.apps[key.app]?.type ?? key.app
                    let grant = CachedGrant(payload, appType: type, served: metrics.tokens(provider: key.app))
                    cache[key] = grant
                    if grant.canRefresh && !grant.dead { adopted = grant.tokens }
                }
                return answer(key: key, request: request, scopes: scopes, caller: caller, event: &event, now: Date())
            }
            for (scopeKey, token) in adopted { refresher?.adopt(key, scopeKey: scopeKey, token: token) }
            return (outcome, event)
        }
    }

    // MARK: - Cache updates (refresher and logins)

    /// Stores a new token for a grant (after its refresh token, if rotated, is committed).
    func storeToken(_ key: GrantKey, scopeKey: String, token: CachedToken, grant payload: GrantPayload?) {
        lock.withLock {
            guard state == .unlocked else { return }
            if cache[key] == nil, let payload {
                let type = index.profiles[key.profile]?.apps[key.app]?.type ?? key.app
                cache[key] = CachedGrant(payload, appType: type, served: metrics.tokens(provider: key.app))
            }
            var stored = token
            // A proactive refresh keeps the old token's last use, so tokens nobody asks for
            // stop being refreshed; a request's refresh hands the token out at once.
            stored.lastUsed = cache[key]?.tokens[scopeKey]?.lastUsed ?? .distantPast
            cache[key]?.tokens[scopeKey] = stored
            cache[key]?.dead = false
            if deadGrants.contains(key) { deadGrants.remove(key) }
        }
    }

    func markDead(_ key: GrantKey) {
        lock.withLock {
            cache[key]?.dead = true
            if !deadGrants.contains(key) { deadGrants.insert(key) }
        }
    }

    /// A cached token's expiry and last use, for the refresher's schedule.
    func cachedToken(_ key: GrantKey, scopeKey: String) -> CachedToken? {
        lock.withLock { cache[key]?.tokens[scopeKey] }
    }

    /// Every cached token's identity, expiry and last use (the refresher's wall-clock check).
    func cachedTokens() -> [(GrantKey, String, Date, Date, Date)] {
        lock.withLock {
            var out: [(GrantKey, String, Date, Date, Date)] = []
            for (key, grant) in cache where !grant.dead && grant.canRefresh {
                for (scopeKey, token) in grant.tokens { out.append((key, scopeKey, token.obtainedAt, token.expiresAt, token.lastUsed)) }
            }
            return out
        }
    }

    // MARK: - Profiles

    func profiles(for caller: Caller) -> Result<ProfilesResponse, WireError> {
        lock.withLock {
            guard state == .unlocked else {
                return .failure(state == .locked ? WireError.vaultLocked : WireError.noVault)
            }
            var out: [ProfilesResponse.Profile] = []
            for profile in index.profiles.keys.sorted() {
                var apps: [ProfilesResponse.App] = []
                for (name, app) in index.profiles[profile]!.apps.sorted(by: { $0.key < $1.key }) {
                    guard policies.mayUse(profile: profile, provider: name, account: nil, caller: caller) else { continue }
                    let accounts = app.accounts.sorted().filter { policies.mayUse(profile: profile, provider: name, account: $0, caller: caller) }
                    apps.append(ProfilesResponse.App(name: name, type: app.type, apiBaseURLs: app.apiBaseURLs, accounts: accounts))
                }
                if !apps.isEmpty { out.append(ProfilesResponse.Profile(name: profile, apps: apps)) }
            }
            return .success(ProfilesResponse(profiles: out))
        }
    }

    // MARK: - State changes (called on the vault thread)

    /// After init or unlock: load the audit key pair (making one if the vault has none),
    /// keep the public key file in step, build the grant index.
    func didUnlock(_ vault: Vault) throws {
        let pair: SecretBytes
        if let existing = try vault.internalKey(name: Self.auditKeyName) {
            pair = existing
        } else {
            let made = SealedBox.makeKeyPair()
            try vault.putInternalKey(made, name: Self.auditKeyName)
            pair = made
        }
        let publicKey = SealedBox.publicKey(ofPair: pair)
        let pubPath = Self.auditPublicKeyPath(vault: configuration.paths.vault)
        let onDisk = try? Data(contentsOf: URL(fileURLWithPath: pubPath))
        if onDisk.map({ Array($0) }) != publicKey {
            try Self.writePublicKey(publicKey, to: pubPath)
            audit.startEpoch(publicKey: publicKey, reason: "the audit key changed or was missing")
        }
        let newIndex = try GrantIndex.build(from: vault)
        // Keep-alives: when each refreshable grant was last refreshed; and the dead grants.
        var lastRefresh: [GrantKey: Date] = [:]
        var dead = Set<GrantKey>()
        for id in try vault.list(kind: .grant) where id.profile != Vault.internalProfile {
            guard let grant = try? vault.get(GrantPayload.self, profile: id.profile, name: id.name) else { continue }
            let key = GrantKey(profile: id.profile, app: grant.app, account: grant.account)
            if grant.state == "dead" {
                dead.insert(key)
                continue
            }
            guard grant.refreshToken != nil else { continue }
            lastRefresh[key] = grant.lastRefreshAt ?? grant.obtainedAt
        }
        lock.withLock {
            index = newIndex
            cache = [:]
            deadGrants = dead
            metrics.setKnownProviders(Self.providerNames(policies: policies, index: index))
            state = .unlocked
            unlockFailures = 0
            unlockBlockedUntil = .distantPast
            lastActivity = Date()
        }
        refresher?.resume(lastRefresh: lastRefresh)
        // The keys are in guarded memory now: say once if it could not be locked into RAM.
        if let warning = SecretMemory.warningIfUnlocked() { logger.warning("\(warning)") }
    }

    func didLock() {
        refresher?.pause()
        lock.withLock {
            cache = [:]
            index = GrantIndex()
            deadGrants = []
            metrics.setKnownProviders(Self.providerNames(policies: policies, index: index))
            if state == .unlocked { state = .locked }
        }
    }

    func setState(_ new: VaultState) {
        lock.withLock { state = new }
    }

    /// Rebuilds the grant index after a record change (vault thread).
    func refreshIndex(_ vault: Vault, invalidate key: GrantKey? = nil) throws {
        let newIndex = try GrantIndex.build(from: vault)
        // The changed grant is dead only if its new record says so (a login revives it).
        let deadNow = key.map { (try? vault.get(GrantPayload.self, profile: $0.profile, name: $0.recordName))?.state == "dead" }
        lock.withLock {
            index = newIndex
            if let key { cache[key] = nil } else { cache = [:] }
            var dead = deadGrants.filter { newIndex.contains($0) }
            if let key, let deadNow {
                if deadNow { dead.insert(key) } else { dead.remove(key) }
            }
            if dead != deadGrants { deadGrants = dead }
            metrics.setKnownProviders(Self.providerNames(policies: policies, index: index))
        }
        if let key { refresher?.forget(key) }
    }

    // MARK: - Unlock backoff

    /// nil when an unlock attempt may proceed, else the seconds to wait.
    func unlockDelay(now: Date) -> Int? {
        lock.withLock {
            let wait = unlockBlockedUntil.timeIntervalSince(now)
            return wait > 0 ? Int(wait.rounded(.up)) : nil
        }
    }

    /// Records a failed attempt; after the first three, each failure doubles the wait.
    @discardableResult
    func unlockFailed(now: Date) -> (failures: Int, delay: Double) {
        lock.withLock {
            unlockFailures += 1
            var delay = 0.0
            if unlockFailures >= Self.unlockFreeAttempts {
                delay = min(Self.unlockMaxDelaySeconds, pow(2, Double(unlockFailures - Self.unlockFreeAttempts)))
                unlockBlockedUntil = now.addingTimeInterval(delay)
            }
            return (unlockFailures, delay)
        }
    }

    // MARK: - Idle lock

    func idleSeconds(now: Date) -> Double {
        lock.withLock { now.timeIntervalSince(lastActivity) }
    }

    // MARK: - Status

    func statusSnapshot() -> (VaultState, GrantIndex, [GrantKey: CachedGrant], PolicySet) {
        lock.withLock { (state, index, cache, policies) }
    }

    static func auditPublicKeyPath(vault: String) -> String {
        FileSecurity.parentDirectory(of: vault) + "/audit.pub"
    }

    static func writePublicKey(_ key: [UInt8], to path: String) throws {
        let temporary = path + ".tmp-" + Digest.hex(SecureRandom.bytes(4))
        let fd = try FileSecurity.createExclusive(temporary)
        try fd.writeAll(key)
        try fd.sync()
        try FileSecurity.rename(temporary, to: path)
        try FileSecurity.syncDirectory(FileSecurity.parentDirectory(of: path))
    }

    static func readPublicKey(vault: String) -> [UInt8]? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: auditPublicKeyPath(vault: vault))), data.count == SealedBox.publicKeyByteCount else { return nil }
        return Array(data)
    }
}

/// (profile, provider app, account): one grant.
struct GrantKey: Hashable, Sendable {
    var profile: String
    var app: String
    var account: String
    var recordName: String { "\(app)/\(account)" }
}

/// A scope set's cache key: the sorted, distinct full scope strings joined by spaces.
enum ScopeSet {
    static func key(_ scopes: [String]) -> String {
        // The token path's common case, one scope, allocates nothing.
        if scopes.count == 1 { return scopes[0] }
        return Set(scopes).sorted().joined(separator: " ")
    }
}

/// One access token in the cache (ordinary memory: it is what callers receive anyway).
struct CachedToken: Sendable {
    var accessToken: String
    var expiresAt: Date
    /// The scopes the token carries.
    var scopes: [String]
    var obtainedAt: Date
    var lastUsed: Date
    /// Derived once: the audit fingerprint and the RFC 3339 expiry.
    var fingerprint: String
    var expiresAtText: String
    /// The last response body and the second it was built in.
    var body: [UInt8]?
    var bodySecond: Int64 = 0

    /// `lastUsed`: distant past until the token is handed out.
    init(accessToken: String, expiresAt: Date, scopes: [String], obtainedAt: Date) {
        self.accessToken = accessToken
        self.expiresAt = expiresAt
        self.scopes = scopes
        self.obtainedAt = obtainedAt
        self.lastUsed = .distantPast
        fingerprint = AuditEvent.fingerprint(ofToken: accessToken)
        expiresAtText = RFC3339.string(expiresAt)
    }
}

/// What the cache keeps of a grant: its state and its access tokens by scope set. Never
/// the refresh token.
struct CachedGrant: Sendable {
    var scopes: [String]
    var dead: Bool
    /// Whether a new token can be obtained (a refresh token, or an app-only flow).
    var canRefresh: Bool
    /// Whether a refresh can ask for fewer scopes than the grant has.
    var narrowable: Bool
    var tokens: [String: CachedToken] = [:]
    /// `credbroker_tokens_served_total` for the grant's provider, resolved once.
    let served: TokenCounters

    init(_ payload: GrantPayload, appType: String, served: TokenCounters) {
        self.served = served
        scopes = payload.scopes
        dead = payload.state == "dead"
        let appOnly = payload.flow != nil && payload.flow != "refresh_token"
        canRefresh = payload.refreshToken != nil || appOnly
        // Google and Microsoft (and generic providers, per RFC 6749 §6) issue narrower tokens
        // from one refresh token; Zoom and the app-only flows cannot.
        narrowable = payload.refreshToken != nil && !appOnly && appType != "zoom"
        if let token = payload.accessToken, let expires = payload.accessTokenExpiresAt {
            let t = CachedToken(accessToken: token, expiresAt: expires, scopes: payload.accessTokenScopes ?? payload.scopes,
                                obtainedAt: payload.lastRefreshAt ?? payload.obtainedAt)
            tokens[ScopeSet.key(t.scopes)] = t
        }
    }
}

/// Which profiles, apps and accounts exist (built at unlock from record names and app
/// records; no secrets).
struct GrantIndex: Sendable {
    struct App: Sendable {
        var type: String
        var apiBaseURLs: [String: String]
        var accounts: Set<String>
        /// Whether a provider app record exists (grants may outlive a deleted app).
        var configured = true
    }

    struct Profile: Sendable {
        var apps: [String: App] = [:]
    }

    var profiles: [String: Profile] = [:]

    func accounts(profile: String, app: String) -> [String] {
        profiles[profile]?.apps[app].map { $0.accounts.sorted() } ?? []
    }

    func contains(_ key: GrantKey) -> Bool {
        profiles[key.profile]?.apps[key.app]?.accounts.contains(key.account) ?? false
    }

    static func build(from vault: Vault) throws -> GrantIndex {
        var index = GrantIndex()
        for profile in try vault.listProfiles() { index.profiles[profile] = Profile() }
        for id in try vault.list(kind: .providerApp) where id.profile != Vault.internalProfile {
            let app = try vault.get(ProviderAppPayload.self, profile: id.profile, name: id.name)
            index.profiles[id.profile, default: Profile()].apps[id.name] = App(type: app.type, apiBaseURLs: apiBaseURLs(app), accounts: [])
        }
        for id in try vault.list(kind: .grant) where id.profile != Vault.internalProfile {
            guard let slash = id.name.firstIndex(of: "/") else { continue }
            let app = String(id.name[..<slash])
            let account = String(id.name[id.name.index(after: slash)...])
            if index.profiles[id.profile]?.apps[app] == nil {
                index.profiles[id.profile, default: Profile()].apps[app] = App(type: app, apiBaseURLs: [:], accounts: [], configured: false)
            }
            index.profiles[id.profile]!.apps[app]!.accounts.insert(account)
        }
        return index
    }

    /// The API base URLs of an app: the provider's defaults, overridden by `api.NAME`
    /// endpoints stored with the app (the sandbox, national clouds).
    static func apiBaseURLs(_ app: ProviderAppPayload) -> [String: String] {
        var urls: [String: String] = [:]
        switch app.type {
        case "google":
            urls = ["calendar": "https://www.googleapis.com/calendar/v3", "gmail": "https://gmail.googleapis.com/gmail/v1",
                    "people": "https://people.googleapis.com/v1"]
        case "microsoft":
            urls = ["graph": "https://graph.microsoft.com/v1.0"]
        case "zoom":
            urls = ["zoom": "https://api.zoom.us/v2"]
        default:
            break
        }
        for (key, value) in app.endpoints where key.hasPrefix("api.") {
            urls[String(key.dropFirst(4))] = value
        }
        return urls
    }
}
