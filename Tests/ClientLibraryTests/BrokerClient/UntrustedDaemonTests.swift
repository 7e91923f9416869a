import BrokerTesting
import CredBrokerClient
import Foundation
import Testing

/// A look-alike socket served by another user must be refused before a single byte is
/// sent: it could hand out that user's token and collect what the agent does with it.
@Suite("Broker client untrusted daemon")
struct UntrustedDaemonTests {
    static let canSwitchToNobody = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

    /// Listens as `nobody`, accepts one connection, and writes how many bytes it received.
    static let listener = """
        import socket, sys
        s = socket.socket(socket.AF_UNIX)
        s.bind(sys.argv[1])
        s.listen(4)
        open(sys.argv[2] + ".listening", "w").close()
        c, _ = s.accept()
        # No short timeout: under a full parallel test run the client's task can wait many
        # seconds for a thread, and a listener that gave up would look like a refusal.
        c.settimeout(600)
        n = 0
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                n += len(d)
        except Exception:
            pass
        open(sys.argv[2], "w").write(str(n))
        """

    @Test("a listener running as nobody is refused and sent nothing",
          .enabled(if: canSwitchToNobody, "needs root, /usr/bin/setpriv and /usr/bin/python3 to serve a socket as nobody"))
    func refusesForeignListener() async throws {
        let dir = try TemporaryDirectory(prefix: "cbc-nobody")
        defer { dir.remove() }
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: dir.path)
        let socket = dir.file("broker.sock"), report = dir.file("received")
        let process = try BackgroundProcess(
            "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", Self.listener, socket, report],
            logDirectory: dir.path, name: "nobody")
        defer { if process.isRunning { process.signal(SIGKILL) }; process.waitForExit(timeout: 5) }
        // The socket file appears at bind, before listen: wait for the listener's own word.
        #expect(BackgroundProcess.waitUntil { FileManager.default.fileExists(atPath: report + ".listening") || !process.isRunning },
                "listener: \(process.stderr)")

        let client = BrokerClient(socketPath: socket, profile: "dev")
        await #expect {
            _ = try await client.accessToken(provider: "google", scopes: ["calendar.readonly"])
        } throws: { error in
            guard let e = error as? BrokerError else { return false }
            let listing = (try? FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()) ?? []
            #expect(e.code == .untrustedDaemon, "listener running: \(process.isRunning), files: \(listing), stderr: \(process.stderr)")
            return e.code == .untrustedDaemon && e.message.contains(socket) && e.message.contains("uid 65534")
        }
        // The listener saw the connection close with nothing written to it.
        // The file appears at open, its byte count a moment later.
        #expect(BackgroundProcess.waitUntil { (try? String(contentsOfFile: report, encoding: .utf8)) == "0" },
                "listener: \(process.stderr), report: \((try? String(contentsOfFile: report, encoding: .utf8)) ?? "none")")
        await client.shutdown()
    }
}
