import BrokerTestBed
import BrokerSystem
import BrokerTesting
import BrokerWire
import Foundation
import Testing

@Suite("key slots, unattended unlock, audit rotation and a full disk", .serialized)
struct OperationsTests {
    @Test("a key-file slot added through the API unlocks the daemon at start with --unlock-key-file")
    func keyFileUnlock() throws {
        let d = try TestDaemon()
        try d.provision()
        let keyFile = d.dir.file("state/unlock.key")
        let added = try d.request("POST", "/v1/admin/add-slot", json: "{\"kind\":\"keyfile\",\"path\":\"\(keyFile)\"}")
        #expect(added.status == 200, "\(added.text)")
        #expect(mode(keyFile) == 0o600)
        let again = try d.request("POST", "/v1/admin/add-slot", json: "{\"kind\":\"keyfile\",\"path\":\"\(keyFile)\"}")
        #expect(again.status != 200)
        let slots = try d.request("GET", "/v1/admin/slots")
        #expect(slots.text.contains("\"kind\":\"keyfile\""))
        #expect(slots.text.contains("\"kind\":\"passphrase\""))
        #expect(d.stop() == 0)

        try d.start(extraArguments: ["--unlock-key-file", keyFile])
        #expect(try d.request("GET", "/v1/health").text.contains("\"ok\""))
        #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 200)
        #expect(d.stop() == 0)

        // A key file others can read is refused, with the fix.
        chmod(keyFile, 0o644)
        try d.start(extraArguments: ["--unlock-key-file", keyFile], waitForSocket: false)
        #expect(d.process!.waitForExit(timeout: 20) == 1)
        #expect(d.stderr.contains("chmod 600"))
    }

