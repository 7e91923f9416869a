/// A profile as `GET /v1/profiles` shows it to this caller: only what the policy lets it use,
/// and no secrets.
public struct BrokerProfile: Sendable, Equatable {
    /// A provider app in a profile.
    public struct App: Sendable, Equatable {
        /// The app's name ("google", "microsoft", "google-work"): the `provider` of a token request.
        public var name: String
        /// The provider type ("google", "microsoft", "zoom", "generic").
        public var type: String
        /// API base URLs by API name ("calendar", "gmail", "people", "graph"): the provider's
        /// defaults, or the app's overrides (the sandbox, national clouds).
        public var apiBaseURLs: [String: String]
        /// The accounts with a grant this caller may use.
        public var accounts: [String]

        public init(name: String, type: String, apiBaseURLs: [String: String], accounts: [String]) {
            self.name = name
            self.type = type
            self.apiBaseURLs = apiBaseURLs
            self.accounts = accounts
        }
    }

    public var name: String
    public var apps: [App]

    public init(name: String, apps: [App]) {
        self.name = name
        self.apps = apps
    }
}

/// `GET /v1/health`: the daemon is alive, and the vault's state.
public struct BrokerHealth: Sendable, Equatable {
    /// `ok` (vault unlocked), `locked`, `uninitialized` (no vault) or `degraded` (see `detail`).
    public var status: String
    /// The daemon's version.
    public var version: String
    public var uptime: Duration
    public var detail: String?

    public init(status: String, version: String, uptime: Duration, detail: String? = nil) {
        self.status = status
        self.version = version
        self.uptime = uptime
        self.detail = detail
    }
}
