import BrokerTestBed
import BrokerSystem
import BrokerTesting
import BrokerWire
import Foundation
import Testing

func mode(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int) ?? -1
}

func groupID(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.groupOwnerAccountID] as? Int) ?? -1
}

@Suite("the socket", .serialized)
struct SocketTests {
    @Test("user mode: directory 0700, socket 0600")
    func userModes() throws {
        let d = try TestDaemon()
        #expect(mode(d.dir.file("run")) == 0o700)
        #expect(mode(d.socket) == 0o600)
        d.stop()
    }

    @Test("system mode: directory 0750 and socket 0660 with the clients group",
          .enabled(if: getuid() == 0 && UserDatabase.gid(ofGroup: "nogroup") != nil, "needs root and the nogroup group to run system mode with --allow-root"))
    func systemModes() throws {
        let gid = try #require(UserDatabase.gid(ofGroup: "nogroup"))
        let d = try TestDaemon(config: "client_group = \"nogroup\"\n", start: false)
        d.modeFlag = "--system"
        try d.start(extraArguments: ["--allow-root"])
        #expect(mode(d.dir.file("run")) == 0o750)
        #expect(mode(d.socket) == 0o660)
        #expect(groupID(d.socket) == Int(gid))
        #expect(groupID(d.dir.file("run")) == Int(gid))
        d.stop()
    }

    @Test("system mode refuses root without --allow-root", .enabled(if: getuid() == 0, "only root can be refused as root"))
    func systemRefusesRoot() throws {
        let d = try TestDaemon(config: "client_group = \"nogroup\"\n", start: false)
        d.modeFlag = "--system"
        try d.start(waitForSocket: false)
        #expect(d.process!.waitForExit(timeout: 20) == 1)
        #expect(d.stderr.contains("refusing to run as root in system mode"))
    }

    @Test("a stale socket is replaced; a second daemon on a live socket exits with a clear error")
    func staleAndLive() throws {
        let d = try TestDaemon()
        d.process!.signal(SIGKILL)
        d.process!.waitForExit()
        #expect(FileManager.default.fileExists(atPath: d.socket))
        try d.start()
        #expect(d.stderr.contains("removing a stale socket"))
        let second = try BackgroundProcess(BuiltProducts.path("credbrokerd"), d.arguments, logDirectory: d.dir.path, name: "second")
        #expect(second.waitForExit(timeout: 20) == 1)
        #expect(second.stderr.contains("another credbrokerd is already listening on \"\(d.socket)\""))
        #expect(try d.request("GET", "/v1/health").status == 200)
        d.stop()
    }

    /// As credbrokerd.service with the unlock drop-in runs it: the socket from systemd, the
    /// readiness reported on NOTIFY_SOCKET, and the vault unlocked at start with a key file
    /// that systemd decrypted into $CREDENTIALS_DIRECTORY (systemd writes it root-owned and
    /// 0400, or 0440 with an ACL; 0440 here, which a key file elsewhere may not have).
    @Test("socket activation (fd 3), sd_notify READY=1 / STOPPING=1, and unlock from $CREDENTIALS_DIRECTORY/vault-key",
          .enabled(if: Subprocess.isAvailable("systemd-socket-activate") && Subprocess.isAvailable("python3"), "needs systemd-socket-activate and python3 (.ci/run installs them)"))
    func activationAndNotify() throws {
        let d = try TestDaemon()
        try d.provision()
        let keyFile = d.dir.file("state/vault.key")
        #expect(try d.request("POST", "/v1/admin/add-slot", json: "{\"kind\":\"keyfile\",\"path\":\"\(keyFile)\"}").status == 200)
        #expect(d.stop() == 0)
        let credentials = d.dir.file("credentials")
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let credential = credentials + "/vault-key"
        try FileManager.default.moveItem(atPath: keyFile, toPath: credential)
        chmod(credential, 0o440)
        chmod(credentials, 0o500)
        defer { chmod(credentials, 0o700) }

        // Outside $CREDENTIALS_DIRECTORY the same 0440 file is refused: the directory is what
        // makes the difference.
        try d.start(extraArguments: ["--unlock-key-file", credential], waitForSocket: false)
        #expect(d.process!.waitForExit(timeout: 20) == 1)
        #expect(d.stderr.contains("cannot read the unlock key file"), "\(d.stderr)")

        let notify = d.dir.file("notify.sock")
        // A datagram socket the test reads, as systemd's NOTIFY_SOCKET.
        let reader = try BackgroundProcess("/usr/bin/python3", ["-c", """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(sys.argv[1])
            s.settimeout(60)
            while True:
                m = s.recv(4096).decode()
                print(m.replace("\\n", "|"), flush=True)
                if "STOPPING=1" in m:
                    break
            """, notify], logDirectory: d.dir.path, name: "notify")
        #expect(BackgroundProcess.waitUntil { FileManager.default.fileExists(atPath: notify) })
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LISTEN_") }
        env["NOTIFY_SOCKET"] = notify
        env["CREDENTIALS_DIRECTORY"] = credentials
        let arguments = d.arguments + ["--unlock-key-file", credential]
        let activator = try BackgroundProcess("/usr/bin/env", ["systemd-socket-activate", "-l", d.socket, "-E", "NOTIFY_SOCKET", "-E", "CREDENTIALS_DIRECTORY",
                                                               BuiltProducts.path("credbrokerd")] + arguments,
                                              environment: env, logDirectory: d.dir.path, name: "activate")
        // Until it answers, not until the file exists: systemd-socket-activate binds before
        // it listens, and a connect between the two is refused (one CI run). The first
        // connection starts the daemon.
        #expect(BackgroundProcess.waitUntil { (try? d.request("GET", "/v1/health"))?.status == 200 })
        // Unlocked with no unlock request: a token is served at once.
        let token = try d.request("POST", "/v1/token", json: TestDaemon.tokenBody)
        #expect(token.status == 200, "\(token.text) daemon: \(activator.stderr)")
        let ready = BackgroundProcess.waitUntil { reader.stdout.contains("READY=1") }
        #expect(ready, "notify saw: \(reader.stdout) daemon: \(activator.stderr)")
        #expect(reader.stdout.contains("STATUS=listening on \(d.socket), vault unlocked"), "\(reader.stdout)")
        #expect(activator.stderr.contains("using the socket passed by systemd"))
        activator.signal(SIGTERM)
        #expect(activator.waitForExit(timeout: 20) == 0)
        #expect(reader.waitForExit(timeout: 20) == 0)
        #expect(reader.stdout.contains("STOPPING=1"))
        // The socket is systemd's and outlives the daemon: the daemon must not remove it.
        #expect(FileManager.default.fileExists(atPath: d.socket))
    }
}

@Suite("daemon process hardening")
struct DaemonHardeningTests {
    @Test("the running daemon has core size 0 and umask 077")
    func hardened() throws {
        let d = try TestDaemon()
        let pid = d.process!.pid
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        let coreLine = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }.map(String.init) ?? ""
        let fields = coreLine.split(separator: " ", omittingEmptySubsequences: true)
        #expect(fields.count >= 6, "\(coreLine)")
        #expect(fields.count >= 6 && fields[4] == "0" && fields[5] == "0", "\(coreLine)")
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        #expect(status.contains("Umask:\t0077"), "\(status.prefix(400))")
        #expect(d.stop() == 0)
    }
}
