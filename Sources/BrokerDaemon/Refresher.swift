import BrokerCore
import BrokerHTTP
import BrokerOAuth
import BrokerSystem
import BrokerVault
import BrokerWire
import FoundationEssentials
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Obtains access tokens: on demand for token requests, ahead of expiry for tokens in
/// use, and now and then for grants that die when unused (DESIGN.md, "Refresh engine").
///
/// - Single flight per refresh token: one flight per (grant, scope set); requests for the
///   same scope set join it, and flights of one grant run one after another, so no refresh
///   token is ever sent twice at once.
/// - A rotated refresh token is committed to the vault (its own transaction, fsync'd)
///   before the access token from the same response is cached or handed out.
/// - `invalid_grant` marks the grant dead: requests get `reauth_required`, nothing retries.
/// - Network errors, 5xx and 429 back off per grant (jitter in the upper half of 1 s doubling to 5 min;
///   `Retry-After` is honoured): until then requests get `unavailable` and the provider
///   sees nothing.
/// - Proactive refreshes run on the monotonic clock (NIO's deadlines); a tick every 30 s
///   re-checks the wall-clock expiry (after a suspend or a clock jump) and keep-alives;
///   a tick every second lets `RefreshPacer` start some of them early (never late), so
///   tokens obtained together are refreshed at an even rate. While the vault is locked
///   nothing runs.
///
/// @unchecked Sendable: the mutable state is guarded by `lock`.
final class Refresher: @unchecked Sendable {
    let broker: Broker
    let transport: any HTTPTransport
    let settings: Configuration.OAuthSettings
    private let loop: any EventLoop
    /// The refresher's own event loop (timers, vault hops for background work).
    var eventLoop: any EventLoop { loop }
    private let group: MultiThreadedEventLoopGroup
    private let lock = NIOLock()
    private var logger: Logger { broker.logger }
    private var metrics: DaemonMetrics { broker.metrics }

    struct FlightKey: Hashable, Sendable {
        var grant: GrantKey
        var scopeKey: String
    }

    private struct Flight {
        var id: UInt64
        var task: Task<Result<Void, WireError>, Never>
        /// Token requests waiting for this flight, answered on their event loops.
        var waiters: [Waiter] = []
    }

    /// A token request waiting for a flight: `resume` runs on `loop` with the outcome.
    typealias Waiter = LoopWaiter<Result<Void, WireError>>

    private struct BackoffState {
        var attempts: Int
        var notBefore: Date
        var reason: String
    }

    // Guarded by `lock`.
    private var flights: [FlightKey: Flight] = [:]
    private var chains: [GrantKey: (id: UInt64, task: Task<Void, Never>)] = [:]
    private var nextID: UInt64 = 0
    private var backoff: [GrantKey: BackoffState] = [:]
    private var timers: [FlightKey: Scheduled<Void>] = [:]
    /// Proactive refreshes waiting for their timers, which the pacer may start early
    /// (RefreshPacer), with what `proactive` needs to start them.
    private var pacer = RefreshPacer<FlightKey, PacedRefresh>(horizonSeconds: Refresher.paceHorizonSeconds)
    private var paceTick: RepeatedTask?
    private var keepAlive: [GrantKey: Date] = [:]
    private var running = false
    private var tick: RepeatedTask?

    static let tickSeconds: Int64 = 30
    /// How far ahead the pacer looks, and the most it brings a refresh forward.
    static let paceHorizonSeconds = 15

    init(broker: Broker, transport: any HTTPTransport, settings: Configuration.OAuthSettings) {
        self.broker = broker
        self.transport = transport
        self.settings = settings
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.loop = group.next()
    }

    func shutdown() {
        pause()
        try? group.syncShutdownGracefully()
    }

    // MARK: - Running and pausing with the vault

