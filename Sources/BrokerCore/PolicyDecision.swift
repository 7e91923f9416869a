/// What a caller asks for: a token for these scopes of this account of this provider app
/// in this profile.
public struct TokenQuestion: Sendable, Hashable {
    public var profile: String
    public var provider: String
    /// nil when the caller did not name one (`policy explain` without --account); only
    /// rules that grant every account answer such a question.
    public var account: String?
    /// Full scope strings.
    public var scopes: [String]

    public init(profile: String, provider: String, account: String?, scopes: [String]) {
        self.profile = profile
        self.provider = provider
        self.account = account
        self.scopes = scopes
    }
}

/// The answer and why: the rule that allowed, or the reason nothing did. The reason is for
/// the daemon log, the audit log and `policy explain`, never for a denied caller.
public struct PolicyDecision: Sendable, Hashable {
    public var allowed: Bool
    /// The id ("FILE:NAME") of the rule that allowed the request.
    public var rule: String?
    private var denial: String?

    /// Why: "rule FILE:NAME grants it", or the reason nothing did. Built when read (the
    /// token path reads it only for denials).
    public var reason: String {
        if let denial { return denial }
        return "rule \(rule ?? "?") grants it"
    }

    public static func allow(_ rule: PolicyRule) -> PolicyDecision {
        PolicyDecision(allowed: true, rule: rule.cachedID, denial: nil)
    }

    public static func deny(_ reason: String) -> PolicyDecision {
        PolicyDecision(allowed: false, rule: nil, denial: reason)
    }
}

/// Admin rights depend on how the daemon runs.
public enum DaemonMode: String, Sendable, Hashable, Codable {
    case user
    case system
}

extension PolicySet {
    /// The decision for `question` from `caller`: allowed when one rule matching the caller
    /// grants all of it. The same code answers the daemon and `credbroker policy explain`.
    public func decide(_ question: TokenQuestion, for caller: Caller) -> PolicyDecision {
        guard !question.scopes.isEmpty else { return .deny("the request names no scope") }
        // First pass allocates nothing: the allowed case is the hot one.
        var anyMatch = false
        for rule in rules where rule.matches(caller) {
            anyMatch = true
            if rule.grantsAll(question) { return .allow(rule) }
        }
        guard anyMatch else {
            return .deny("no rule matches \(caller.summary)")
        }
        var reasons: [String] = []
        for rule in rules where rule.matches(caller) {
            if let missing = rule.missingGrant(for: question) {
                reasons.append("rule \(rule.id) matches but \(missing)")
            }
        }
        return .deny(reasons.joined(separator: "; "))
    }

    /// Whether some rule matching `caller` grants anything in `profile` for `provider` and
    /// `account` (what `GET /v1/profiles` shows a caller).
    public func mayUse(profile: String, provider: String, account: String?, caller: Caller) -> Bool {
        rules.contains { rule in
            rule.matches(caller) && rule.grants(profile: profile) && rule.grants(provider: provider)
                && (account == nil || rule.grants(account: account))
        }
    }

    /// Whether `caller` may read the metrics.
    public func mayReadMetrics(_ caller: Caller) -> Bool {
        rules.contains { $0.metrics && $0.matches(caller) }
    }

    /// Whether `caller` is an admin: in user mode the daemon's own user; in system mode
    /// root and the `[admin]` list.
    public func isAdmin(_ caller: Caller, mode: DaemonMode, daemonUID: UInt32) -> Bool {
        switch mode {
        case .user:
            return caller.uid == daemonUID
        case .system:
            return caller.uid == 0 || admin.contains(caller)
        }
    }
}

extension PolicyRule {
    func grantsAll(_ question: TokenQuestion) -> Bool {
        guard grants(profile: question.profile), grants(provider: question.provider), grants(account: question.account) else { return false }
        for scope in question.scopes where !grants(scope: scope) { return false }
        return true
    }

    /// The first part of `question` this rule does not grant, described; nil if it grants all.
    func missingGrant(for question: TokenQuestion) -> String? {
        if !grants(profile: question.profile) { return "does not grant profile \"\(question.profile)\"" }
        if !grants(provider: question.provider) { return "does not grant provider app \"\(question.provider)\"" }
        if !grants(account: question.account) {
            if let account = question.account { return "does not grant account \"\(account)\"" }
            return "grants only some accounts and the request names none"
        }
        let missing = question.scopes.filter { !grants(scope: $0) }
        if !missing.isEmpty {
            let list = missing.map { "\"\($0)\"" }.joined(separator: ", ")
            return "does not grant scope\(missing.count == 1 ? "" : "s") \(list)"
        }
        return nil
    }
}
