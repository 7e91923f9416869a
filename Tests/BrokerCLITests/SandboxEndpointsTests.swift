import BrokerCLI
import BrokerTesting
import Foundation
import Testing

@Suite("setup --sandbox: the sandbox's endpoint map")
struct SandboxEndpointsTests {
    let root = "http://127.0.0.1:4567"

    @Test("google, microsoft and zoom follow docs/sandbox.md exactly")
    func maps() {
        #expect(SandboxEndpoints.endpoints(type: .google, base: root) == [
            "authorization": root + "/google/o/oauth2/v2/auth",
            "token": root + "/google/token",
            "device": root + "/google/device/code",
            "revocation": root + "/google/revoke",
            "userinfo": root + "/google/oauth2/v3/userinfo",
            "api.calendar": root + "/google/calendar/v3",
            "api.gmail": root + "/google/gmail/v1",
            "api.people": root + "/google/v1",
        ])
        #expect(SandboxEndpoints.endpoints(type: .microsoft, base: root) == [
            "authorization": root + "/microsoft/common/oauth2/v2.0/authorize",
            "token": root + "/microsoft/common/oauth2/v2.0/token",
            "device": root + "/microsoft/common/oauth2/v2.0/devicecode",
            "userinfo": root + "/microsoft/graph/v1.0/me",
            "api.graph": root + "/microsoft/graph/v1.0",
        ])
        #expect(SandboxEndpoints.endpoints(type: .microsoft, base: root, tenant: "sandbox-tenant")["token"]
            == root + "/microsoft/sandbox-tenant/oauth2/v2.0/token")
        #expect(SandboxEndpoints.endpoints(type: .zoom, base: root) == [
            "authorization": root + "/zoom/oauth/authorize",
            "token": root + "/zoom/oauth/token",
            "revocation": "",
            "userinfo": root + "/zoom/v2/users/me",
            "api.zoom": root + "/zoom/v2",
        ])
        #expect(SandboxEndpoints.endpoints(type: .generic, base: root).isEmpty)
    }

    @Test("the base must be a loopback http(s) URL alone")
    func base() throws {
        #expect(try SandboxEndpoints.base("http://127.0.0.1:4567/") == "http://127.0.0.1:4567")
        #expect(try SandboxEndpoints.base("http://localhost:4567") == "http://localhost:4567")
        #expect(try SandboxEndpoints.base("http://[::1]:4567") == "http://[::1]:4567")
        for bad in ["http://192.168.1.2:4567", "https://sandbox.example", "ftp://127.0.0.1:1", "http://127.0.0.1:1/x",
                    "http://127.0.0.1:1?x=1", "http://u:p@127.0.0.1:1", "127.0.0.1:4567"] {
            #expect(throws: EndpointURLError.self, "\(bad)") { try SandboxEndpoints.base(bad) }
        }
    }

    @Test("the map agrees with the endpoints a running sandbox reports")
    func agreesWithTheSandbox() throws {
        let dir = try TemporaryDirectory()
        let sandbox = try BackgroundProcess(BuiltProducts.path("credbroker"), ["sandbox", "--json"], logDirectory: dir.path, name: "sandbox")
        defer { sandbox.signal(SIGTERM); sandbox.waitForExit() }
        // Two whole lines: the second, JSON, may be read while it is being written.
        #expect(BackgroundProcess.waitUntil { sandbox.stdout.filter { $0 == "\n" }.count >= 2 }, "\(sandbox.stderr)")
        let lines = sandbox.stdout.split(separator: "\n")
        let url = String(lines[0].dropFirst("READY ".count))
        let registration = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        let reported = try #require(registration["endpoints"] as? [String: [String: String]])
        let tenant = try #require(registration["microsoft_tenant"] as? String)
        // The sandbox names the device endpoint "device_authorization" and APIs without "api.".
        func ours(_ key: String) -> String { key == "device_authorization" ? "device" : (["calendar", "gmail", "people", "graph"].contains(key) ? "api." + key : key) }
        for (provider, type) in [("google", ProviderType.google), ("microsoft", .microsoft), ("zoom", .zoom)] {
            let map = SandboxEndpoints.endpoints(type: type, base: url, tenant: tenant)
            for (key, value) in reported[provider] ?? [:] where key != "batch_calendar" {
                #expect(map[ours(key)] == value, "\(provider) \(key)")
            }
        }
    }
}
