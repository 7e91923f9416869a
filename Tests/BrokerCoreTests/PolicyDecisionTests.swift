import BrokerCore
import Testing

@Suite("policy decisions")
struct PolicyDecisionTests {
    static let text = """
        [admin]
        groups = ["wheel"]

        [[rule]]
        name = "brief"
        users = ["brief"]
        profiles = ["prod"]
        providers = ["google"]
        accounts = ["me@example.com"]
        scopes = ["calendar.readonly", "gmail.readonly"]

        [[rule]]
        name = "brief-unit"
        units = ["daily-brief.service"]
        profiles = ["prod"]
        providers = ["microsoft"]
        scopes = ["Calendars.Read"]

        [[rule]]
        name = "agents-narrow"
        groups = ["agents"]
        executables = ["/opt/agent/bin/agent"]
        profiles = ["dev"]
        providers = ["*"]
        scopes = ["*"]
        """

    static let set: PolicySet = try! PolicyParser.parse(file: "p.toml", text: text)
    static let cal = "https://www.googleapis.com/auth/calendar.readonly"
    static let gmail = "https://www.googleapis.com/auth/gmail.readonly"
    static let send = "https://www.googleapis.com/auth/gmail.send"

    static let brief = Caller(uid: 1001, gid: 1001, pid: 10, userName: "brief", groups: [1001], groupNames: ["brief"])

    func decide(_ caller: Caller, _ profile: String, _ provider: String, _ account: String?, _ scopes: [String]) -> PolicyDecision {
        Self.set.decide(TokenQuestion(profile: profile, provider: provider, account: account, scopes: scopes), for: caller)
    }

    @Test("a rule that grants all of the request allows it, naming the rule")
    func allow() {
        let d = decide(Self.brief, "prod", "google", "me@example.com", [Self.cal, Self.gmail])
        #expect(d.allowed)
        #expect(d.rule == "p.toml:brief")
    }

    @Test("a scope superset, another profile, app or account, or no scope is denied with the reason")
    func deny() {
        let superset = decide(Self.brief, "prod", "google", "me@example.com", [Self.cal, Self.send])
        #expect(!superset.allowed)
        #expect(superset.reason.contains("does not grant scope \"\(Self.send)\""))
        #expect(!decide(Self.brief, "dev", "google", "me@example.com", [Self.cal]).allowed)
        #expect(!decide(Self.brief, "prod", "google-work", "me@example.com", [Self.cal]).allowed)
        let other = decide(Self.brief, "prod", "google", "boss@example.com", [Self.cal])
        #expect(other.reason.contains("does not grant account \"boss@example.com\""))
        let none = decide(Self.brief, "prod", "google", nil, [Self.cal])
        #expect(!none.allowed)
        #expect(!decide(Self.brief, "prod", "google", "me@example.com", []).allowed)
    }

    @Test("no matching rule: deny by default, naming the caller")
    func noMatch() {
        let stranger = Caller(uid: 2000, gid: 2000, pid: 5, userName: "eve", groups: [2000], groupNames: ["eve"])
        let d = decide(stranger, "prod", "google", "me@example.com", [Self.cal])
        #expect(!d.allowed)
        #expect(d.reason == "no rule matches uid 2000 (eve), pid 5")
        #expect(!PolicySet.denyAll.decide(TokenQuestion(profile: "p", provider: "g", account: nil, scopes: ["s"]), for: Self.brief).allowed)
    }

    @Test("a system unit matches by name; a user-manager unit of the same name does not")
    func units() {
        let graph = "https://graph.microsoft.com/Calendars.Read"
        let system = Caller(uid: 1001, gid: 1001, pid: 7, unit: "daily-brief.service")
        #expect(decide(system, "prod", "microsoft", "a@b.c", [graph]).allowed)
        let user = Caller(uid: 1001, gid: 1001, pid: 7, unit: "user@1001.service/daily-brief.service")
        #expect(!decide(user, "prod", "microsoft", "a@b.c", [graph]).allowed)
    }

    @Test("an executable selector narrows: an unknown or other exe does not match")
    func executables() {
        var agent = Caller(uid: 1002, gid: 1002, pid: 8, userName: "a", groups: [1002, 3000], groupNames: ["a", "agents"], executable: "/opt/agent/bin/agent")
        #expect(decide(agent, "dev", "zoom", "x", ["meeting:read"]).allowed)
        agent.executable = nil
        #expect(!decide(agent, "dev", "zoom", "x", ["meeting:read"]).allowed)
        agent.executable = "/usr/bin/python3"
        #expect(!decide(agent, "dev", "zoom", "x", ["meeting:read"]).allowed)
    }

    @Test("admins: user mode the daemon's own uid; system mode root and the [admin] list")
    func admins() {
        let wheel = Caller(uid: 1500, gid: 1500, pid: 1, userName: "ops", groups: [1500, 10], groupNames: ["ops", "wheel"])
        let root = Caller(uid: 0, gid: 0, pid: 1)
        #expect(Self.set.isAdmin(wheel, mode: .system, daemonUID: 999))
        #expect(Self.set.isAdmin(root, mode: .system, daemonUID: 999))
        #expect(!Self.set.isAdmin(Self.brief, mode: .system, daemonUID: 999))
        #expect(!Self.set.isAdmin(wheel, mode: .user, daemonUID: 999))
        #expect(Self.set.isAdmin(Self.brief, mode: .user, daemonUID: 1001))
    }

    @Test("mayUse shows only what some matching rule grants")
    func mayUse() {
        #expect(Self.set.mayUse(profile: "prod", provider: "google", account: "me@example.com", caller: Self.brief))
        #expect(!Self.set.mayUse(profile: "prod", provider: "google", account: "boss@example.com", caller: Self.brief))
        #expect(!Self.set.mayUse(profile: "dev", provider: "google", account: nil, caller: Self.brief))
    }
}
