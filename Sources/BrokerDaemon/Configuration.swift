public import BrokerCore
import BrokerSystem

/// Everything the daemon runs with: the mode, its paths, its limits and its audit policy.
/// Built from defaults, then the TOML config file, then the command-line flags (flags win).
public struct Configuration: Sendable, Equatable {
    public var mode: DaemonMode
    public var paths: DaemonPaths
    public var unlockKeyFile: String?
    /// Lock the vault after this many seconds without a token request; nil never.
    public var idleLockSeconds: Int?
    public var limits = Limits()
    public var audit = AuditSettings()
    public var oauth = OAuthSettings()
    public var allowRoot = false
    /// The group that may connect in system mode.
    public var clientGroup = "credbroker-clients"
    /// Where the metrics-only TCP listener binds (loopback only); nil: no listener.
    public var metricsListen: MetricsListenAddress?

    public struct Limits: Sendable, Equatable {
        /// Connections open at once, over all callers.
        public var maxConnections = 1024
        /// Connections open at once per uid.
        public var maxConnectionsPerUID = 256
        /// Sustained requests per second per uid (a token bucket), and its burst.
        public var requestsPerSecondPerUID = 20_000
        public var burstPerUID = 40_000
        /// Request head and body limits (docs/spec/api.md, "Limits").
        public var maxHeadBytes = 8 * 1024
        public var maxBodyBytes = 64 * 1024
        /// A request's head and body must arrive within this many seconds of its first byte.
        public var requestTimeoutSeconds: Double = 5
        /// A keep-alive connection with no request for this long is closed.
        public var idleTimeoutSeconds: Double = 60
        /// In-flight requests get this long to finish on SIGTERM.
        public var drainSeconds: Double = 5
        /// Event-loop threads; nil means one per core.
        public var threads: Int?

        public init() {}
    }

    public struct AuditSettings: Sendable, Equatable {
        public enum OnFailure: String, Sendable, Equatable {
            /// Refuse token requests while audit lines cannot be written.
            case refuse
            /// Keep serving and report `degraded` health.
            case serve
        }

        public var maxBytes = 10 * 1024 * 1024
        public var keep = 5
        public var onFailure = OnFailure.refuse

        public init() {}
    }

    /// Outbound HTTP to providers and the refresher's schedule (`[oauth]`).
    public struct OAuthSettings: Sendable, Equatable {
        /// A CA bundle for provider TLS (default: the system's).
        public var caFile: String?
        /// A proxy URL (default: the standard environment variables).
        public var proxy: String?
        public var connectTimeoutSeconds: Double = 5
        public var totalTimeoutSeconds: Double = 30
        /// A grant that has not been refreshed for this many days is refreshed anyway, so
        /// grants that die when unused (Microsoft: 90 days) stay alive.
        public var keepAliveDays: Double = 14
        /// Access tokens not handed out for this long are no longer refreshed ahead of
        /// expiry (they are refreshed on demand).
        public var proactiveIdleSeconds: Double = 3600

        public init() {}
    }

    public init(mode: DaemonMode, paths: DaemonPaths) {
        self.mode = mode
        self.paths = paths
    }
}

