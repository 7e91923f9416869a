import BrokerCLI
import Foundation
import Testing

@Suite("vault backup --dir: names and retention")
struct BackupDirectoryTests {
    @Test("names are UTC with milliseconds and sort in time order")
    func names() {
        let instant = Date(timeIntervalSince1970: 1_795_000_000.25)  // 2026-11-18T11:06:40.25Z
        let name = BackupDirectory.name(for: instant)
        #expect(name == "vault-20261118T110640.250Z.db")
        #expect(BackupDirectory.isBackupName(name))
        #expect(BackupDirectory.name(for: Date(timeIntervalSince1970: 0)) == "vault-19700101T000000.000Z.db")
        // Two milliseconds later sorts later, across a second, a day and a year boundary.
        for start in [1_795_000_000.999, 1_795_046_399.999, 1_798_761_599.999] {
            let a = BackupDirectory.name(for: Date(timeIntervalSince1970: start))
            let b = BackupDirectory.name(for: Date(timeIntervalSince1970: start + 0.002))
            #expect(a < b, "\(a) !< \(b)")
        }
    }

    @Test("only names of exactly the backup form match")
    func pattern() {
        for good in ["vault-20261118T090640.250Z.db", "vault-00000000T000000.000Z.db"] {
            #expect(BackupDirectory.isBackupName(good), "\(good)")
        }
        let bad = [
            "vault.db", "vault-.db", "vault-20261118T090640Z.db", "vault-20261118T090640.25Z.db",
            "vault-20261118T090640.250Z.db.tmp", ".vault-20261118T090640.250Z.db.tmp-0011aabb",
            "xvault-20261118T090640.250Z.db", "vault-20261118T090640.250Z.db~", "vault-20261118t090640.250z.db",
            "vault-2026111 T090640.250Z.db", "vault-20261118T090640.250Z.DB", "vault-２0261118T090640.250Z.db",
            "notes.txt", "",
        ]
        for name in bad { #expect(!BackupDirectory.isBackupName(name), "\(name)") }
    }

    @Test("retention keeps exactly N, the new one included, and ignores other names")
    func retention() {
        let names = (1...6).map { "vault-2026010\($0)T000000.000Z.db" }
        let other = ["notes.txt", "vault.db", "vault-20250101T000000.000Z.db.old"]
        let newest = names.last!
        #expect(BackupDirectory.toDelete(names: names + other, newest: newest, keep: 3) == Array(names.prefix(3)))
        #expect(BackupDirectory.toDelete(names: names.shuffled(), newest: newest, keep: 1) == Array(names.prefix(5)))
        #expect(BackupDirectory.toDelete(names: names, newest: newest, keep: 6).isEmpty)
        #expect(BackupDirectory.toDelete(names: names, newest: newest, keep: 100).isEmpty)
        #expect(BackupDirectory.toDelete(names: [newest], newest: newest, keep: 1).isEmpty)
        // The clock went back: the new backup sorts first, and is kept anyway, with the
        // newest of the others.
        let early = "vault-20250101T000000.000Z.db"
        let deleted = BackupDirectory.toDelete(names: names + [early], newest: early, keep: 3)
        #expect(deleted == Array(names.prefix(4)))
        #expect(!deleted.contains(early))
    }
}
