package import Foundation

/// The naming and retention rules of `credbroker vault backup --dir DIR --keep N`.
///
/// A backup in a directory is named `vault-YYYYMMDDTHHMMSS.mmmZ.db` after the UTC instant
/// it was asked for, so names sort in time order. Retention looks only at names of exactly
/// that form: nothing else in the directory (the daemon's `.vault-….tmp-…` files, a copy an
/// operator renamed, notes) is ever a candidate for deletion.
package enum BackupDirectory {
    package static let prefix = "vault-"
    package static let suffix = ".db"

    /// The backup name for `date`, in UTC with milliseconds.
    package static func name(for date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let milliseconds = min(999, (c.nanosecond ?? 0) / 1_000_000)
        return prefix + pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2) + "T" + pad(c.hour, 2) + pad(c.minute, 2) + pad(c.second, 2)
            + "." + pad(milliseconds, 3) + "Z" + suffix
    }

    /// Whether `name` has exactly the form `name(for:)` makes.
    package static func isBackupName(_ name: String) -> Bool {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return false }
        let stamp = Array(name.utf8.dropFirst(prefix.utf8.count).dropLast(suffix.utf8.count))
        // YYYYMMDD T HHMMSS . mmm Z
        guard stamp.count == 20 else { return false }
        for (i, byte) in stamp.enumerated() {
            switch i {
            case 8: if byte != UInt8(ascii: "T") { return false }
            case 15: if byte != UInt8(ascii: ".") { return false }
            case 19: if byte != UInt8(ascii: "Z") { return false }
            default: if !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { return false }
            }
        }
        return true
    }

    /// The backups to delete so that `keep` remain, counting `newest` (the one just
    /// written), which is never deleted even when the clock went back and older-looking
    /// names sort after it. `names` are the backup names found in the directory (other
    /// names are ignored). Returned oldest first.
    package static func toDelete(names: [String], newest: String, keep: Int) -> [String] {
        precondition(keep >= 1)
        let others = names.filter { isBackupName($0) && $0 != newest }.sorted()
        return Array(others.dropLast(keep - 1))
    }
}