    /// After unlock: start the schedule; `lastRefresh` gives each refreshable grant's last
    /// successful refresh (for keep-alives).
    func resume(lastRefresh: [GrantKey: Date]) {
        lock.withLock {
            running = true
            keepAlive = lastRefresh
            backoff = [:]
            tick?.cancel()
            tick = loop.scheduleRepeatedTask(initialDelay: .seconds(Self.tickSeconds), delay: .seconds(Self.tickSeconds)) { [weak self] _ in
                self?.checkWallClock(now: Date())
            }
            paceTick?.cancel()
            paceTick = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] _ in
                self?.pace()
            }
        }
    }

    /// Before lock: stop scheduling, then wait (bounded) for refreshes in flight, so a
    /// rotated refresh token received just now is committed before the keys go.
    func pauseAndDrain(timeout: Duration = .seconds(30)) async {
        let pending: [Task<Result<Void, WireError>, Never>] = lock.withLock {
            stopLocked()
            return flights.values.map(\.task)
        }
        let deadline = ContinuousClock.now + timeout
        for task in pending {
            if ContinuousClock.now >= deadline { break }
            _ = await withTaskGroup(of: Bool.self) { group in
                group.addTask { _ = await task.value; return true }
                group.addTask { try? await Task.sleep(until: deadline); return false }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
        }
    }

    func pause() {
        lock.withLock { stopLocked() }
    }

    private func stopLocked() {
        running = false
        tick?.cancel()
        tick = nil
        paceTick?.cancel()
        paceTick = nil
        for timer in timers.values { timer.cancel() }
        timers = [:]
        pacer.removeAll()
        keepAlive = [:]
    }

    /// A grant was replaced (login, PUT) or deleted: forget its backoff and timers.
    func forget(_ key: GrantKey) {
        lock.withLock {
            backoff[key] = nil
            for fk in timers.keys where fk.grant == key { timers.removeValue(forKey: fk)?.cancel() }
            pacer.removeAll { $0.grant == key }
        }
    }

    func noteLogin(_ key: GrantKey, at date: Date) {
        lock.withLock {
            backoff[key] = nil
            if running { keepAlive[key] = date }
        }
    }

    // MARK: - Obtaining tokens

    /// Why a flight runs, which decides when it may skip the provider.
    enum Reason: Sendable {
        /// A request needs a token valid for `minValid` seconds (`force`: a new one).
        case request(minValid: Int, force: Bool, since: Date)
        /// Ahead of expiry: skip when the cached token is newer than `obtainedAt`.
        case proactive(obtainedAt: Date)
        /// Keep the grant alive.
        case keepAlive
    }

    /// Obtains a token for `need` (joining a flight in progress), or says why not: calls
    /// `then` on `loop` when the flight ends.
    ///
    /// The waiters of a flight are not tasks: when it ends, each event loop gets one job
    /// that answers all of its waiters (`LoopWaiter.deliver`), so a herd of 1,000 requests
    /// costs one thread hop per loop, not 1,000 task resumptions and 1,000 hops back.
    func obtain(_ need: Broker.RefreshNeed, on loop: any EventLoop, then: @escaping @Sendable (Result<Void, WireError>) -> Void) {
        _ = flight(FlightKey(grant: need.key, scopeKey: ScopeSet.key(need.scopes)), scopes: need.scopes,
                   reason: .request(minValid: need.minValid, force: need.force, since: Date()),
                   waiter: Waiter(loop: loop, resume: then))
    }

    private func run(_ fk: FlightKey, scopes: [String], reason: Reason) async -> Result<Void, WireError> {
        await flight(fk, scopes: scopes, reason: reason, waiter: nil).value
    }

    /// Joins the flight for `fk`, or starts it; `waiter` (if any) hears its outcome.
    private func flight(_ fk: FlightKey, scopes: [String], reason: Reason, waiter: Waiter?) -> Task<Result<Void, WireError>, Never> {
        lock.withLock {
            if let existing = flights[fk] {
                if let waiter { flights[fk]?.waiters.append(waiter) }
                return existing.task
            }
            nextID += 1
            let id = nextID
            let previous = chains[fk.grant]?.task
            // The task cannot take its waiters before `flights[fk]` is set: that needs `lock`.
            let task = Task { [self] in
                // Flights of one grant run in order: the previous may rotate the refresh token.
                await previous?.value
                let result = await perform(fk, scopes: scopes, reason: reason)
                let waiters: [Waiter] = lock.withLock {
                    var waiters: [Waiter] = []
                    if flights[fk]?.id == id { waiters = flights.removeValue(forKey: fk)!.waiters }
                    if chains[fk.grant]?.id == id { chains[fk.grant] = nil }
                    return waiters
                }
                LoopWaiter.deliver(result, to: waiters)
                return result
            }
            flights[fk] = Flight(id: id, task: task, waiters: waiter.map { [$0] } ?? [])
            chains[fk.grant] = (id, Task { _ = await task.value })
            return task
        }
    }

    /// What a refresh needs from the vault. Secrets as Strings for the duration of the
    /// call (the OAuth client sends them); never logged.
    struct Material: Sendable {
        var app: ProviderAppPayload
        var grant: GrantPayload
        var serviceAccount: ServiceAccountPayload?
    }

    private func perform(_ fk: FlightKey, scopes: [String], reason: Reason) async -> Result<Void, WireError> {
        let key = fk.grant
        let now = Date()
        // Paused (the vault is locking or locked): no new refresh may start, or a rotated
        // refresh token could arrive after the keys are gone.
        guard lock.withLock({ running }) else { return .failure(WireError.vaultLocked) }
        // Another flight may have produced what this one needs while it waited.
        if let token = broker.cachedToken(key, scopeKey: fk.scopeKey) {
            switch reason {
            case .request(let minValid, let force, let since):
                let fresh = token.obtainedAt >= since || now.timeIntervalSince(token.obtainedAt) < Broker.forceRefreshInterval
                let remaining = token.expiresAt.timeIntervalSince(now)
                if (remaining >= Double(minValid) || (fresh && remaining > 0)) && (!force || fresh) { return .success(()) }
            case .proactive(let obtainedAt):
                if token.obtainedAt > obtainedAt { return .success(()) }
            case .keepAlive:
                break
            }
        }
        if let wait = lock.withLock({ backoff[key] }), wait.notBefore > now {
            let seconds = Int(wait.notBefore.timeIntervalSince(now).rounded(.up))
            return .failure(WireError(.unavailable, "refreshing \"\(key.app)\" account \"\(key.account)\" failed (\(wait.reason)); the next attempt is in \(seconds) s", retryAfter: seconds))
        }
        let material: Material
        switch await readMaterial(key) {
        case .failure(let e): return .failure(e)
        case .success(let m): material = m
        }
        if material.grant.state == "dead" {
            broker.markDead(key)
            return .failure(Self.reauth(key, "the grant was revoked or expired at the provider"))
        }
        let config: ProviderConfig
        do throws(OAuthError) {
            config = try Self.providerConfig(material.app)
        } catch {
            return .failure(WireError(.unavailable, "provider app \"\(key.app)\" in profile \"\(key.profile)\" is misconfigured: \(error.message)"))
        }
        TestFaults.crashIfArmed("before-send")
        var usedPrevious = false
        let sent = ContinuousClock.now
        var result = await call(config, credential: Self.credential(material.app, previous: false), material: material, scopes: scopes)
        if case .failure(let e) = result, e.kind == .invalidClient, material.app.previousClientSecret != nil {
            // secret rotate keeps the old secret until the new one has worked once.
            usedPrevious = true
            result = await call(config, credential: Self.credential(material.app, previous: true), material: material, scopes: scopes)
        }
        metrics.refreshTook(ContinuousClock.now - sent)
        let tokens: OAuthTokenSet
        switch result {
        case .failure(let error):
            metrics.refreshed(Self.metricsResult(error, material: material))
            return await failed(key, error: error, material: material)
        case .success(let t):
            tokens = t
        }
        TestFaults.crashIfArmed("after-response")
        let obtained = Date()
        // The token covers what was asked for, or nothing is cached.
        let carried = tokens.scopes.isEmpty ? scopes : tokens.scopes
        let missing = scopes.filter { !carried.contains($0) }
        if !missing.isEmpty && material.grant.flow == nil {
            metrics.refreshed(.notStored)
            return .failure(Self.reauth(key, "the provider issued a token without \(missing.joined(separator: ", "))"))
        }
        switch await commit(key, material: material, tokens: tokens, scopes: carried, obtained: obtained, dropPreviousSecret: !usedPrevious && material.app.previousClientSecret != nil) {
        case .failure(let e):
            metrics.refreshed(.notStored)
            return .failure(e)
        case .success: break
        }
        metrics.refreshed(.ok)
        TestFaults.crashIfArmed("after-commit")
        let token = CachedToken(accessToken: tokens.accessToken, expiresAt: obtained.addingTimeInterval(Double(tokens.expiresIn)), scopes: carried, obtainedAt: obtained)
        // Cached under the key it was asked for (the lookup's), carrying what it carries.
        broker.storeToken(key, scopeKey: fk.scopeKey, token: token, grant: material.grant)
        lock.withLock {
            backoff[key] = nil
            if running { keepAlive[key] = obtained }
        }
        schedule(fk, scopes: scopes, lifetime: Double(tokens.expiresIn), obtainedAt: obtained)
        var event = AuditEvent(time: Int64(obtained.timeIntervalSince1970), caller: nil, route: "refresh", result: "ok")
        event.profile = key.profile
        event.provider = key.app
        event.account = key.account
        event.scopes = carried
        event.tokenFingerprint = token.fingerprint
        event.detail = Self.describe(reason) + (tokens.refreshToken != nil && tokens.refreshToken != material.grant.refreshToken ? "; refresh token rotated and committed" : "")
        broker.audit.record(event)
        return .success(())
    }

    private func call(_ config: ProviderConfig, credential: ClientCredential, material: Material, scopes: [String]) async -> Result<OAuthTokenSet, OAuthError> {
        let client = OAuthClient(config: config, credential: credential, transport: transport)
        do throws(OAuthError) {
            switch material.grant.flow {
            case nil, "refresh_token":
                guard let refreshToken = material.grant.refreshToken else {
                    throw OAuthError(.invalidGrant, "the grant has no refresh token")
                }
                return .success(try await client.refresh(refreshToken: refreshToken, scopes: scopes, grantScopes: material.grant.scopes))
            case "client_credentials":
                return .success(try await client.clientCredentials(scopes: material.grant.scopes))
            case "jwt_bearer":
                guard let sa = material.serviceAccount else { throw OAuthError(.configuration, "the service account key is missing") }
                return .success(try await client.jwtBearer(serviceAccountEmail: sa.clientEmail, privateKeyPEM: sa.privateKeyPEM, keyID: sa.privateKeyID,
                                                           scopes: material.grant.scopes, subject: material.grant.subject))
            case "account_credentials":
                guard let accountID = material.grant.accountID else { throw OAuthError(.configuration, "the grant has no account id") }
                return .success(try await client.zoomAccountCredentials(accountID: accountID))
            default:
                throw OAuthError(.configuration, "unknown grant flow \"\(material.grant.flow ?? "")\"")
            }
        } catch {
            return .failure(error)
        }
    }

    func readMaterial(_ key: GrantKey) async -> Result<Material, WireError> {
        do {
            return try await broker.onVault(loop) { broker -> Result<Material, WireError> in
                guard let vault = broker.vault, vault.isUnlocked else { return .failure(WireError.vaultLocked) }
                do throws(VaultError) {
                    let grant = try vault.get(GrantPayload.self, profile: key.profile, name: key.recordName)
                    let app = try vault.get(ProviderAppPayload.self, profile: key.profile, name: key.app)
                    var sa: ServiceAccountPayload?
                    if grant.flow == "jwt_bearer" {
                        sa = try vault.get(ServiceAccountPayload.self, profile: key.profile, name: key.recordName)
                    }
                    return .success(Material(app: app, grant: grant, serviceAccount: sa))
                } catch {
                    if error.code == .notFound {
                        return .failure(WireError(.notFound, "the grant or provider app for \"\(key.app)\" account \"\(key.account)\" in profile \"\(key.profile)\" no longer exists",
                                                  hint: "credbroker setup \(key.app) --profile \(key.profile)"))
                    }
                    broker.logger.error("cannot read grant", metadata: ["credential": "\(key.profile)/\(key.recordName)", "error": "\(error.message)"])
                    return .failure(WireError(.internal, "cannot read the grant"))
                }
            }.get()
        } catch {
            return .failure(WireError(.unavailable, "the daemon is stopping"))
        }
    }

    /// Commits what must outlive a crash before anything is handed out: a rotated refresh
    /// token (invariant 4), the grant's latest full-scope token, the refresh time.
    private func commit(_ key: GrantKey, material: Material, tokens: OAuthTokenSet, scopes: [String], obtained: Date, dropPreviousSecret: Bool) async -> Result<Void, WireError> {
        let rotated = tokens.refreshToken != nil && tokens.refreshToken != material.grant.refreshToken
        let full = ScopeSet.key(scopes) == ScopeSet.key(material.grant.scopes)
        guard rotated || full || dropPreviousSecret else { return .success(()) }
        do {
            return try await broker.onVault(loop) { broker -> Result<Void, WireError> in
                guard let vault = broker.vault, vault.isUnlocked else {
                    if rotated { broker.logger.critical("a rotated refresh token could not be committed: the vault is locked", metadata: ["credential": "\(key.profile)/\(key.recordName)"]) }
                    return .failure(WireError.vaultLocked)
                }
                do throws(VaultError) {
                    var grant = try vault.get(GrantPayload.self, profile: key.profile, name: key.recordName)
                    // A login may have replaced the grant meanwhile: its refresh token wins.
                    guard grant.refreshToken == material.grant.refreshToken else { return .success(()) }
                    if rotated {
                        grant.refreshToken = tokens.refreshToken
                        grant.refreshTokenObtainedAt = obtained
                    }
                    if full {
                        grant.accessToken = tokens.accessToken
                        grant.accessTokenExpiresAt = obtained.addingTimeInterval(Double(tokens.expiresIn))
                        grant.accessTokenScopes = nil
                    }
                    grant.lastRefreshAt = obtained
                    grant.lastError = nil
                    grant.lastErrorAt = nil
                    try vault.inTransaction { () throws(VaultError) in
                        try vault.put(grant, profile: key.profile, name: key.recordName)
                        if dropPreviousSecret {
                            var app = try vault.get(ProviderAppPayload.self, profile: key.profile, name: key.app)
                            app.previousClientSecret = nil
                            try vault.put(app, profile: key.profile, name: key.app)
                        }
                    }
                    return .success(())
                } catch {
                    broker.logger.critical("cannot commit a refresh", metadata: ["credential": "\(key.profile)/\(key.recordName)", "rotated": "\(rotated)", "error": "\(error.message)"])
                    return .failure(WireError(.internal, "cannot store the refreshed grant; no token was handed out"))
                }
            }.get()
        } catch {
            return .failure(WireError(.unavailable, "the daemon is stopping"))
        }
    }

    /// Maps a failed refresh to an answer, the grant's state, a backoff, an audit line.
    private func failed(_ key: GrantKey, error: OAuthError, material: Material) async -> Result<Void, WireError> {
        let now = Date()
        let login = "credbroker login \(key.app) --profile \(key.profile)" + (key.account == "default" ? "" : " --account \(key.account)")
        var event = AuditEvent(time: Int64(now.timeIntervalSince1970), caller: nil, route: "refresh", result: "failed")
        event.profile = key.profile
        event.provider = key.app
        event.account = key.account
        event.detail = error.message
        let answer: WireError
        var dead = false
        switch error.kind {
        case .invalidGrant where material.grant.flow == nil:
            dead = true
            answer = Self.reauth(key, "the provider refused the refresh token (\(error.providerCode ?? "invalid_grant")): the grant was revoked or expired")
            event.result = "grant_dead"
            event.detail = "\(error.message); fix: \(login)"
            logger.error("grant is dead", metadata: ["credential": "\(key.profile)/\(key.recordName)", "fix": "\(login)"])
        case .invalidScope:
            answer = Self.reauth(key, "the provider refused the scopes: \(error.message)")
        default:
            let delay: Double = lock.withLock {
                var state = backoff[key] ?? BackoffState(attempts: 0, notBefore: now, reason: "")
                let d = Backoff.delay(attempt: state.attempts, retryAfter: error.retryAfterSeconds.map(Double.init), random: Double.random(in: 0..<1))
                state.attempts += 1
                state.notBefore = now.addingTimeInterval(d)
                state.reason = error.message
                backoff[key] = state
                return d
            }
            let seconds = max(1, Int(delay.rounded(.up)))
            switch error.kind {
            case .invalidClient, .unauthorizedClient, .configuration:
                answer = WireError(.unavailable, "the provider refused provider app \"\(key.app)\" in profile \"\(key.profile)\": \(error.message)", hint: "credbroker secret rotate \(key.app) --profile \(key.profile)", retryAfter: seconds)
            default:
                answer = WireError(.unavailable, "refreshing \"\(key.app)\" account \"\(key.account)\" failed: \(error.message); the next attempt is in \(seconds) s", retryAfter: seconds)
            }
            logger.warning("refresh failed", metadata: ["credential": "\(key.profile)/\(key.recordName)", "error": "\(error.message)", "retry_in": "\(seconds)"])
        }
        broker.audit.record(event)
        await recordFailure(key, error: error, dead: dead, material: material, at: now)
        if dead { broker.markDead(key) }
        return .failure(answer)
    }

    private func recordFailure(_ key: GrantKey, error: OAuthError, dead: Bool, material: Material, at now: Date) async {
        _ = try? await broker.onVault(loop) { broker in
            guard let vault = broker.vault, vault.isUnlocked else { return }
            do throws(VaultError) {
                var grant = try vault.get(GrantPayload.self, profile: key.profile, name: key.recordName)
                guard grant.refreshToken == material.grant.refreshToken else { return }
                if dead { grant.state = "dead" }
                grant.lastError = error.message
                grant.lastErrorAt = now
                try vault.put(grant, profile: key.profile, name: key.recordName)
            } catch {
                broker.logger.error("cannot record a refresh failure", metadata: ["credential": "\(key.profile)/\(key.recordName)", "error": "\(error.message)"])
            }
        }.get()
    }

    /// A failed call's `result` label (docs/spec/api.md, "Metrics"); as `failed` decides,
    /// `invalid_grant` kills only a user's grant.
    static func metricsResult(_ error: OAuthError, material: Material) -> DaemonMetrics.RefreshResult {
        switch error.kind {
        case .invalidGrant where material.grant.flow == nil: return .invalidGrant
        case .invalidResponse: return .invalidResponse
        default: return error.isRetryable ? .transient : .refused
        }
    }

    static func reauth(_ key: GrantKey, _ why: String) -> WireError {
        WireError(.reauthRequired, "the grant for \"\(key.app)\" account \"\(key.account)\" in profile \"\(key.profile)\" needs a new login: \(why)",
                  hint: "credbroker login \(key.app) --profile \(key.profile)" + (key.account == "default" ? "" : " --account \(key.account)"))
    }

    static func describe(_ reason: Reason) -> String {
        switch reason {
        case .request(_, let force, _): return force ? "forced by a request" : "on demand"
        case .proactive: return "ahead of expiry"
        case .keepAlive: return "keep-alive"
        }
    }

    // MARK: - The schedule

    /// A token read from the vault joins the schedule as if it had just been obtained.
    func adopt(_ key: GrantKey, scopeKey: String, token: CachedToken) {
        let lifetime = token.expiresAt.timeIntervalSince(token.obtainedAt)
        guard lifetime > 0 else { return }
        schedule(FlightKey(grant: key, scopeKey: scopeKey), scopes: token.scopes, lifetime: lifetime, obtainedAt: token.obtainedAt)
    }

    /// Schedules the next proactive refresh of a token (monotonic: NIO's deadlines).
    private func schedule(_ fk: FlightKey, scopes: [String], lifetime: Double, obtainedAt: Date) {
        let delay = RefreshSchedule.refreshDelay(lifetimeSeconds: lifetime, jitter: Double.random(in: -0.1...0.1)) - Date().timeIntervalSince(obtainedAt)
        lock.withLock {
            guard running else { return }
            timers[fk]?.cancel()
            let wait = max(1, delay)
            timers[fk] = loop.scheduleTask(in: .nanoseconds(Int64(wait * 1e9))) { [weak self] in
                self?.proactive(fk, scopes: scopes, obtainedAt: obtainedAt)
            }
            pacer.add(fk, due: Self.monotonicSeconds() + wait, lead: pacer.lead(marginSeconds: RefreshSchedule.margin(lifetimeSeconds: lifetime)),
                      value: PacedRefresh(scopes: scopes, obtainedAt: obtainedAt))
        }
    }

    /// What `proactive` needs to start a refresh the pacer brings forward.
    struct PacedRefresh: Sendable {
        var scopes: [String]
        var obtainedAt: Date
    }

    /// Seconds on the monotonic clock NIO's timers use.
    static func monotonicSeconds() -> Double {
        Double(NIODeadline.now().uptimeNanoseconds) / 1e9
    }

    /// The once-a-second pacing tick: starts early the proactive refreshes the pacer picks,
    /// so tokens obtained together are not all refreshed in the same second.
    private func pace() {
        let picked: [(key: FlightKey, value: PacedRefresh)] = lock.withLock {
            guard running, pacer.count > 0 else { return [] }
            let picked = pacer.pullForward(now: Self.monotonicSeconds())
            for (fk, _) in picked { timers.removeValue(forKey: fk)?.cancel() }
            return picked
        }
        for (fk, refresh) in picked {
            proactive(fk, scopes: refresh.scopes, obtainedAt: refresh.obtainedAt)
        }
    }

    private func proactive(_ fk: FlightKey, scopes: [String], obtainedAt: Date) {
        let idle = settings.proactiveIdleSeconds
        let go: Bool = lock.withLock {
            timers[fk] = nil
            pacer.remove(fk)
            return running
        }
        guard go, let token = broker.cachedToken(fk.grant, scopeKey: fk.scopeKey), token.obtainedAt <= obtainedAt else { return }
        // Tokens nobody asked for lately are refreshed on demand only.
        guard Date().timeIntervalSince(token.lastUsed) < idle else { return }
        Task { [self] in
            let result = await run(fk, scopes: scopes, reason: .proactive(obtainedAt: obtainedAt))
            if case .failure(let e) = result, e.code == .unavailable, let retry = e.retryAfter {
                // Try again when the backoff allows, while the old token may still serve.
                lock.withLock {
                    guard running, timers[fk] == nil else { return }
                    timers[fk] = loop.scheduleTask(in: .seconds(Int64(max(1, retry)))) { [weak self] in
                        self?.proactive(fk, scopes: scopes, obtainedAt: obtainedAt)
                    }
                }
            }
        }
    }

    /// The 30-second tick: tokens whose wall-clock expiry is nearer than the monotonic
    /// schedule thinks (the machine slept, the clock jumped), and keep-alives.
    func checkWallClock(now: Date) {
        let idle = settings.proactiveIdleSeconds
        for (key, scopeKey, obtainedAt, expiresAt, lastUsed) in broker.cachedTokens() {
            guard now.timeIntervalSince(lastUsed) < idle else { continue }
            let lifetime = expiresAt.timeIntervalSince(obtainedAt)
            if RefreshTimer.wallClockDue(expiresWall: expiresAt.timeIntervalSince1970, lifetime: lifetime, wall: now.timeIntervalSince1970) {
                let fk = FlightKey(grant: key, scopeKey: scopeKey)
                let scopes = scopeKey.split(separator: " ").map(String.init)
                Task { [self] in _ = await run(fk, scopes: scopes, reason: .proactive(obtainedAt: obtainedAt)) }
            }
        }
        let limit = settings.keepAliveDays * 86_400
        let due: [GrantKey] = lock.withLock {
            keepAlive.filter { now.timeIntervalSince($0.value) > limit && backoff[$0.key].map { $0.notBefore <= now } ?? true }.map(\.key)
        }
        for key in due {
            lock.withLock { keepAlive[key] = now }  // one attempt per interval, whatever the outcome
            Task { [self] in
                guard case .success(let scopes) = await grantScopes(key) else { return }
                _ = await run(FlightKey(grant: key, scopeKey: ScopeSet.key(scopes)), scopes: scopes, reason: .keepAlive)
            }
        }
    }

    private func grantScopes(_ key: GrantKey) async -> Result<[String], WireError> {
        switch await readMaterial(key) {
        case .failure(let e): return .failure(e)
        case .success(let m): return m.grant.state == "dead" ? .failure(Self.reauth(key, "dead")) : .success(m.grant.scopes)
        }
    }

    // MARK: - Provider configuration from the vault record

    static func providerConfig(_ app: ProviderAppPayload) throws(OAuthError) -> ProviderConfig {
        guard let type = ProviderType(rawValue: app.type) else {
            throw OAuthError(.configuration, "unknown provider type \"\(app.type)\"")
        }
        var auth: ClientAuthMethod?
        if let text = app.clientAuth {
            guard let parsed = ClientAuthMethod(rawValue: text) else { throw OAuthError(.configuration, "unknown client_auth \"\(text)\"") }
            auth = parsed
        }
        return try ProviderConfig.resolve(type: type, clientID: app.clientID, tenant: app.tenant, endpoints: app.endpoints,
                                          clientAuth: auth, rotatesRefreshTokens: app.rotatesRefreshTokens)
    }

    static func credential(_ app: ProviderAppPayload, previous: Bool) -> ClientCredential {
        if previous, let old = app.previousClientSecret { return .secret(old) }
        if let pem = app.privateKeyPEM, app.clientAuth == ClientAuthMethod.privateKeyJWT.rawValue || app.clientSecret == nil {
            return .privateKey(pem: pem, keyID: app.keyID)
        }
        if let secret = app.clientSecret { return .secret(secret) }
        return .none
    }
}
