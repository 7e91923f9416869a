import BrokerCore
import Testing

@Suite("policy files")
struct PolicyParserTests {
    static let valid = """
        # a comment
        [admin]
        users = ["alice"]
        gids = [10]

        [[rule]]
        name = "brief"
        users = ["brief"]
        units = ["daily-brief.service"]
        profiles = ["prod"]
        providers = ["google"]
        accounts = ["me@example.com"]
        scopes = ["calendar.readonly", "https://www.googleapis.com/auth/gmail.readonly", "Calendars.Read"]

        [[rule]]
        name = "metrics"
        groups = ["monitoring"]
        metrics = true
        """

    @Test("a valid file loads, aliases are expanded, lines are recorded")
    func valid() throws {
        let set = try PolicyParser.parse(file: "prod.toml", text: Self.valid)
        #expect(set.rules.count == 2)
        let rule = set.rules[0]
        #expect(rule.id == "prod.toml:brief")
        #expect(rule.line == 6)
        let expected: [String] = ["https://www.googleapis.com/auth/calendar.readonly", "https://www.googleapis.com/auth/gmail.readonly", "https://graph.microsoft.com/Calendars.Read"]
        #expect(rule.scopes == expected)
        #expect(set.admin.users == ["alice"])
        #expect(set.admin.gids == [10])
        #expect(set.rules[1].metrics)
    }

    func error(_ text: String) -> PolicyError? {
        do {
            _ = try PolicyParser.parse(file: "f.toml", text: text)
            return nil
        } catch {
            return error
        }
    }

    @Test("a misspelt field is named with a suggestion, the rule and the line")
    func misspelt() throws {
        let e = try #require(error("[[rule]]\nname = \"r\"\nuids = [1]\nprofiles = [\"p\"]\nproviders = [\"g\"]\nscope = [\"x\"]\n"))
        #expect(e.field == "scope")
        #expect(e.rule == "r")
        #expect(e.line == 1)
        #expect(e.description.contains("did you mean \"scopes\"?"))
        #expect(e.description.hasPrefix("policy \"f.toml\", line 1, rule \"r\", field \"scope\""))
    }

    @Test("an executable alone cannot grant")
    func exeAlone() throws {
        let e = try #require(error("[[rule]]\nexecutables = [\"/usr/bin/agent\"]\nprofiles = [\"p\"]\nproviders = [\"g\"]\nscopes = [\"x\"]\n"))
        #expect(e.field == "executables")
        #expect(e.message.contains("cannot grant alone"))
    }

    @Test("rules that match no one, grant nothing, or miss a grant field are refused")
    func incomplete() throws {
        let noOne = try #require(error("[[rule]]\nprofiles = [\"p\"]\nproviders = [\"g\"]\nscopes = [\"x\"]\n"))
        #expect(noOne.message.contains("matches no one"))
        let nothing = try #require(error("[[rule]]\nuids = [1]\n"))
        #expect(nothing.message.contains("grants nothing"))
        let noScopes = try #require(error("[[rule]]\nuids = [1]\nprofiles = [\"p\"]\nproviders = [\"g\"]\n"))
        #expect(noScopes.field == "scopes")
        let noProviders = try #require(error("[[rule]]\nuids = [1]\nprofiles = [\"p\"]\nscopes = [\"x\"]\n"))
        #expect(noProviders.field == "providers")
    }

    @Test("wrong types, bad ids, bad exe paths, duplicate names and TOML syntax errors")
    func badValues() throws {
        let wrongType = try #require(error("[[rule]]\nuids = \"root\"\nprofiles = [\"p\"]\nproviders = [\"g\"]\nscopes = [\"x\"]\n"))
        #expect(wrongType.field == "uids")
        let negative = try #require(error("[[rule]]\nuids = [-1]\nprofiles = [\"p\"]\nproviders = [\"g\"]\nscopes = [\"x\"]\n"))
        #expect(negative.message.contains("-1 is not a valid id"))
        let relative = try #require(error("[[rule]]\nuids = [1]\nexecutables = [\"agent\"]\nprofiles = [\"p\"]\nproviders = [\"g\"]\nscopes = [\"x\"]\n"))
        #expect(relative.message.contains("not an absolute path"))
        let rule = "[[rule]]\nname = \"a\"\nuids = [1]\nprofiles = [\"p\"]\nproviders = [\"g\"]\nscopes = [\"x\"]\n"
        let duplicate = try #require(error(rule + rule))
        #expect(duplicate.line == 7)
        #expect(duplicate.message.contains("already exists"))
        let syntax = try #require(error("[[rule]]\nuids = [1\n"))
        #expect(syntax.line != nil)
        #expect(syntax.message.contains("not valid TOML"))
        let top = try #require(error("rules = 1\n"))
        #expect(top.field == "rules")
        let admin = try #require(error("[admin]\nuser = [\"x\"]\n"))
        #expect(admin.field == "admin.user")
    }

    @Test("files combine in the order given; admin lists merge")
    func combine() throws {
        let a = "[admin]\nuids = [5]\n[[rule]]\nname = \"x\"\nuids = [1]\nprofiles = [\"p\"]\nproviders = [\"g\"]\nscopes = [\"s\"]\n"
        let b = "[admin]\nusers = [\"bob\"]\n[[rule]]\nname = \"x\"\nuids = [2]\nprofiles = [\"p\"]\nproviders = [\"g\"]\nscopes = [\"s\"]\n"
        let set = try PolicyParser.parse(files: [("10-a.toml", a), ("20-b.toml", b)])
        let ids: [String] = set.rules.map(\.id)
        #expect(ids == ["10-a.toml:x", "20-b.toml:x"])
        #expect(set.admin.uids == [5])
        #expect(set.admin.users == ["bob"])
        #expect(set.files == ["10-a.toml", "20-b.toml"])
    }
}
