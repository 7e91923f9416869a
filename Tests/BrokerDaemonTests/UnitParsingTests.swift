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