/// A config file that cannot be used: names the file, the key and the fix.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Configuration {
    static let topKeys: Set<String> = ["vault", "socket", "policies", "audit_log", "unlock_key_file", "idle_lock_seconds", "limits", "audit", "oauth", "client_group", "metrics_listen"]
    static let limitKeys: Set<String> = ["max_connections", "max_connections_per_uid", "requests_per_second_per_uid", "burst_per_uid", "request_timeout_seconds", "idle_timeout_seconds", "drain_seconds", "threads"]
    static let auditKeys: Set<String> = ["max_bytes", "keep", "on_failure"]

    /// Applies the settings of a config file's text (already read and owner-checked).
    public mutating func apply(configText text: String, file: String) throws(ConfigurationError) {
        let table: TOMLTable
        do throws(TOMLError) { table = try TOML.parse(text) } catch {
            throw ConfigurationError("config \"\(file)\", line \(error.line): not valid TOML: \(error.message)")
        }
        func fail(_ key: String, _ message: String) -> ConfigurationError {
            ConfigurationError("config \"\(file)\", key \"\(key)\": \(message)")
        }
        for key in table.keys where !Self.topKeys.contains(key) { throw fail(key, "unknown key") }
        func path(_ key: String) throws(ConfigurationError) -> String? {
            guard let value = table[key] else { return nil }
            guard let s = value.string, s.hasPrefix("/") else { throw fail(key, "must be an absolute path") }
            return s
        }
        if let v = try path("vault") { paths.vault = v }
        if let v = try path("socket") { paths.socket = v }
        if let v = try path("policies") { paths.policies = v }
        if let v = try path("audit_log") { paths.auditLog = v }
        if let v = try path("unlock_key_file") { unlockKeyFile = v }
        if let value = table["client_group"] {
            guard let s = value.string, !s.isEmpty else { throw fail("client_group", "must be a group name") }
            clientGroup = s
        }
        if let value = table["metrics_listen"] {
            guard let s = value.string else { throw fail("metrics_listen", "must be a string such as \"127.0.0.1:9464\"") }
            switch MetricsListenAddress.parse(s) {
            case .success(let address): metricsListen = address
            case .failure(let error): throw fail("metrics_listen", error.message)
            }
        }
        if let value = table["idle_lock_seconds"] {
            guard let n = value.int, n >= 0 else { throw fail("idle_lock_seconds", "must be a whole number of seconds (0 turns it off)") }
            idleLockSeconds = n == 0 ? nil : n
        }
        if let value = table["limits"] {
            guard let t = value.table else { throw fail("limits", "must be a table") }
            for key in t.keys where !Self.limitKeys.contains(key) { throw fail("limits.\(key)", "unknown key") }
            func int(_ key: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
                guard let v = t[key] else { return nil }
                guard let n = v.int, range.contains(n) else { throw fail("limits.\(key)", "must be an integer in \(range.lowerBound)...\(range.upperBound)") }
                return n
            }
            func seconds(_ key: String) throws(ConfigurationError) -> Double? {
                guard let v = t[key] else { return nil }
                let n = v.double ?? v.int.map(Double.init)
                guard let n, n > 0, n <= 3600 else { throw fail("limits.\(key)", "must be a number of seconds in (0, 3600]") }
                return n
            }
            if let n = try int("max_connections", 1...1_000_000) { limits.maxConnections = n }
            if let n = try int("max_connections_per_uid", 1...1_000_000) { limits.maxConnectionsPerUID = n }
            if let n = try int("requests_per_second_per_uid", 1...100_000_000) { limits.requestsPerSecondPerUID = n }
            if let n = try int("burst_per_uid", 1...100_000_000) { limits.burstPerUID = n }
            if let n = try seconds("request_timeout_seconds") { limits.requestTimeoutSeconds = n }
            if let n = try seconds("idle_timeout_seconds") { limits.idleTimeoutSeconds = n }
            if let n = try seconds("drain_seconds") { limits.drainSeconds = n }
            if let n = try int("threads", 1...256) { limits.threads = n }
        }
        if let value = table["audit"] {
            guard let t = value.table else { throw fail("audit", "must be a table") }
            for key in t.keys where !Self.auditKeys.contains(key) { throw fail("audit.\(key)", "unknown key") }
            if let v = t["max_bytes"] {
                guard let n = v.int, n >= 4096 else { throw fail("audit.max_bytes", "must be at least 4096") }
                audit.maxBytes = n
            }
            if let v = t["keep"] {
                guard let n = v.int, (1...1000).contains(n) else { throw fail("audit.keep", "must be in 1...1000") }
                audit.keep = n
            }
            if let v = t["on_failure"] {
                guard let s = v.string, let mode = AuditSettings.OnFailure(rawValue: s) else {
                    throw fail("audit.on_failure", "must be \"refuse\" or \"serve\"")
                }
                audit.onFailure = mode
            }
        }
        if let value = table["oauth"] {
            guard let t = value.table else { throw fail("oauth", "must be a table") }
            let known: Set<String> = ["ca_file", "proxy", "connect_timeout_seconds", "total_timeout_seconds", "keep_alive_days", "proactive_idle_seconds"]
            for key in t.keys where !known.contains(key) { throw fail("oauth.\(key)", "unknown key") }
            func number(_ key: String, _ range: ClosedRange<Double>) throws(ConfigurationError) -> Double? {
                guard let v = t[key] else { return nil }
                let n = v.double ?? v.int.map(Double.init)
                guard let n, range.contains(n) else { throw fail("oauth.\(key)", "must be a number in \(range.lowerBound)...\(range.upperBound)") }
                return n
            }
            if let v = t["ca_file"] {
                guard let s = v.string, s.hasPrefix("/") else { throw fail("oauth.ca_file", "must be an absolute path") }
                oauth.caFile = s
            }
            if let v = t["proxy"] {
                guard let s = v.string else { throw fail("oauth.proxy", "must be a URL string") }
                oauth.proxy = s
            }
            if let n = try number("connect_timeout_seconds", 0.1...120) { oauth.connectTimeoutSeconds = n }
            if let n = try number("total_timeout_seconds", 0.1...600) { oauth.totalTimeoutSeconds = n }
            if let n = try number("keep_alive_days", 1...89) { oauth.keepAliveDays = n }
            if let n = try number("proactive_idle_seconds", 60...2_592_000) { oauth.proactiveIdleSeconds = n }
        }
    }
}
