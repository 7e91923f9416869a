import BrokerCore
public import FoundationEssentials

/// A foreign SQLite file read for `credbroker import`: gcloud's `credentials.db`. It is read
/// through the vault's SQLite layer from bytes the caller has already read (see
/// `Database.init(deserializing:label:)`): read-only, in memory, never the file itself.
public enum ForeignDatabase {
    /// One row of gcloud's `credentials` table: the account and its credential JSON.
    public struct Credential: Sendable {
        public var account: String
        public var json: [UInt8]
    }

    /// The SQLite file header ("SQLite format 3" and a NUL).
    public static let header: [UInt8] = Array("SQLite format 3".utf8) + [0]

    public static func isSQLite(_ bytes: [UInt8]) -> Bool { bytes.starts(with: header) }

    /// The rows of gcloud's `credentials (account_id TEXT PRIMARY KEY, value BLOB)` table.
    /// Errors name the problem, never a value.
    public static func gcloudCredentials(_ bytes: [UInt8], source: String) throws(VaultError) -> [Credential] {
        guard isSQLite(bytes) else { throw VaultError(.invalidArgument, "\(source) is not an SQLite database") }
        do {
            let db = try Database(deserializing: bytes, label: source)
            defer { db.close() }
            let tables = try db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'credentials'")
            guard !tables.isEmpty else {
                throw VaultError(.invalidArgument, "\(source) is an SQLite database without a \"credentials\" table (not gcloud's credentials.db)")
            }
            let rows = try db.query("SELECT account_id, value FROM credentials ORDER BY account_id")
            return try rows.map { row throws(VaultError) -> Credential in
                guard row.count == 2, let account = row[0].text, !account.isEmpty else {
                    throw VaultError(.invalidArgument, "\(source): a row of \"credentials\" has no account_id")
                }
                switch row[1] {
                case .text(let t): return Credential(account: account, json: Array(t.utf8))
                case .blob(let b): return Credential(account: account, json: b)
                default: throw VaultError(.invalidArgument, "\(source): the credential of \"\(printableText(account, limit: 80))\" is not text")
                }
            }
        } catch let error as VaultError {
            throw error
        } catch let error as SQLiteError {
            // SQLite's message can quote the file (a malformed schema's names).
            throw VaultError(.invalidArgument, "\(source) cannot be read as an SQLite database (\(printableText(error.message, limit: 160)))")
        } catch {
            throw VaultError(.invalidArgument, "\(source) cannot be read as an SQLite database")
        }
    }
}
