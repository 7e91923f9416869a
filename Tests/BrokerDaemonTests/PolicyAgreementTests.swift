import BrokerTestBed
import BrokerSystem
import BrokerTesting
import BrokerWire
import Foundation
import Testing

/// `credbroker policy explain` and the daemon must give the same answer: both run
/// PolicySet.decide, and this table proves the wiring (caller identity, alias expansion,
/// account resolution) agrees too.
@Suite("policy explain agrees with the daemon", .serialized)
struct PolicyAgreementTests {
    static let policy = """
        [[rule]]
        name = "cal"
        uids = [0]
        profiles = ["dev"]
        providers = ["google"]
        accounts = ["me@example.com"]
        scopes = ["calendar.readonly", "calendar.events"]

        [[rule]]
        name = "mail"
        users = ["root"]
        profiles = ["dev", "staging"]
        providers = ["google"]
        scopes = ["gmail.readonly"]

        [[rule]]
        name = "graph"
        groups = ["root"]
        profiles = ["dev"]
        providers = ["microsoft"]
        scopes = ["Calendars.Read", "Mail.Read"]

        [[rule]]
        name = "narrow-exe"
        uids = [0]
        executables = ["/nonexistent/agent"]
        profiles = ["dev"]
        providers = ["google"]
        scopes = ["contacts.readonly"]
        """

    struct Case {
        var profile: String
        var provider: String
        var account: String?
        var scopes: [String]
    }

    static let cases: [Case] = {
        var out: [Case] = []
        let scopeSets: [[String]] = [
            ["calendar.readonly"], ["calendar.events"], ["calendar.readonly", "calendar.events"], ["gmail.readonly"],
            ["calendar.readonly", "gmail.readonly"], ["contacts.readonly"], ["Calendars.Read"], ["Mail.Read", "Calendars.Read"],
            ["https://www.googleapis.com/auth/calendar.readonly"], ["gmail.send"],
        ]
        let targets: [(String, String, String?)] = [
            ("dev", "google", "me@example.com"), ("dev", "google", "other@example.com"), ("staging", "google", "me@example.com"),
            ("dev", "microsoft", "me@example.com"), ("prod", "google", "me@example.com"),
        ]
        for t in targets {
            for s in scopeSets { out.append(Case(profile: t.0, provider: t.1, account: t.2, scopes: s)) }
        }
        return out
    }()

    @Test("50 requests: the daemon's allow/deny equals policy explain's")
    func agreement() throws {
        #expect(Self.cases.count >= 30)
        let d = try TestDaemon(policy: Self.policy)
        try d.provision()
        for profile in ["staging", "prod"] { _ = try d.request("PUT", "/v1/admin/profiles/\(profile)") }
        for profile in ["dev", "staging", "prod"] {
            // Refresh tokens make the grants narrowable (the policy then judges exactly the
            // scopes asked for, as explain does); the token endpoints are a closed loopback
            // port, so an allowed request ends in `unavailable` without leaving the machine.
            let closed = #""endpoints":{"token":"http://127.0.0.1:9/token","authorization":"http://127.0.0.1:9/auth"}"#
            _ = try d.request("PUT", "/v1/admin/profiles/\(profile)/apps/google", json: #"{"type":"google","client_id":"c","client_secret":"s",\#(closed)}"#)
            _ = try d.request("PUT", "/v1/admin/profiles/\(profile)/apps/microsoft", json: #"{"type":"microsoft","client_id":"c","client_secret":"s",\#(closed)}"#)
            for account in ["me@example.com", "other@example.com"] {
                for app in ["google", "microsoft"] {
                    let all = #"["calendar.readonly","calendar.events","gmail.readonly","gmail.send","contacts.readonly","Calendars.Read","Mail.Read"]"#
                    let r = try d.request("PUT", "/v1/admin/profiles/\(profile)/grants/\(app)/\(account.replacingOccurrences(of: "@", with: "%40"))",
                                          json: "{\"scopes\":\(all),\"refresh_token\":\"r\",\"access_token\":\"tok-\(profile)-\(app)\",\"expires_at\":\"2099-01-01T00:00:00Z\"}")
                    #expect(r.status == 200)
                }
            }
        }
        var allowedCount = 0
        for c in Self.cases {
            let scopesJSON = "[" + c.scopes.map { "\"\($0)\"" }.joined(separator: ",") + "]"
            let body = "{\"profile\":\"\(c.profile)\",\"provider\":\"\(c.provider)\",\"account\":\"\(c.account!)\",\"scopes\":\(scopesJSON)}"
            let daemonAnswer = try d.request("POST", "/v1/token", json: body)
            // Allowed: a token, or `unavailable` from the refresh that narrows it.
            let daemonAllowed = daemonAnswer.status == 200 || daemonAnswer.status == 503
            var args = ["policy", "explain", "--policies", d.policies, "--uid", "0", "--profile", c.profile, "--provider", c.provider, "--account", c.account!]
            for s in c.scopes { args += ["--scope", s] }
            let explain = try d.cli(args)
            let explainAllowed = explain.status == 0
            #expect(daemonAllowed == explainAllowed, "\(body): daemon \(daemonAnswer.status) \(daemonAnswer.text), explain \(explain.status) \(explain.stdout)")
            if !daemonAllowed { #expect(daemonAnswer.status == 403, "\(body): \(daemonAnswer.text)") }
            if explainAllowed { allowedCount += 1 }
        }
        // The table exercises both answers.
        #expect(allowedCount >= 8)
        #expect(allowedCount <= Self.cases.count - 8)
        d.stop()
    }
}
