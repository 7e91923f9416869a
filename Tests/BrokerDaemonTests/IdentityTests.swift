import BrokerTestBed
import BrokerSystem
import BrokerTesting
import BrokerWire
import Foundation
import Testing

/// Runs curl as uid/gid 65534 (nobody) through setpriv, so the daemon's SO_PEERCRED sees
/// another user. Needs root (setpriv cannot change uid otherwise).
func curlAsNobody(_ d: TestDaemon, _ path: String, json: String? = nil) throws -> (status: Int, body: String) {
    var args = ["--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", d.socket]
    if let json { args += ["-H", "Content-Type: application/json", "-d", json] }
    args.append("http://localhost" + path)
    let r = try Subprocess.run("setpriv", args)
    let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    let status = Int(lines.last ?? "") ?? -1
    return (status, lines.dropLast().joined(separator: "\n"))
}

/// Opens the test daemon's socket to uid 65534 (the test loosens the modes the daemon set,
/// which a real deployment does with system mode's group instead).
func openToNobody(_ d: TestDaemon) {
    chmod(d.dir.path, 0o711)
    chmod(d.dir.file("run"), 0o711)
    chmod(d.socket, 0o666)
}

@Suite("caller identity and policy", .serialized)
struct IdentityTests {
    static let policy = """
        [admin]
        uids = [4242]

        [[rule]]
        name = "root-dev"
        uids = [0]
        profiles = ["dev"]
        providers = ["google"]
        scopes = ["calendar.readonly", "gmail.readonly"]

        [[rule]]
        name = "nobody-calendar"
        users = ["nobody"]
        profiles = ["dev"]
        providers = ["google"]
        accounts = ["me@example.com"]
        scopes = ["calendar.readonly"]
        """

    @Test("another uid is allowed or denied exactly as the policy says; admin routes deny it",
          .enabled(if: getuid() == 0 && Subprocess.isAvailable("setpriv"), "needs root and setpriv to connect as uid 65534"))
    func otherUID() throws {
        let d = try TestDaemon(policy: Self.policy)
        try d.provision()
        // A calendar-only grant: without a refresh token its token carries all its scopes,
        // which nobody's rule must allow.
        try d.putGrant(account: "me@example.com", token: "ya29.test-token-canary", expires: "2099-01-01T00:00:00Z", scopes: #"["calendar.readonly"]"#)
        openToNobody(d)
        let calendar = try curlAsNobody(d, "/v1/token", json: TestDaemon.tokenBody)
        #expect(calendar.status == 200, "\(calendar.body) \(d.stderr)")
        #expect(calendar.body.contains("ya29.test-token-canary"))

        let superset = #"{"profile":"dev","provider":"google","scopes":["calendar.readonly","gmail.readonly"]}"#
        let denied = try curlAsNobody(d, "/v1/token", json: superset)
        #expect(denied.status == 403)
        #expect(denied.body == #"{"error":{"code":"denied","message":"not allowed"}}"#)

        let otherProfile = try curlAsNobody(d, "/v1/token", json: #"{"profile":"prod","provider":"google","scopes":["calendar.readonly"]}"#)
        #expect(otherProfile.status == 403)
        #expect(otherProfile.body == #"{"error":{"code":"denied","message":"not allowed"}}"#)
        let otherApp = try curlAsNobody(d, "/v1/token", json: #"{"profile":"dev","provider":"microsoft","scopes":["calendar.readonly"]}"#)
        #expect(otherApp.status == 403)
        // A denied caller learns nothing: an existing and a missing account answer alike.
        let missing = try curlAsNobody(d, "/v1/token", json: #"{"profile":"dev","provider":"google","account":"nobody@example.com","scopes":["calendar.readonly"]}"#)
        #expect(missing.body == denied.body)

        for route in ["/v1/admin/status", "/v1/admin/profiles"] {
            let r = try curlAsNobody(d, route)
            #expect(r.status == 403, "\(route)")
        }
        let lock = try curlAsNobody(d, "/v1/admin/lock", json: "{}")
        #expect(lock.status == 403)
        // Not even which admin routes exist: an unknown one answers the same.
        let unknown = try curlAsNobody(d, "/v1/admin/no-such-route")
        #expect(unknown.status == 403)
        #expect(unknown.body == denied.body)
        #expect(try d.request("GET", "/v1/health").text.contains("\"ok\""))
        let profiles = try curlAsNobody(d, "/v1/profiles")
        #expect(profiles.body.contains("me@example.com"))

        // The daemon log and the audit log have the details; the caller did not.
        #expect(d.stop() == 0)
        #expect(d.stderr.contains("caller.uid=65534"))
        let audit = (try? String(contentsOfFile: d.auditLog, encoding: .utf8)) ?? ""
        #expect(audit.contains("\"uid\":65534"))
        #expect(audit.contains("does not grant scope"))
    }

    @Test("the CLI refuses a socket served by another user, so no secret goes to a look-alike daemon",
          .enabled(if: getuid() == 0 && Subprocess.isAvailable("setpriv") && FileManager.default.fileExists(atPath: "/usr/bin/python3"), "needs root, setpriv and /usr/bin/python3"))
    func foreignListener() throws {
        let dir = try TemporaryDirectory()
        chmod(dir.path, 0o777)
        let socket = dir.file("fake.sock")
        let fake = try BackgroundProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
            print("listening", flush=True)
            while True:
                c, _ = s.accept(); c.recv(65536)
                c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 11\\r\\n\\r\\n{"ok":true}'); c.close()
            """, socket], logDirectory: dir.path, name: "fake")
        // The socket file appears at bind, before listen: wait for the listener's own word.
        #expect(BackgroundProcess.waitUntil { fake.stdout.contains("listening") || !fake.isRunning }, "\(fake.stderr)")
        let r = try Subprocess.run(BuiltProducts.path("credbroker"), ["vault", "unlock", "--socket", socket, "--passphrase-file", "-"], stdin: "a secret passphrase\n")
        #expect(r.status == 1)
        #expect(r.stderr.contains("refused: it is served by uid 65534"), "\(r.stderr)")
        fake.signal(SIGKILL)
    }
}
