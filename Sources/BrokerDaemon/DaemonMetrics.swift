import BrokerWire
import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus

/// The daemon's metrics (docs/spec/api.md, "Metrics"), served in Prometheus text format by
/// `GET /v1/metrics` and by the optional loopback listener (`--metrics-listen`).
///
/// The code counts through swift-metrics' types, made by a `PrometheusMetricsFactory` over a
/// registry of this daemon's own: nothing is bootstrapped process-wide (`MetricsSystem`), so
/// two daemons in one process never mix their figures.
///
/// Cost on the token path: every handle is made once and kept for the daemon's lifetime (a
/// swift-metrics handle that is released unregisters its series), so counting a request is
/// one relaxed atomic add; no label array or string is built per request.
///
/// Labels are bounded and never carry a secret, an account or a token: `provider` is a
/// provider app name the operator configured (an app in the vault or a name in a policy's
/// `providers`), anything else is counted as `other`; `decision` and `result` take values
/// from fixed lists.
final class DaemonMetrics: Sendable {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    /// Stands for every provider name the operator did not configure, so a caller cannot
    /// grow the label set by asking for made-up names.
    static let otherProvider = "other"

    private let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory

    /// Allowed token requests answered from the in-memory cache (no vault read, no refresh).
    private let cacheHits: CoreMetrics.Counter
    /// Allowed token requests that needed a vault read or a refresh first.
    private let cacheMisses: CoreMetrics.Counter
    /// Connections open on the socket.
    private let openConnections: Meter
    /// 1 while the vault is locked or absent (no token can be served), 0 when unlocked.
    private let vaultLocked: Meter
    /// Grants known to be dead (the provider refused their refresh token).
    private let deadGrants: Meter
    /// Failed writes (or opens) of the audit log.
    private let auditWriteErrors: CoreMetrics.Counter
    /// How long the provider took to answer a refresh, whatever the answer.
    private let refreshDuration: CoreMetrics.Timer
    private let refreshes: [RefreshResult: CoreMetrics.Counter]
    private let tokens: NIOLockedValueBox<TokenLabels>

    /// What a refresh at the provider came to (the `result` label).
    enum RefreshResult: String, CaseIterable, Sendable {
        /// A token was obtained and stored.
        case ok
        /// The provider refused the refresh token: the grant is dead.
        case invalidGrant = "invalid_grant"
        /// The provider refused the client, the scopes or the request.
        case refused
        /// A network error, a timeout, a 5xx or a 429: the grant backs off.
        case transient
        /// The answer broke the rules of docs/spec/oauth.md and was discarded.
        case invalidResponse = "invalid_response"
        /// A token came back but was not kept (a scope missing, or the vault commit failed).
        case notStored = "not_stored"
    }

    static let tokensServed = "credbroker_tokens_served_total"
    static let refreshesTotal = "credbroker_refreshes_total"
    static let refreshDurationName = "credbroker_refresh_duration_seconds"
    /// From a loopback sandbox (milliseconds) to a provider at its timeout (30 s default).
    static let refreshBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [Self.refreshDurationName: Self.refreshBuckets]
        self.registry = registry
        self.factory = factory
        cacheHits = CoreMetrics.Counter(label: "credbroker_token_cache_hits_total", factory: factory)
        cacheMisses = CoreMetrics.Counter(label: "credbroker_token_cache_misses_total", factory: factory)
        openConnections = Meter(label: "credbroker_open_connections", factory: factory)
        vaultLocked = Meter(label: "credbroker_vault_locked", factory: factory)
        deadGrants = Meter(label: "credbroker_dead_grants", factory: factory)
        auditWriteErrors = CoreMetrics.Counter(label: "credbroker_audit_write_errors_total", factory: factory)
        refreshDuration = CoreMetrics.Timer(label: Self.refreshDurationName, factory: factory)
        var refreshes: [RefreshResult: CoreMetrics.Counter] = [:]
        for result in RefreshResult.allCases {
            refreshes[result] = CoreMetrics.Counter(label: Self.refreshesTotal, dimensions: [("result", result.rawValue)], factory: factory)
        }
        self.refreshes = refreshes
        tokens = NIOLockedValueBox(TokenLabels())
        // Gauges start at their value, so every series is present from the first scrape.
        openConnections.set(0)
        vaultLocked.set(1)
        deadGrants.set(0)
    }

    /// The exposition: every series, in Prometheus text format 0.0.4.
    func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(4096)
        registry.emit(into: &buffer)
        return buffer
    }

    // MARK: - Events

    func cacheHit() { cacheHits.increment() }
    func cacheMiss() { cacheMisses.increment() }
    func auditWriteFailed() { auditWriteErrors.increment() }
    func setOpenConnections(_ count: Int) { openConnections.set(count) }
    func setVaultLocked(_ locked: Bool) { vaultLocked.set(locked ? 1 : 0) }
    func setDeadGrants(_ count: Int) { deadGrants.set(count) }

    // MARK: - Refreshes

    func refreshed(_ result: RefreshResult) {
        refreshes[result]?.increment()
    }

    func refreshTook(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        refreshDuration.recordNanoseconds(min(seconds, 1_000_000_000) * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    // MARK: - Tokens served

    /// The providers that get a label of their own (app names in the vault and in the
    /// policies); every other name is counted as `other`. Labels once made stay.
    func setKnownProviders(_ names: Set<String>) {
        tokens.withLockedValue { $0.known = names }
    }

    /// The counters of one provider label, made on first use and kept: resolve once (per
    /// cached grant) where the path is hot.
    func tokens(provider: String?) -> TokenCounters {
        tokens.withLockedValue { state in
            let label = provider.flatMap { state.known.contains($0) ? $0 : nil } ?? Self.otherProvider
            if let counters = state.byLabel[label] { return counters }
            let counters = TokenCounters(provider: label, factory: factory)
            state.byLabel[label] = counters
            return counters
        }
    }

    private struct TokenLabels: Sendable {
        var known: Set<String> = []
        var byLabel: [String: TokenCounters] = [:]
    }
}

/// `credbroker_tokens_served_total` for one provider label: one counter per decision,
/// `granted` or the error code of the answer (docs/spec/api.md, "Errors").
final class TokenCounters: Sendable {
    private let granted: CoreMetrics.Counter
    private let refused: [WireErrorCode: CoreMetrics.Counter]
    private let `internal`: CoreMetrics.Counter

    init(provider: String, factory: PrometheusMetricsFactory) {
        func counter(_ decision: String) -> CoreMetrics.Counter {
            CoreMetrics.Counter(label: DaemonMetrics.tokensServed, dimensions: [("provider", provider), ("decision", decision)], factory: factory)
        }
        granted = counter("granted")
        var refused: [WireErrorCode: CoreMetrics.Counter] = [:]
        for code in WireErrorCode.all { refused[code] = counter(code.rawValue) }
        self.refused = refused
        self.internal = refused[.internal]!
    }

    /// Counts a token handed out.
    func countGranted() { granted.increment() }

    /// Counts an answer with `code` (a code outside the API's set counts as `internal`).
    func countRefused(_ code: WireErrorCode) {
        (refused[code] ?? self.internal).increment()
    }
}
