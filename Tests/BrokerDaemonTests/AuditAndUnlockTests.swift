import BrokerCrypto
import BrokerTestBed
import BrokerSystem
import BrokerTesting
import BrokerWire
import Foundation
import Testing

@Suite("audit log and unlock backoff", .serialized)
struct AuditAndUnlockTests {
    func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func write(_ lines: [String], to path: String) throws {
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test("audit verify passes, then catches an edited, a removed and an appended line and a cut tail")
    func auditTamper() throws {
        let d = try TestDaemon()
        try d.provision()
        for _ in 0..<5 { _ = try d.request("POST", "/v1/token", json: TestDaemon.tokenBody) }
        let good = try d.cli(["audit", "verify", d.auditLog])
        #expect(good.status == 0, "\(good.stdout) \(good.stderr)")
        #expect(good.stdout.contains("verify"))

        let original = lines(d.auditLog)
        #expect(original.count >= 8)
        #expect(original.contains { $0.contains("\"token\":\"") && $0.contains("\"result\":\"ok\"") })
        #expect(!original.contains { $0.contains("ya29.test-token-canary") })
        let copy = d.dir.file("copy.log")
        let cases: [(String, [String])] = [
            ("edited", original.enumerated().map { $0.offset == 4 ? $0.element.replacingOccurrences(of: "\"result\":\"ok\"", with: "\"result\":\"denied\"") : $0.element }),
            ("removed", original.enumerated().filter { $0.offset != 3 }.map(\.element)),
            ("appended", original + [original[original.count - 1].replacingOccurrences(of: "\"seq\":", with: "\"seq\":1")]),
            ("reordered", { var l = original; l.swapAt(3, 4); return l }()),
        ]
        for (name, tampered) in cases {
            #expect(tampered != original, "\(name)")
            try write(tampered, to: copy)
            let r = try d.cli(["audit", "verify", copy])
            #expect(r.status == 1, "\(name): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("credbroker: error:"), "\(name)")
        }
        // The daemon reads only regular files of bounded size (no device, FIFO or link).
        let device = try d.cli(["audit", "verify", "/dev/zero"])
        #expect(device.status == 1)
        #expect(device.stderr.contains("not a regular file"), "\(device.stderr)")
        // The live file with its tail cut: the daemon knows where it last wrote. Each verify
        // above is audited too; those lines land first, or one appended after the cut would
        // read as a broken chain instead of a cut tail.
        #expect(BackgroundProcess.waitUntil { lines(d.auditLog).filter { $0.contains("\"route\":\"/v1/admin/audit/verify\"") }.count >= 6 },
                "\(lines(d.auditLog).suffix(3))")
        try write(Array(original.dropLast(2)), to: d.auditLog)
        let cut = try d.cli(["audit", "verify", d.auditLog])
        #expect(cut.status == 1)
        #expect(cut.stderr.contains("tail was removed") || cut.stderr.contains("not where the daemon last wrote"), "\(cut.stderr)")
        d.stop()
    }

    /// A line of an unsealed epoch as anyone can write one: the body, then the SHA-256 of
    /// the previous line's hash and the body.
    static func chained(_ body: String, after previous: inout [UInt8]) -> String {
        previous = Digest.sha256(previous + Array(body.utf8))
        return body + ",\"mac\":\"\(Digest.hex(previous))\"}"
    }

