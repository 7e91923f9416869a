import BrokerTesting
import CredBrokerClient
import Foundation
import Testing

/// A non-blocking connect to a Unix socket whose listen backlog is full fails at once with
/// EAGAIN instead of waiting, as a TCP connect would. A herd of clients starting together
/// meets exactly that; the client waits for room up to its connect timeout.
@Suite("Broker client: a full listen backlog")
struct ConnectBacklogTests {
    static let hasPython = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

    /// A client error with what the listener was doing, so a failure says whose fault it is.
    struct ListenerFailure: Error, CustomStringConvertible {
        let error: any Error
        let listenerRunning: Bool
        let stderr: String
        var description: String { "\(error) (listener running: \(listenerRunning), its stderr: \(stderr))" }
    }

    /// Listens with a backlog of 0 and fills it with its own connections until the kernel
    /// says EAGAIN, then writes how many it queued to `marker`. After `drain` seconds (never,
    /// if it is "-") it closes them and answers every HTTP request with a health answer.
    /// The listener keeps the time itself: the test's own tasks may wait long for a thread
    /// when the whole suite runs.
    static let listener = """
        import os, socket, sys, time
        path, marker, drain = sys.argv[1], sys.argv[2], sys.argv[3]
        s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(0)
        fillers = []
        while True:
            c = socket.socket(socket.AF_UNIX); c.setblocking(False)
            try:
                c.connect(path)
            except BlockingIOError:
                c.close(); break
            fillers.append(c)
        with open(marker + ".tmp", "w") as f: f.write(str(len(fillers)))
        os.rename(marker + ".tmp", marker)
        while drain == "-":
            time.sleep(60)
        time.sleep(float(drain))
        for c in fillers: c.close()
        body = b'{"status": "ok", "version": "0.0.0-backlog", "uptime_seconds": 7}'
        while True:
            conn, _ = s.accept()
            # One connection's trouble must not end the listener: a listener that died
            # refuses the client's next connect, which looks like the fault under test.
            # No short timeout either: in a full parallel run the client's task can wait a
            # minute for a thread between its connect and its request (one CI run).
            try:
                conn.settimeout(600)
                data = b""
                while b"\\r\\n\\r\\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk: break
                    data += chunk
                if data:
                    conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
            except OSError as e:
                print("connection:", e, file=sys.stderr, flush=True)
            finally:
                conn.close()
        """

    /// Starts the listener, waits until its backlog is full, and runs `body` with a client
    /// of its socket; stops both afterwards.
    static func withFullListener(drainAfter: String, _ body: (BrokerClient, String) async throws -> Void) async throws {
        let dir = try TemporaryDirectory(prefix: "cbc-backlog")
        defer { dir.remove() }
        let socket = dir.file("broker.sock"), marker = dir.file("full")
        let process = try BackgroundProcess("/usr/bin/python3", ["-c", listener, socket, marker, drainAfter], logDirectory: dir.path, name: "listener")
        defer { process.signal(SIGKILL); process.waitForExit(timeout: 5) }
        // Polled on a thread of its own: a blocked cooperative thread would slow every test.
        let full = try await offload { BackgroundProcess.waitUntil(timeout: 30) { FileManager.default.fileExists(atPath: marker) || !process.isRunning } }
        #expect(full && process.isRunning, "listener: \(process.stderr)")
        let queued = Int((try? String(contentsOfFile: marker, encoding: .utf8)) ?? "") ?? -1
        #expect(queued >= 1, "the listener queued \(queued) connections before EAGAIN")
        let client = BrokerClient(socketPath: socket, profile: "dev")
        do { try await body(client, socket) } catch {
            await client.shutdown()
            throw ListenerFailure(error: error, listenerRunning: process.isRunning, stderr: process.stderr)
        }
        await client.shutdown()
    }

    @Test("a backlog that drains: the client waits for room and gets its answer",
          .enabled(if: hasPython, "needs /usr/bin/python3"))
    func waitsForRoom() async throws {
        // The client meets the full backlog (without the wait: EAGAIN, and the call fails at
        // once) and is answered once the listener drains it, half a second later.
        try await Self.withFullListener(drainAfter: "0.5") { client, _ in
            let answer = try await client.health()
            #expect(answer.version == "0.0.0-backlog" && answer.status == "ok")
        }
    }

    @Test("a backlog that never drains: the client gives up after its connect timeout and says why",
          .enabled(if: hasPython, "needs /usr/bin/python3"))
    func givesUpWhenFull() async throws {
        try await Self.withFullListener(drainAfter: "-") { client, socket in
            let started = ContinuousClock.now
            await #expect {
                _ = try await client.health()
            } throws: { error in
                guard let e = error as? BrokerError else { return false }
                #expect(e.message.contains("listen backlog is full"), "\(e.message)")
                return e.message.contains(socket)
            }
            // Only a lower bound, which a loaded machine cannot break: it waited, then gave up.
            #expect(ContinuousClock.now - started >= .seconds(4), "gave up after \(ContinuousClock.now - started)")
        }
    }
}
