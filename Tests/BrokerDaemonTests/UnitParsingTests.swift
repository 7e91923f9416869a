import BrokerSystem
import Testing

@Suite("systemd units from /proc/PID/cgroup")
struct UnitParsingTests {
    @Test("system units, user-manager units, scopes and none")
    func units() {
        #expect(ProcessInspector.unit(fromCgroup: "0::/system.slice/daily-brief.service\n") == "daily-brief.service")
        #expect(ProcessInspector.unit(fromCgroup: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/agent.service\n") == "user@1000.service/agent.service")
        #expect(ProcessInspector.unit(fromCgroup: "0::/user.slice/user-1000.slice/session-3.scope\n") == "session-3.scope")
        #expect(ProcessInspector.unit(fromCgroup: "0::/\n") == nil)
        #expect(ProcessInspector.unit(fromCgroup: "12:cpu:/x\n1:name=systemd:/system.slice/cron.service\n") == "cron.service")
        #expect(ProcessInspector.unit(fromCgroup: "") == nil)
    }
}

import BrokerTesting
import Foundation

@Suite("the example policies in policies/")
struct PolicyExamplesTests {
    @Test("credbroker policy check accepts policies/ and explain answers from it")
    func examples() throws {
        let dir = try TemporaryDirectory()
        let source = BuiltProducts.packageRoot + "/policies"
        for name in ["dev.toml", "staging.toml", "prod.toml"] {
            let text = try String(contentsOfFile: source + "/" + name, encoding: .utf8)
            try dir.write(name, text, mode: 0o644)
        }
        let binary = BuiltProducts.path("credbroker")
        let check = try Subprocess.run(binary, ["policy", "check", dir.path])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("7 rules in 3 files are valid"), "\(check.stdout)")
        let allow = try Subprocess.run(binary, ["policy", "explain", "--policies", dir.path, "--uid", "4001", "--user", "brief",
                                               "--unit", "daily-brief.service", "--group", "brief", "--profile", "prod",
                                               "--provider", "google", "--account", "exec@example.com", "--scope", "calendar.readonly"])
        #expect(allow.status == 0, "\(allow.stdout) \(allow.stderr)")
        #expect(allow.stdout.contains("prod.toml:daily-brief"))
        let deny = try Subprocess.run(binary, ["policy", "explain", "--policies", dir.path, "--uid", "4001", "--user", "brief",
                                              "--unit", "daily-brief.service", "--group", "brief", "--profile", "prod",
                                              "--provider", "google", "--account", "exec@example.com", "--scope", "gmail.send"])
        #expect(deny.status == 3)
        #expect(deny.stdout.contains("does not grant scope"))
    }
}