    @Test("lines written before init count once the sealed epoch after them vouches for them; edited or forged, they fail")
    func unsealedPrefix() throws {
        let d = try TestDaemon()
        try d.provision()
        _ = try d.request("POST", "/v1/token", json: TestDaemon.tokenBody)
        #expect(d.stop() == 0)
        let original = lines(d.auditLog)
        // The daemon started without a vault: its first epoch is unsealed, and init began a
        // sealed one whose `prev` names the unsealed epoch's last line.
        let sealedAt = try #require(original.firstIndex { $0.contains("\"type\":\"epoch\"") && !$0.contains("\"sealed_key\":null") })
        #expect(original[0].contains("\"type\":\"epoch\"") && original[0].contains("\"sealed_key\":null"), "\(original[0])")
        #expect(sealedAt >= 1)

        // Started again (locked) and unlocked to verify: copies, so its new lines do not matter.
        try d.start()
        #expect(try d.unlock().status == 200)
        let copy = d.dir.file("copy.log")
        try write(original, to: copy)
        let good = try d.cli(["audit", "verify", copy])
        #expect(good.status == 0, "\(good.stdout) \(good.stderr)")

        // An unsealed line edited: the hash chain breaks, and the sealed epoch's `prev` no
        // longer names the line before it.
        var edited = original
        edited[sealedAt - 1] = edited[sealedAt - 1].replacingOccurrences(of: "\"seq\":", with: "\"x\":1,\"seq\":")
        try write(edited, to: copy)
        let broken = try d.cli(["audit", "verify", copy])
        #expect(broken.status == 1, "\(broken.stdout) \(broken.stderr)")
        #expect(broken.stderr.contains("line \(sealedAt): the hash chain does not match"), "\(broken.stderr)")

        // Only the unsealed lines: nothing vouches for them.
        try write(Array(original[..<sealedAt]), to: copy)
        let alone = try d.cli(["audit", "verify", copy])
        #expect(alone.status == 1, "\(alone.stdout) \(alone.stderr)")
        #expect(alone.stderr.contains("cannot be authenticated"), "\(alone.stderr)")

        // A whole file forged as an unsealed epoch with a correct hash chain.
        var previous = [UInt8](repeating: 0, count: 32)
        let forged = [
            Self.chained(#"{"seq":0,"time":"2026-01-01T00:00:00Z","epoch":"00112233445566ff","type":"epoch","sealed_key":null,"prev":null,"detail":"start""#, after: &previous),
            Self.chained(#"{"seq":1,"time":"2026-01-01T00:00:01Z","epoch":"00112233445566ff","type":"event","route":"/v1/token","result":"ok""#, after: &previous),
        ]
        try write(forged, to: copy)
        let fake = try d.cli(["audit", "verify", copy])
        #expect(fake.status == 1, "\(fake.stdout) \(fake.stderr)")
        #expect(fake.stderr.contains("lines 1-2 (epoch 00112233445566ff) were written before the vault existed"), "\(fake.stderr)")
        #expect(!fake.stderr.contains("hash chain"), "the forged chain itself is sound: \(fake.stderr)")
        d.stop()
    }

    @Test("after three failed unlocks the delay grows, and every failure is audited")
    func unlockBackoff() throws {
        // The waits are 1 s and 2 s of wall time, and a loaded machine can answer later than
        // that: a round whose answers came too late to prove anything is run again on a fresh
        // daemon, and every round that could check, checks everything.
        for _ in 1...3 {
            if try unlockBackoffRound() { return }
        }
        Issue.record("three rounds answered outside their 1 s and 2 s windows: the machine is too loaded to check the backoff")
    }

    /// One round on a fresh daemon. Returns false, having asserted only what holds at any
    /// speed, when an answer that must fall inside a backoff window came back after it.
    func unlockBackoffRound() throws -> Bool {
        let d = try TestDaemon()
        try d.provision()
        #expect(try d.cli(["vault", "lock"]).status == 0)
        let wrong = Data("wrong passphrase!".utf8).base64EncodedString()
        let body = "{\"method\":\"passphrase\",\"secret\":\"\(wrong)\"}"
        let clock = ContinuousClock()
        // Three free failures; none of them waits.
        for _ in 0..<2 { #expect(try d.request("POST", "/v1/admin/unlock", json: body).status == 403) }
        // The third failure starts a 1 s wait no earlier than this request was sent, so an
        // answer received less than 1 s after `third` was refused by the wait.
        let third = clock.now
        #expect(try d.request("POST", "/v1/admin/unlock", json: body).status == 403)
        let fourth = try d.request("POST", "/v1/admin/unlock", json: body)
        let blocked = try d.unlock()
        guard clock.now - third < .seconds(1) else {
            d.stop()
            return false
        }
        #expect(fourth.status == 429)
        #expect(blocked.status == 429)
        #expect(blocked.header("Retry-After") != nil)
        // The wait ended at most 1 s after the third answer; then the fourth failure
        // starts a 2 s wait.
        usleep(1_200_000)
        let fifth = clock.now
        #expect(try d.request("POST", "/v1/admin/unlock", json: body).status == 403)
        let wait = try d.unlock()
        guard clock.now - fifth < .seconds(2) else {
            d.stop()
            return false
        }
        #expect(wait.status == 429)
        usleep(2_200_000)
        #expect(try d.unlock().status == 200)
        #expect(d.stop() == 0)
        let log = lines(d.auditLog).filter { $0.contains("\"route\":\"/v1/admin/unlock\"") }
        let failures = log.filter { $0.contains("failed unlock") }
        #expect(failures.count == 4)
        #expect(log.filter { $0.contains("\"result\":\"too_many\"") }.count == 3)
        #expect(!log.contains { $0.contains("wrong passphrase!") })
        return true
    }

    @Test("canary secrets appear in no file but the vault (encrypted) and in no output")
    func canaries() throws {
        let d = try TestDaemon()
        try d.provision(token: "ya29.TOKENCANARY123")
        _ = try d.request("POST", "/v1/token", json: TestDaemon.tokenBody)
        _ = try d.cli(["vault", "lock"])
        let bad = Data("PASSCANARY-wrong".utf8).base64EncodedString()
        _ = try d.request("POST", "/v1/admin/unlock", json: "{\"method\":\"passphrase\",\"secret\":\"\(bad)\"}")
        #expect(try d.unlock().status == 200)
        _ = try d.cli(["vault", "rotate"])
        #expect(d.stop() == 0)
        let canaries = ["client-secret-canary", "refresh-token-canary", "PASSCANARY", TestDaemon.passphrase, "ya29.TOKENCANARY123"]
        for file in d.dir.allFiles() where !file.hasSuffix("/pass") {
            let data = (try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data()
            for canary in canaries {
                let found = data.range(of: Data(canary.utf8)) != nil
                #expect(!found, "\(canary) found in \(file)")
            }
        }
    }
}
