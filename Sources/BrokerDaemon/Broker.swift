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
    let startedAt = Date()
    let version: String
    private let vaultThread: NIOThreadPool
    private let lock = NIOLock()

    // Guarded by `lock`.
    private var state: VaultState
    private var policies: PolicySet
    private var index = GrantIndex()
    private var cache: [GrantKey: CachedGrant] = [:]
    private var unlockFailures = 0
    private var unlockBlockedUntil = Date.distantPast
    private var lastActivity = Date()

    /// The vault: touched only on `vaultThread` (inside `onVault`).
    var vault: Vault?

    static let auditKeyName = "audit-keypair"
    static let defaultMinValidSeconds = 60
    static let unlockFreeAttempts = 3
    static let unlockMaxDelaySeconds = 300.0

    init(configuration: Configuration, policies: PolicySet, vault: Vault?, audit: AuditLog, logger: Logger, version: String) {
        self.configuration = configuration
        self.policies = policies
        self.vault = vault
        self.audit = audit
        self.logger = logger
        self.version = version
        self.daemonUID = UserDatabase.effectiveUID
        self.state = vault == nil ? .uninitialized : (vault!.isUnlocked ? .unlocked : .locked)
        self.vaultThread = NIOThreadPool(numberOfThreads: 1)
        vaultThread.start()
    }

    func shutdown() {
        try? vaultThread.syncShutdownGracefully()
    }

    var currentState: VaultState { lock.withLock { state } }

    func isAdmin(_ caller: Caller) -> Bool {
        lock.withLock { policies }.isAdmin(caller, mode: configuration.mode, daemonUID: daemonUID)
    }

    func replacePolicies(_ new: PolicySet) {
        lock.withLock {
            policies = new
        }
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
    }

    enum TokenOutcome {
        case done(Result<TokenAnswer, WireError>)
        /// The grant is not cached: read it from the vault, then decide again.
        case needsLoad(GrantKey)
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
        return .done(answer(key: key, request: request, scopes: scopes, now: now))
    }

    /// Answers from the cached grant (caller holds `lock`). The response body is built once
    /// per grant per second (`expires_in` counts seconds) and reused.
    private func answer(key: GrantKey, request: TokenRequest, scopes: [String], now: Date) -> Result<TokenAnswer, WireError> {
        guard let grant = cache[key] else { return .failure(WireError(.internal, "grant vanished from the cache")) }
        // Built only on the failure paths (this runs per request).
        var login: String { "credbroker login \(key.app) --profile \(key.profile)" }
        if grant.dead {
            return .failure(WireError(.reauthRequired, "the grant for \"\(key.app)\" account \"\(key.account)\" in profile \"\(key.profile)\" was revoked or expired at the provider", hint: login))
        }
        let missing = scopes.filter { !grant.scopes.contains($0) }
        if !missing.isEmpty {
            let scopeFlags = scopes.map { "--scope \(ScopeAliases.alias(for: $0) ?? $0)" }.joined(separator: " ")
            return .failure(WireError(.reauthRequired, "the grant for \"\(key.app)\" account \"\(key.account)\" does not include \(missing.joined(separator: ", "))", hint: "\(login) \(scopeFlags)"))
        }
        if request.forceRefresh == true {
            return .failure(WireError(.unavailable, "force_refresh needs the refresh engine, which this build does not have yet"))
        }
        let minValid = request.minValidSeconds ?? Self.defaultMinValidSeconds
        guard let token = grant.accessToken, let expires = grant.expiresAt, expires.timeIntervalSince(now) >= Double(minValid) else {
            if grant.hasRefreshToken {
                return .failure(WireError(.unavailable, "the access token for \"\(key.app)\" account \"\(key.account)\" is not valid for \(minValid) more seconds and this build cannot refresh it yet"))
            }
            return .failure(WireError(.reauthRequired, "the grant for \"\(key.app)\" account \"\(key.account)\" has no valid token and no refresh token", hint: login))
        }
        let second = Int64(now.timeIntervalSince1970.rounded(.down))
        if let body = grant.body, grant.bodySecond == second {
            return .success(TokenAnswer(body: body, account: key.account, fingerprint: grant.fingerprint))
        }
        let expiresIn = Int(expires.timeIntervalSince(now))
        let body = TokenResponse(accessToken: token, tokenType: "Bearer", expiresAt: grant.expiresAtText, expiresIn: expiresIn,
                                 scopes: grant.scopes, profile: key.profile, provider: key.app, account: key.account).jsonBytes
        cache[key]?.body = body
        cache[key]?.bodySecond = second
        return .success(TokenAnswer(body: body, account: key.account, fingerprint: grant.fingerprint))
    }

    /// Reads a grant from the vault into the cache (vault thread), then answers.
    func loadGrant(_ key: GrantKey, request: TokenRequest, scopes: [String], eventLoop: any EventLoop) -> EventLoopFuture<Result<TokenAnswer, WireError>> {
        onVault(eventLoop) { broker in
            guard let vault = broker.vault, vault.isUnlocked else { return .failure(WireError.vaultLocked) }
            let payload: GrantPayload
            do throws(VaultError) {
                payload = try vault.get(GrantPayload.self, profile: key.profile, name: key.recordName)
            } catch {
                if error.code == .notFound { return .failure(WireError(.notFound, "no grant for \"\(key.app)\" account \"\(key.account)\" in profile \"\(key.profile)\"")) }
                broker.logger.error("cannot read grant", metadata: ["credential": "\(key.profile)/\(key.recordName)", "error": "\(error.message)"])
                return .failure(WireError(.internal, "cannot read the grant"))
            }
            let cached = CachedGrant(payload)
            let now = Date()
            return broker.lock.withLock {
                guard broker.state == .unlocked else { return .failure(WireError.vaultLocked) }
                broker.cache[key] = cached
                return broker.answer(key: key, request: request, scopes: scopes, now: now)
            }
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
        lock.withLock {
            index = newIndex
            cache = [:]
            state = .unlocked
            unlockFailures = 0
            unlockBlockedUntil = .distantPast
            lastActivity = Date()
        }
    }

    func didLock() {
        lock.withLock {
            cache = [:]
            index = GrantIndex()
            if state == .unlocked { state = .locked }
        }
    }

    func setState(_ new: VaultState) {
        lock.withLock { state = new }
    }

    /// Rebuilds the grant index after a record change (vault thread).
    func refreshIndex(_ vault: Vault, invalidate key: GrantKey? = nil) throws {
        let newIndex = try GrantIndex.build(from: vault)
        lock.withLock {
            index = newIndex
            if let key { cache[key] = nil } else { cache = [:] }
        }
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

/// What the cache keeps of a grant: the current access token (ordinary memory: it is what
/// callers receive anyway) and the grant's state. Never the refresh token.
struct CachedGrant: Sendable {
    var accessToken: String?
    var expiresAt: Date?
    var scopes: [String]
    var dead: Bool
    var hasRefreshToken: Bool
    var obtainedAt: Date
    /// Derived once per load: the audit fingerprint and the RFC 3339 expiry.
    var fingerprint: String
    var expiresAtText: String
    /// The last response body and the second it was built in.
    var body: [UInt8]?
    var bodySecond: Int64 = 0

    init(_ payload: GrantPayload) {
        accessToken = payload.accessToken
        fingerprint = payload.accessToken.map { AuditEvent.fingerprint(ofToken: $0) } ?? ""
        expiresAtText = payload.accessTokenExpiresAt.map { RFC3339.string($0) } ?? ""
        expiresAt = payload.accessTokenExpiresAt
        scopes = payload.scopes
        dead = payload.state == "dead"
        hasRefreshToken = payload.refreshToken != nil
        obtainedAt = payload.obtainedAt
    }
}

/// Which profiles, apps and accounts exist (built at unlock from record names and app
/// records; no secrets).
struct GrantIndex: Sendable {
    struct App: Sendable {
        var type: String
        var apiBaseURLs: [String: String]
        var accounts: Set<String>
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
                index.profiles[id.profile, default: Profile()].apps[app] = App(type: app, apiBaseURLs: [:], accounts: [])
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
