import BrokerCore
import BrokerDaemon
import BrokerTestBed
import BrokerSystem
import BrokerTesting
import BrokerWire
import Foundation
import Testing

/// The shipped units under systemd/, checked without systemd as PID 1 (issue 7): systemd's
/// own verifier and security analyzer, the directives the daemon depends on, agreement with
/// the daemon's paths, and the daemon itself under the unit's seccomp filter.
@Suite("the systemd units", .serialized,
       .enabled(if: Subprocess.isAvailable("systemd-analyze"), "needs systemd-analyze (the systemd package; .ci/run installs it)"))
struct SystemdUnitTests {
    static let source = BuiltProducts.packageRoot + "/systemd"
    static let systemUnits = ["credbrokerd.service", "credbrokerd.socket", "credbroker-backup.service", "credbroker-backup.timer",
                              "credbroker-rotate.service", "credbroker-rotate.timer"]
    static let userUnits = ["user/credbrokerd.service", "user/credbrokerd.socket"]
    static let services = ["credbrokerd.service", "credbroker-backup.service", "credbroker-rotate.service", "user/credbrokerd.service"]

    /// The units in a temporary directory with the installed binary paths replaced by the
    /// built binaries: `verify` checks that every ExecStart= names an executable.
    static func stage(_ dir: TemporaryDirectory) throws -> String {
        let staged = dir.file("units")
        try FileManager.default.copyItem(atPath: source, toPath: staged)
        for name in try FileManager.default.subpathsOfDirectory(atPath: staged) where name.hasSuffix(".service") || name.hasSuffix(".conf") {
            let path = staged + "/" + name
            let text = try String(contentsOfFile: path, encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/sbin/credbrokerd", with: BuiltProducts.path("credbrokerd"))
                .replacingOccurrences(of: "/usr/local/bin/credbroker ", with: BuiltProducts.path("credbroker") + " ")
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        }
        return staged
    }

    /// `systemd-analyze verify` on `units` (paths under `staged`): its status and every
    /// complaint about our files (a warning, such as an unknown key, still exits 0).
    static func verify(_ units: [String], staged: String, user: Bool = false, unitPath: String? = nil) throws -> (status: Int32, complaints: [String]) {
        var env = ProcessInfo.processInfo.environment
        if user { env["XDG_RUNTIME_DIR"] = staged }
        if let unitPath { env["SYSTEMD_UNIT_PATH"] = unitPath + ":" }
        // --man=no: the man pages are installed with the binaries, not where man looks here.
        let r = try Subprocess.run("systemd-analyze", (user ? ["--user"] : []) + ["verify", "--man=no"] + units.map { staged + "/" + $0 }, environment: env)
        let ours = units.map { ($0 as NSString).lastPathComponent }
        let complaints = (r.stdout + r.stderr).split(separator: "\n").map(String.init).filter { line in
            line.contains(staged) || ours.contains { line.contains($0) }
        }
        return (r.status, complaints)
    }

    @Test("every unit passes systemd-analyze verify, the user units and the unlock drop-in included")
    func verifyAll() throws {
        let dir = try TemporaryDirectory(prefix: "units")
        let staged = try Self.stage(dir)
        let system = try Self.verify(Self.systemUnits, staged: staged)
        #expect(system.status == 0 && system.complaints.isEmpty, "\(system.complaints)")
        let user = try Self.verify(Self.userUnits, staged: staged, user: true)
        #expect(user.status == 0 && user.complaints.isEmpty, "\(user.complaints)")

        // The drop-in of docs/operations.md, where systemd would find it.
        try FileManager.default.createDirectory(atPath: staged + "/credbrokerd.service.d", withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: staged + "/credbrokerd-unlock-key.conf", toPath: staged + "/credbrokerd.service.d/unlock-key.conf")
        let dropIn = try Self.verify(["credbrokerd.service"], staged: staged, unitPath: staged)
        #expect(dropIn.status == 0 && dropIn.complaints.isEmpty, "\(dropIn.complaints)")
        let show = try String(contentsOfFile: staged + "/credbrokerd.service.d/unlock-key.conf", encoding: .utf8)
        #expect(show.contains("--unlock-key-file %d/vault-key"))
        #expect(show.contains("LoadCredentialEncrypted=vault-key:"))
    }

    @Test("the check fails on a unit with an unknown setting or a missing binary")
    func verifyCanFail() throws {
        let dir = try TemporaryDirectory(prefix: "units")
        let staged = try Self.stage(dir)
        let path = staged + "/credbrokerd.service"
        let original = try String(contentsOfFile: path, encoding: .utf8)
        try original.replacingOccurrences(of: "LockPersonality=yes", with: "LockPersonalty=yes").write(toFile: path, atomically: false, encoding: .utf8)
        let typo = try Self.verify(["credbrokerd.service"], staged: staged)
        #expect(!typo.complaints.isEmpty)
        try original.replacingOccurrences(of: BuiltProducts.path("credbrokerd"), with: dir.file("missing/credbrokerd")).write(toFile: path, atomically: false, encoding: .utf8)
        let missing = try Self.verify(["credbrokerd.service"], staged: staged)
        #expect(missing.status != 0)
    }

    /// The overall exposure `systemd-analyze security --offline=true` gives a service.
    static func exposure(_ unit: String, staged: String) throws -> Double? {
        let r = try Subprocess.run("systemd-analyze", ["security", "--offline=true", staged + "/" + unit])
        let line = (r.stdout + r.stderr).split(separator: "\n").first { $0.contains("Overall exposure level for") }
        guard let line, let value = line.split(separator: ":").last?.split(separator: " ").first else { return nil }
        return Double(value)
    }

    @Test("systemd-analyze security: credbrokerd.service and the timers' services expose at most 1.5")
    func exposureLevels() throws {
        let dir = try TemporaryDirectory(prefix: "units")
        let staged = try Self.stage(dir)
        for unit in ["credbrokerd.service", "credbroker-backup.service", "credbroker-rotate.service"] {
            let level = try #require(try Self.exposure(unit, staged: staged), "no exposure figure for \(unit)")
            #expect(level <= 1.5, "\(unit): exposure \(level)")
        }
        // The analyzer is not vacuous: without the hardening the same unit scores far worse.
        let bare = try String(contentsOfFile: staged + "/credbrokerd.service", encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("Protect") && !$0.hasPrefix("SystemCall") && !$0.hasPrefix("Private") }.joined(separator: "\n")
        try bare.write(toFile: staged + "/bare.service", atomically: false, encoding: .utf8)
        let bareLevel = try #require(try Self.exposure("bare.service", staged: staged))
        #expect(bareLevel > 3)
    }

    /// The active (uncommented) `Key=value` settings of a unit file, in order.
    static func settings(_ path: String) throws -> [(key: String, value: String)] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { raw in
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.hasPrefix("#"), !line.hasPrefix(";"), !line.hasPrefix("["), let eq = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<eq]), String(line[line.index(after: eq)...]))
        }
    }

    @Test("no PrivateUsers= and no ProtectProc= that hides callers; the hardening issue 7 asks for is there")
    func directives() throws {
        for unit in Self.services + ["credbrokerd-unlock-key.conf"] {
            let settings = try Self.settings(Self.source + "/" + unit)
            // PrivateUsers= maps every other uid to 65534 in SO_PEERCRED; ProtectProc= other
            // than "default" hides the /proc/PID entries the daemon reads for unit and exe.
            #expect(!settings.contains { $0.key == "PrivateUsers" }, "\(unit) sets PrivateUsers=")
            #expect(!settings.contains { $0.key == "ProtectProc" && $0.value != "default" }, "\(unit) sets ProtectProc=")
        }
        let daemon = Dictionary(try Self.settings(Self.source + "/credbrokerd.service").map { ($0.key, $0.value) }, uniquingKeysWith: { a, b in a + "\n" + b })
        let required: [String: String] = [
            "Type": "notify", "User": "credbroker", "Group": "credbroker", "StateDirectoryMode": "0700", "UMask": "0077", "LimitCORE": "0",
            "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
            "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
            "ProtectClock": "yes", "ProtectHostname": "yes", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "RestrictNamespaces": "yes",
            "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
            "SystemCallArchitectures": "native", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
        ]
        for (key, value) in required.sorted(by: { $0.key < $1.key }) {
            #expect(daemon[key] == value, "credbrokerd.service: \(key)=\(daemon[key] ?? "(unset)"), want \(key)=\(value)")
        }
        #expect(daemon["SystemCallFilter"]?.hasPrefix("@system-service") == true)
        #expect(daemon["RuntimeDirectory"] == nil, "RuntimeDirectory= would remove the socket's directory when the service stops")
    }

    @Test("the units agree with the daemon: socket path and modes, client group, state, logs and backup directories")
    func agreement() throws {
        let system = DaemonPaths.system
        let socket = Dictionary(try Self.settings(Self.source + "/credbrokerd.socket").map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let clientGroup = Configuration(mode: .system, paths: system).clientGroup
        #expect(socket["ListenStream"] == system.socket)
        #expect(socket["SocketMode"] == "0660")
        #expect(socket["DirectoryMode"] == "0750")
        #expect(socket["SocketUser"] == "credbroker")
        #expect(socket["SocketGroup"] == clientGroup)
        let userSocket = Dictionary(try Self.settings(Self.source + "/user/credbrokerd.socket").map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        // %t is $XDG_RUNTIME_DIR: the path the daemon and the clients derive in user mode.
        let userPaths = DaemonPaths.user(environment: ["XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/u"], uid: 1000, home: "/home/u") { _ in true }
        #expect(userSocket["ListenStream"].map { $0.replacingOccurrences(of: "%t", with: "/run/user/1000") } == userPaths.socket)
        #expect(userSocket["SocketMode"] == "0600" && userSocket["DirectoryMode"] == "0700")

        let daemon = try Self.settings(Self.source + "/credbrokerd.service")
        let state = daemon.first { $0.key == "StateDirectory" }?.value.split(separator: " ").map { "/var/lib/" + $0 } ?? []
        let logs = daemon.first { $0.key == "LogsDirectory" }?.value.split(separator: " ").map { "/var/log/" + $0 } ?? []
        #expect(state.contains(FileSecurity.parentDirectory(of: system.vault)))
        #expect(state.contains("/var/lib/credbroker/backups"))
        #expect(logs.contains(FileSecurity.parentDirectory(of: system.auditLog)))
        #expect(daemon.contains { $0.key == "ExecStart" && $0.value.hasSuffix("credbrokerd --system") })

        let tmpfiles = try String(contentsOfFile: Self.source + "/tmpfiles.d/credbroker.conf", encoding: .utf8)
        let lines = tmpfiles.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        func entry(_ path: String) -> [String]? { lines.first { $0.count >= 5 && $0[1] == path } }
        #expect(entry(FileSecurity.parentDirectory(of: system.socket)) == ["d", "/run/credbroker", "0750", "credbroker", clientGroup, "-"])
        #expect(entry(FileSecurity.parentDirectory(of: system.vault)) == ["d", "/var/lib/credbroker", "0700", "credbroker", "credbroker", "-"])
        #expect(entry("/var/lib/credbroker/backups") == ["d", "/var/lib/credbroker/backups", "0700", "credbroker", "credbroker", "-"])
        #expect(entry(FileSecurity.parentDirectory(of: system.auditLog)) == ["d", "/var/log/credbroker", "0700", "credbroker", "credbroker", "-"])
        #expect(entry(system.policies) != nil)

        let sysusers = try String(contentsOfFile: Self.source + "/sysusers.d/credbroker.conf", encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ", maxSplits: 2).map(String.init) }
        #expect(sysusers.contains { $0.count >= 2 && $0[0] == "u" && $0[1] == PeerCredentials.daemonUserName })
        #expect(sysusers.contains { $0.count >= 2 && $0[0] == "g" && $0[1] == clientGroup })

        // The timers' services talk to the system socket and keep backups where the daemon
        // may write them (under the vault's directory, in system mode).
        for unit in ["credbroker-backup.service", "credbroker-rotate.service"] {
            let exec = try Self.settings(Self.source + "/" + unit).first { $0.key == "ExecStart" }?.value ?? ""
            #expect(exec.contains("--socket \(system.socket)"), "\(unit): \(exec)")
        }
        let backup = try Self.settings(Self.source + "/credbroker-backup.service").first { $0.key == "ExecStart" }?.value ?? ""
        #expect(backup.contains("--dir /var/lib/credbroker/backups --keep "))
    }

    @Test("sysusers.d and tmpfiles.d make the user, the clients group and every directory with its owner and mode",
          .enabled(if: getuid() == 0 && Subprocess.isAvailable("systemd-sysusers") && Subprocess.isAvailable("systemd-tmpfiles"),
                   "needs root (tmpfiles chowns) and systemd-sysusers / systemd-tmpfiles"))
    func sysusersAndTmpfiles() throws {
        let dir = try TemporaryDirectory(prefix: "units")
        let root = dir.file("root")
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        let users = try Subprocess.run("systemd-sysusers", ["--root=" + root, Self.source + "/sysusers.d/credbroker.conf"])
        #expect(users.status == 0, "\(users.stderr)")
        let passwd = try String(contentsOfFile: root + "/etc/passwd", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        let group = try String(contentsOfFile: root + "/etc/group", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        let user = try #require(passwd.first { $0[0] == "credbroker" })
        let clients = try #require(group.first { $0[0] == "credbroker-clients" })
        let own = try #require(group.first { $0[0] == "credbroker" })
        #expect(user[6] == "/usr/sbin/nologin" && Int(user[2])! < 1000, "\(user)")
        #expect(clients[3].split(separator: ",").contains("credbroker"))
        let files = try Subprocess.run("systemd-tmpfiles", ["--root=" + root, "--create", Self.source + "/tmpfiles.d/credbroker.conf"])
        #expect(files.status == 0, "\(files.stderr)")
        let uid = UInt32(user[2])!, gid = UInt32(own[2])!, clientsGID = UInt32(clients[2])!
        let expected: [(String, UInt32, UInt32, UInt32)] = [
            ("/run/credbroker", 0o750, uid, clientsGID),
            ("/var/lib/credbroker", 0o700, uid, gid),
            ("/var/lib/credbroker/backups", 0o700, uid, gid),
            ("/var/log/credbroker", 0o700, uid, gid),
            ("/etc/credbroker/policies.d", 0o755, 0, 0),
        ]
        for (path, permissions, owner, ownerGroup) in expected {
            let info = try #require(try FileSecurity.status(ofPath: root + path), "\(path) missing")
            #expect(info.isDirectory && info.permissions == permissions && info.uid == owner && info.gid == ownerGroup,
                    "\(path): \(FileSecurity.octal(info.mode)) \(info.uid):\(info.gid)")
        }
    }

    // MARK: - The daemon under the unit's seccomp filter

    /// Every syscall name of each group `systemd-analyze syscall-filter` knows, nested
    /// groups expanded.
    static func syscallGroups() throws -> [String: Set<String>] {
        let r = try Subprocess.run("systemd-analyze", ["syscall-filter"])
        var raw: [String: [String]] = [:]
        var current: String?
        for line in r.stdout.split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            if line.hasPrefix("@") {
                current = String(text.split(separator: " ")[0])
                raw[current!] = []
            } else if let current {
                raw[current]!.append(String(text.split(separator: " ")[0]))
            }
        }
        func expand(_ group: String, _ depth: Int = 0) -> Set<String> {
            guard depth < 10 else { return [] }
            return (raw[group] ?? []).reduce(into: Set<String>()) { out, item in
                out.formUnion(item.hasPrefix("@") ? expand(item, depth + 1) : [item])
            }
        }
        return Dictionary(uniqueKeysWithValues: raw.keys.map { ($0, expand($0)) })
    }

    /// The syscalls a unit's SystemCallFilter= lines allow (an allow list: the first line
    /// has no "~"; later lines add, "~" lines remove, as systemd applies them).
    static func allowedSyscalls(unit: String) throws -> Set<String> {
        let groups = try syscallGroups()
        let lines = try settings(source + "/" + unit).filter { $0.key == "SystemCallFilter" }.map(\.value)
        #expect(lines.first.map { !$0.hasPrefix("~") } == true, "\(unit): the filter must be an allow list")
        var allowed = Set<String>()
        for line in lines {
            let remove = line.hasPrefix("~")
            for item in line.dropFirst(remove ? 1 : 0).split(separator: " ").map(String.init) {
                let names = item.hasPrefix("@") ? (groups[item] ?? []) : [item]
                #expect(!names.isEmpty, "\(unit): unknown syscall group \(item)")
                if remove { allowed.subtract(names) } else { allowed.formUnion(names) }
            }
        }
        return allowed
    }

    static let seccompAvailable = FileManager.default.fileExists(atPath: "/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

    /// The launcher that runs a command under credbrokerd.service's filter.
    static func launcher(_ dir: TemporaryDirectory) throws -> [String] {
        let allowed = try allowedSyscalls(unit: "credbrokerd.service")
        #expect(allowed.isSuperset(of: ["mlock", "munlock", "madvise", "prctl", "prlimit64", "getrandom", "accept4", "getsockopt", "fdatasync"]))
        #expect(!allowed.contains("chown") && !allowed.contains("setpriority") && !allowed.contains("ptrace") && !allowed.contains("mount"))
        let file = try dir.write("allowed-syscalls", allowed.sorted().joined(separator: "\n"))
        let families = try settings(source + "/credbrokerd.service").first { $0.key == "RestrictAddressFamilies" }?.value ?? ""
        let numbers = families.split(separator: " ").compactMap { ["AF_UNIX": "1", "AF_INET": "2", "AF_INET6": "10"][String($0)] }
        #expect(numbers.count == 3)
        return ["/usr/bin/python3", BuiltProducts.packageRoot + "/Tests/python/seccomp_exec.py", file, "--families", numbers.joined(separator: ","), "--"]
    }

    @Test("the seccomp launcher enforces: refused syscalls, netlink and writable-executable memory fail under it",
          .enabled(if: SystemdUnitTests.seccompAvailable, "needs x86-64 kernel headers (linux-libc-dev) and /usr/bin/python3"))
    func launcherEnforces() throws {
        let dir = try TemporaryDirectory(prefix: "units")
        let launcher = try Self.launcher(dir)
        let probe = """
            import errno, mmap, os, socket
            def attempt(name, f):
                try:
                    f(); print(name, "allowed")
                except OSError as e:
                    print(name, errno.errorcode[e.errno])
            attempt("setpriority", lambda: os.setpriority(os.PRIO_PROCESS, 0, 0))
            attempt("wx", lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC))
            attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
            attempt("inet", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
            attempt("unix", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close())
            """
        let r = try Subprocess.run(launcher[0], Array(launcher.dropFirst()) + ["/usr/bin/python3", "-c", probe])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = Set(r.stdout.split(separator: "\n").map(String.init))
        #expect(lines == ["setpriority EPERM", "wx EPERM", "netlink EAFNOSUPPORT", "inet allowed", "unix allowed"], "\(r.stdout)")
    }

    @Test("the daemon serves an OAuth login, refreshes, backups, rotation, lock and unlock under the unit's filter",
          .enabled(if: SystemdUnitTests.seccompAvailable, "needs x86-64 kernel headers (linux-libc-dev) and /usr/bin/python3"))
    func daemonUnderFilter() async throws {
        let dir = try TemporaryDirectory(prefix: "units")
        let launcher = try Self.launcher(dir)
        try await OAuthBed.with(launcher: launcher) { bed in
            let pid = try #require(bed.daemon.process?.pid)
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            #expect(status.contains("Seccomp:\t2") && status.contains("NoNewPrivs:\t1"), "the daemon is not filtered")
            #expect(try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8).hasPrefix("credbrokerd"))
            try bed.setupGoogleDesktop()
            try await bed.apiLogin("google")
            let scope = "https://www.googleapis.com/auth/calendar.readonly"
            // The grant holds two scopes; a token narrowed to one comes from a refresh at the
            // provider, over TCP through libcurl, under the filter.
            let first = try bed.token("google", scopes: [scope])
            #expect(first.status == 200, "\(first.text)")
            #expect(try await bed.tokenRequests(client: OAuthBed.desktopClient, grantType: "refresh_token") >= 1)
            #expect(try await bed.api("/google/calendar/v3/users/me/calendarList", token: try #require(bed.accessToken(first))) == 200)
            let backups = bed.daemon.dir.file("state/backups")
            try FileManager.default.createDirectory(atPath: backups, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            #expect(try bed.cli(["vault", "backup", "--dir", backups, "--keep", "1"]).status == 0)
            #expect(try bed.cli(["vault", "rotate"]).status == 0)
            #expect(try bed.cli(["vault", "lock"]).status == 0)
            #expect(try bed.cli(["vault", "unlock", "--passphrase-file", bed.daemon.dir.file("pass")]).status == 0)
            bed.daemon.process?.signal(SIGHUP)
            #expect(try bed.token("google", scopes: [scope]).status == 200)
            #expect(bed.daemon.stop() == 0, "\(bed.daemon.stderr)")
        }
    }
}
