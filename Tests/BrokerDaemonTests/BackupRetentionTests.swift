import BrokerTestBed
import BrokerSystem
import BrokerTesting
import BrokerWire
import Foundation
import Testing

@Suite("vault backup --dir --keep against the daemon", .serialized)
struct BackupRetentionTests {
    /// Names of the backup form, vault-YYYYMMDDTHHMMSS.mmmZ.db (written out again here: the
    /// test must not trust the code it checks).
    static func backups(in directory: String) throws -> [String] {
        let form = /vault-[0-9]{8}T[0-9]{6}\.[0-9]{3}Z\.db/
        return try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.wholeMatch(of: form) != nil }.sorted()
    }

    @Test("retention keeps exactly N backups, never deletes anything else, and a kept backup restores")
    func retention() throws {
        let d = try TestDaemon()
        try d.provision()
        let dir = d.dir.file("state/backups")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])

        // Things that are not this command's backups, some of them close look-alikes.
        let outside = d.dir.file("outside.db")
        try d.dir.write("outside.db", "not in the backup directory")
        let decoys = ["notes.txt", "vault.db", "vault-20000101T000000Z.db", "vault-20000101T000000.000Z.db.old",
                      "old-vault-20000101T000000.000Z.db", ".vault-20000101T000000.000Z.db.tmp-00aa"]
        for name in decoys { try d.dir.write("state/backups/" + name, "decoy " + name) }
        // A directory and a symbolic link that carry a backup's name are not backups.
        try FileManager.default.createDirectory(atPath: dir + "/vault-20000101T000000.001Z.db", withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: dir + "/vault-20000101T000000.002Z.db", withDestinationPath: outside)
        // A file of the backup form is this command's to manage, even one it did not write.
        try d.dir.write("state/backups/vault-20000101T000000.003Z.db", "an old backup")

        var written: [String] = []
        for _ in 0..<5 {
            let r = try d.cli(["vault", "backup", "--dir", dir, "--keep", "3"])
            #expect(r.status == 0, "\(r.stderr)")
            let path = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(path.hasPrefix(dir + "/vault-"), "\(r.stdout)")
            #expect(mode(path) == 0o600)
            written.append((path as NSString).lastPathComponent)
        }
        #expect(Set(written).count == 5)
        let regular = try Self.backups(in: dir).filter { ((try? FileSecurity.status(ofPath: dir + "/" + $0)) ?? nil)?.isRegularFile == true }
        #expect(regular == Array(written.suffix(3)), "kept \(regular), wrote \(written)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/vault-20000101T000000.003Z.db"))
        for name in decoys {
            #expect((try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)) == "decoy " + name, "\(name) was touched")
        }
        #expect(((try? FileSecurity.status(ofPath: dir + "/vault-20000101T000000.001Z.db")) ?? nil)?.isDirectory == true)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/vault-20000101T000000.002Z.db")) == outside)
        #expect((try? String(contentsOfFile: outside, encoding: .utf8)) == "not in the backup directory")

        // Without --keep nothing is deleted.
        #expect(try d.cli(["vault", "backup", "--dir", dir]).status == 0)
        #expect(try Self.backups(in: dir).filter { !$0.hasPrefix("vault-20000101") }.count == 4)

        // The restore drill of docs/operations.md: the newest kept backup replaces the vault,
        // which then unlocks with the same passphrase and serves the same grant.
        let newest = dir + "/" + written.last!
        #expect(try d.request("DELETE", "/v1/admin/profiles/dev/grants/google/me%40example.com").status < 300)
        #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 404)
        let restored = try d.cli(["vault", "restore", newest, "--force", "--passphrase-file", d.dir.file("pass")])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try d.cli(["vault", "unlock", "--passphrase-file", d.dir.file("pass")]).status == 0)
        #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 200)
        d.stop()
    }

    @Test("the daemon writes a --dir backup even while the vault is locked")
    func lockedVault() throws {
        let d = try TestDaemon()
        try d.provision()
        let dir = d.dir.file("state/backups")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        #expect(try d.cli(["vault", "lock"]).status == 0)
        let r = try d.cli(["vault", "backup", "--dir", dir, "--keep", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Self.backups(in: dir).count == 1)
        d.stop()
    }

    @Test("usage errors and a missing directory are refused before anything is written")
    func refusals() throws {
        let d = try TestDaemon()
        try d.provision()
        let dir = d.dir.file("state/backups")
        for arguments in [["--keep", "3"], [dir + "/x.db", "--dir", dir], ["--dir", dir, "--keep", "0"], ["--dir", dir, "--force"], []] {
            let r = try d.cli(["vault", "backup"] + arguments)
            #expect(r.status == 64, "\(arguments): \(r.status) \(r.stderr)")
        }
        let missing = try d.cli(["vault", "backup", "--dir", dir, "--keep", "3"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("the backup directory \"\(dir)\" does not exist"), "\(missing.stderr)")
        #expect(missing.stderr.contains("mkdir -m 0700"))
        #expect(!FileManager.default.fileExists(atPath: dir))
        d.stop()
    }
}