    @Test("the CLI lists, adds and removes slots; a key file it adds unlocks the daemon")
    func slotCLI() throws {
        let d = try TestDaemon()
        try d.provision()
        let keyFile = d.dir.file("state/cli.key")
        let added = try d.cli(["vault", "add-slot", "--key-file", keyFile])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stderr.contains("added keyfile key slot"))
        // The sealing command is printed with this key file's path, never run, and nothing
        // of the key itself is shown.
        #expect(added.stdout.contains("systemd-creds encrypt --name=vault-key \(keyFile) /etc/credstore.encrypted/credbroker-vault-key"),
                "\(added.stdout)")
        #expect(added.stdout.contains("shred -u \(keyFile)"))
        let key = try Data(contentsOf: URL(fileURLWithPath: keyFile))
        #expect(key.count == 32)
        #expect(!added.stdout.contains(key.base64EncodedString()) && !added.stdout.contains(key.map { String(format: "%02x", $0) }.joined()))
        let recovery = try d.cli(["vault", "add-slot", "--recovery"])
        #expect(recovery.status == 0)
        #expect(recovery.stdout.split(separator: "-").count == 13)
        let both = try d.cli(["vault", "add-slot", "--recovery", "--key-file", keyFile])
        #expect(both.status == 64)
        let listed = try d.cli(["vault", "slots"])
        let lines = listed.stdout.split(separator: "\n")
        // init made a passphrase and a recovery slot; we added a key file and a recovery key.
        #expect(lines.count == 4, "\(listed.stdout)")
        let recoveryID = String(lines.last { $0.contains("recovery") }?.split(separator: " ").first ?? "")
        #expect(try d.cli(["vault", "remove-slot", recoveryID]).status == 0)
        #expect(try d.cli(["vault", "slots"]).stdout.split(separator: "\n").count == 3)
        #expect(try d.cli(["vault", "lock"]).status == 0)
        let unlocked = try d.cli(["vault", "unlock", "--key-file", keyFile])
        #expect(unlocked.status == 0, "\(unlocked.stderr)")
        #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 200)
        d.stop()
    }

    @Test("an overlong scope is refused and its text never reaches the audit log")
    func overlongScope() throws {
        let d = try TestDaemon()
        try d.provision()
        let long = String(repeating: "z", count: 600)
        let r = try d.request("POST", "/v1/token", json: "{\"profile\":\"dev\",\"provider\":\"google\",\"scopes\":[\"\(long)\"]}")
        #expect(r.status == 400)
        #expect(r.text.contains("longer than 512 bytes"))
        #expect(d.stop() == 0)
        let audit = (try? String(contentsOfFile: d.auditLog, encoding: .utf8)) ?? ""
        #expect(audit.contains("longer than 512 bytes"))
        #expect(!audit.contains(long))
    }

    @Test("a recovery slot can be added and removed; the last slot cannot")
    func slots() throws {
        let d = try TestDaemon()
        try d.provision()
        let added = try d.request("POST", "/v1/admin/add-slot", json: #"{"kind":"recovery"}"#)
        #expect(added.status == 200)
        let response = try JSONDecoder().decode(AddSlotResponse.self, from: Data(added.body))
        #expect(response.recoveryKey?.split(separator: "-").count == 13)
        let listed = try JSONDecoder().decode(SlotsResponse.self, from: Data(try d.request("GET", "/v1/admin/slots").body))
        #expect(listed.slots.count == 3)
        for slot in listed.slots.dropLast() {
            #expect(try d.request("POST", "/v1/admin/remove-slot", json: "{\"id\":\(slot.id)}").status == 200)
        }
        let last = try d.request("POST", "/v1/admin/remove-slot", json: "{\"id\":\(listed.slots.last!.id)}")
        #expect(last.status == 400)
        #expect(last.text.contains("only key slot"))
        d.stop()
    }

    @Test("the audit log rotates at its size cap, keeps its count, and each file verifies")
    func rotation() throws {
        let d = try TestDaemon(config: "[audit]\nmax_bytes = 4096\nkeep = 2\n")
        try d.provision()
        for _ in 0..<60 { _ = try d.request("POST", "/v1/token", json: TestDaemon.tokenBody) }
        let fm = FileManager.default
        func size(_ file: String) -> Int { ((try? fm.attributesOfItem(atPath: file))?[.size] as? Int) ?? 0 }
        // The live file is empty for an instant after each rotation, until its epoch line lands,
        // and the writer may still be catching up (lines are written in batches after the
        // answers): wait until all three files have settled.
        var last: [Int] = []
        #expect(BackgroundProcess.waitUntil {
            let now = [d.auditLog, d.auditLog + ".1", d.auditLog + ".2"].map(size)
            defer { last = now; usleep(200_000) }
            return fm.fileExists(atPath: d.auditLog + ".2") && now[0] > 0 && now == last
        })
        #expect(!fm.fileExists(atPath: d.auditLog + ".3"))
        for file in [d.auditLog, d.auditLog + ".1", d.auditLog + ".2"] {
            let bytes = size(file)
            #expect(bytes > 0 && bytes < 4096 + 2048, "\(file): \(bytes) bytes")
            let r = try d.cli(["audit", "verify", file])
            #expect(r.status == 0, "\(file): \(r.stdout) \(r.stderr)")
        }
        d.stop()
    }

    @Test("a full disk under the audit log: refuse mode refuses tokens and reports degraded, then recovers",
          .enabled(if: getuid() == 0, "needs root to mount a small tmpfs for the audit log"))
    func diskFull() throws {
        for mode in ["refuse", "serve"] {
            let d = try TestDaemon(config: "[audit]\non_failure = \"\(mode)\"\n", start: false)
            let logDir = d.dir.file("log")
            try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            let mounted = try Subprocess.run("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", logDir])
            guard mounted.status == 0 else {
                Issue.record("skipped: cannot mount a tmpfs here: \(mounted.stderr)")
                return
            }
            defer { _ = try? Subprocess.run("umount", ["-l", logDir]) }
            try d.start()
            try d.provision()
            #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 200)
            // Fill the filesystem.
            _ = try Subprocess.run("dd", ["if=/dev/zero", "of=\(logDir)/filler", "bs=4k", "count=64"])
            var statuses: [Int] = []
            let degraded = BackgroundProcess.waitUntil(timeout: 15) {
                statuses.append((try? d.request("POST", "/v1/token", json: TestDaemon.tokenBody))?.status ?? -1)
                return (try? d.request("GET", "/v1/health"))?.text.contains("\"degraded\"") ?? false
            }
            #expect(degraded, "\(mode): health never degraded")
            let during = try d.request("POST", "/v1/token", json: TestDaemon.tokenBody)
            if mode == "refuse" {
                #expect(during.status == 503, "\(during.text)")
                #expect(during.text.contains("audit log"))
            } else {
                #expect(during.status == 200)
            }
            let status = try d.request("GET", "/v1/admin/status")
            #expect(status.text.contains("failing"))
            try FileManager.default.removeItem(atPath: logDir + "/filler")
            let recovered = BackgroundProcess.waitUntil(timeout: 15) {
                _ = try? d.request("POST", "/v1/token", json: TestDaemon.tokenBody)
                return (try? d.request("GET", "/v1/health"))?.text.contains("\"ok\"") ?? false
            }
            #expect(recovered, "\(mode): never recovered")
            #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 200)
            // Nothing was lost or cut: the log still verifies end to end.
            let verify = try d.cli(["audit", "verify", d.auditLog])
            #expect(verify.status == 0, "\(mode): \(verify.stdout) \(verify.stderr)")
            #expect(d.stop() == 0)
        }
    }
}
