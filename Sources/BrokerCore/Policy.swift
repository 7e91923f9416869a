/// The policies the daemon enforces: rules that match callers and grant them tokens, and
/// the list of administrators (docs/spec/policy.md).
///
/// Deny by default: a request is allowed when one rule that matches the caller grants all
/// of it (its profile, provider app, account and every scope). Rules never subtract, so the
/// rules of several files combine as a union.
public struct PolicySet: Sendable, Hashable {
    public var rules: [PolicyRule]
    public var admin: AdminList
    /// The files the set was loaded from, in load order.
    public var files: [String]

    public init(rules: [PolicyRule] = [], admin: AdminList = AdminList(), files: [String] = []) {
        self.rules = rules
        self.admin = admin
        self.files = files
    }

    /// The empty set: nothing is allowed.
    public static let denyAll = PolicySet()
}

/// One `[[rule]]`: who it matches and what it grants.
public struct PolicyRule: Sendable, Hashable {
    /// "FILE:NAME", unique within a set; what logs, audit lines and `policy explain` show.
    public var id: String { cachedID }
    public var file: String { didSet { cachedID = "\(file):\(name)" } }
    public var name: String { didSet { cachedID = "\(file):\(name)" } }
    /// `id`, built once (the token path reads it per request).
    public private(set) var cachedID: String
    /// The line of its `[[rule]]` header, when known.
    public var line: Int?

    // Who. A selector kind that is present must match (any of its values); kinds that are
    // absent are ignored. At least one of users, uids, groups, gids, units is required.
    public var users: [String] = []
    public var uids: [UInt32] = []
    public var groups: [String] = []
    public var gids: [UInt32] = []
    public var units: [String] = []
    /// Advisory: narrows a rule, never grants alone.
    public var executables: [String] = []

    // What. "*" grants any value of that kind.
    public var profiles: [String] = []
    public var providers: [String] = []
    /// Empty means any account (as "*").
    public var accounts: [String] = []
    /// Full scope strings (aliases are expanded when the file is loaded).
    public var scopes: [String] = []
    /// Whether matching callers may read `GET /v1/metrics`.
    public var metrics: Bool = false

    public init(file: String, name: String, line: Int? = nil) {
        self.file = file
        self.name = name
        self.line = line
        self.cachedID = "\(file):\(name)"
    }

    /// Whether the rule's selectors match `caller`.
    public func matches(_ caller: Caller) -> Bool {
        if !users.isEmpty {
            guard users.contains("*") || (caller.userName.map { users.contains($0) } ?? false) else { return false }
        }
        if !uids.isEmpty && !uids.contains(caller.uid) { return false }
        if !groups.isEmpty {
            guard groups.contains("*") || caller.groupNames.contains(where: { groups.contains($0) }) else { return false }
        }
        if !gids.isEmpty {
            guard caller.groups.contains(where: { gids.contains($0) }) || gids.contains(caller.gid) else { return false }
        }
        if !units.isEmpty {
            guard let unit = caller.unit, units.contains(unit) else { return false }
        }
        if !executables.isEmpty {
            // Unknown (unreadable /proc/PID/exe) never satisfies an executable selector:
            // advisory selectors only narrow.
            guard let exe = caller.executable, executables.contains(exe) else { return false }
        }
        return true
    }

    func grants(profile: String) -> Bool { profiles.contains("*") || profiles.contains(profile) }
    func grants(provider: String) -> Bool { providers.contains("*") || providers.contains(provider) }
    func grants(account: String?) -> Bool {
        if accounts.isEmpty || accounts.contains("*") { return true }
        guard let account else { return false }
        return accounts.contains(account)
    }
    func grants(scope: String) -> Bool { scopes.contains("*") || scopes.contains(scope) }
}

/// Who may use the admin routes, besides root (system mode). User mode ignores the list:
/// there the daemon's own user is the only admin.
public struct AdminList: Sendable, Hashable {
    public var users: [String] = []
    public var uids: [UInt32] = []
    public var groups: [String] = []
    public var gids: [UInt32] = []

    public init(users: [String] = [], uids: [UInt32] = [], groups: [String] = [], gids: [UInt32] = []) {
        self.users = users
        self.uids = uids
        self.groups = groups
        self.gids = gids
    }

    public var isEmpty: Bool { users.isEmpty && uids.isEmpty && groups.isEmpty && gids.isEmpty }

    public func contains(_ caller: Caller) -> Bool {
        if uids.contains(caller.uid) { return true }
        if let name = caller.userName, users.contains(name) { return true }
        if caller.groups.contains(where: { gids.contains($0) }) || gids.contains(caller.gid) { return true }
        if caller.groupNames.contains(where: { groups.contains($0) }) { return true }
        return false
    }
}
