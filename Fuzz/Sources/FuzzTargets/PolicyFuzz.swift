import BrokerCore
import BrokerDaemon

/// `policy`: TOML text through PolicyParser (BrokerCore's TOML reader underneath), as the
/// daemon and `credbroker policy check` read policy files, then the parsed set decides for
/// a few callers; and the same text as credbrokerd's config file.
///
/// Input: the text of one policy file (bytes that are not UTF-8 become U+FFFD, as only
/// valid UTF-8 reaches the parser in the daemon: TrustedFile refuses the rest).
///
/// Invariants: the parser returns a set or a PolicyError, never crashes; parsing is
/// deterministic and two files concatenate; an allowed decision names a rule that matches
/// the caller; a caller no rule matches is denied (deny by default).
enum PolicyFuzz {
    static let target = FuzzTarget(
        name: "policy", summary: "TOML text as a policy file (PolicyParser, then decisions) and as the daemon's config file",
        maxLength: 16 * 1024, run: run)

    static let callers: [Caller] = [
        Caller(uid: 1000, gid: 1000, pid: 10, userName: "alice", groups: [1000, 27], groupNames: ["alice", "sudo"],
               unit: "daily-brief.service", executable: "/usr/local/bin/daily-brief"),
        Caller(uid: 0, gid: 0, pid: 1, userName: "root", groups: [0], groupNames: ["root"]),
        Caller(uid: 4_000_000_000, gid: 4_000_000_000, pid: 99),
    ]

    static let questions: [TokenQuestion] = [
        TokenQuestion(profile: "dev", provider: "google", account: nil, scopes: ["https://www.googleapis.com/auth/calendar.readonly"]),
        TokenQuestion(profile: "prod", provider: "microsoft", account: "me@example.com", scopes: ["https://graph.microsoft.com/Mail.Read", "offline_access"]),
        TokenQuestion(profile: "*", provider: "*", account: "*", scopes: ["*"]),
    ]

    static func run(_ input: [UInt8]) -> String? {
        let text = String(decoding: input, as: UTF8.self)
        var configuration = Configuration(mode: .user, paths: DaemonPaths(socket: "/s", vault: "/v", config: "/c", policies: "/p", auditLog: "/a"))
        do throws(ConfigurationError) { try configuration.apply(configText: text, file: "fuzz.toml") } catch { _ = error.message }
        let set: PolicySet
        do throws(PolicyError) {
            set = try PolicyParser.parse(file: "fuzz.toml", text: text)
        } catch {
            _ = error.description
            return nil
        }
        guard let again = try? PolicyParser.parse(files: [(name: "fuzz.toml", text: text), (name: "more.toml", text: text)]),
              again.rules.count == 2 * set.rules.count, Array(again.rules.prefix(set.rules.count)) == set.rules else {
            return "parsing the same text again gave another result"
        }
        for caller in callers {
            let matching = set.rules.filter { $0.matches(caller) }
            for question in questions {
                let decision = set.decide(question, for: caller)
                _ = decision.reason
                if decision.allowed {
                    guard let id = decision.rule, matching.contains(where: { $0.id == id }) else {
                        return "an allowed decision names no rule that matches \(caller.summary)"
                    }
                } else if matching.isEmpty && !decision.reason.hasPrefix("no rule matches") && !question.scopes.isEmpty {
                    return "a caller no rule matches was denied for another reason: \(decision.reason)"
                }
                _ = set.mayUse(profile: question.profile, provider: question.provider, account: question.account, caller: caller)
            }
            _ = set.mayReadMetrics(caller)
            _ = set.isAdmin(caller, mode: .system, daemonUID: 999)
            if matching.isEmpty && set.decide(questions[2], for: caller).allowed {
                return "a caller no rule matches was allowed"
            }
        }
        return nil
    }
}
