internal import CSQLite
import BrokerCrypto

/// A thin wrapper over one sqlite3 connection: the vault's only contact with SQLite.
/// Statements use bound parameters only; SQL text is never built from values.
///
/// Not Sendable: a connection belongs to one `Vault`, which belongs to one owner.
final class Database {
    private var handle: OpaquePointer?
    private var cache: [String: OpaquePointer] = unsafe [:]
    let path: String

    init(path: String, readOnly: Bool = false) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE)
            | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_EXRESCODE
        let rc = unsafe sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db = unsafe db else {
            let message = unsafe db.map { unsafe String(cString: sqlite3_errmsg($0)) } ?? "cannot open database"
            unsafe sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message)
        }
        unsafe handle = db
        unsafe sqlite3_busy_timeout(db, 5000)
    }

    /// The buffer a deserialized database reads from; wiped and freed after close.
    private var image: UnsafeMutableRawBufferPointer?

    /// Opens a copy of `bytes` as a read-only in-memory database (sqlite3_deserialize): a
    /// foreign file (gcloud's credentials.db, for `credbroker import`) read from the bytes
    /// the caller already opened, checked and capped, so SQLite never opens the file, never
    /// writes a journal beside it, and cannot be pointed at another file between the check
    /// and the open. Such a database may hold plaintext secrets: it is not the vault's.
    init(deserializing bytes: [UInt8], label: String) throws(SQLiteError) {
        path = label
        var db: OpaquePointer?
        let rc = unsafe sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_EXRESCODE, nil)
        guard rc == SQLITE_OK, let db = unsafe db else {
            unsafe sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: "cannot open an in-memory database")
        }
        unsafe handle = db
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        unsafe bytes.withUnsafeBytes { unsafe buffer.copyMemory(from: $0) }
        unsafe image = buffer
        let size = Int64(bytes.count)
        let drc = unsafe sqlite3_deserialize(db, "main", buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), size, size,
                                             UInt32(SQLITE_DESERIALIZE_READONLY))
        guard drc == SQLITE_OK else {
            let failure = error(drc)
            close()
            throw failure
        }
    }

    deinit { close() }

    /// Finalizes every statement and closes the connection. The last connection to a WAL
    /// database checkpoints and removes the -wal and -shm files.
    func close() {
        guard let db = unsafe handle else { return }
        for statement in unsafe cache.values { unsafe sqlite3_finalize(statement) }
        unsafe cache = [:]
        unsafe sqlite3_close_v2(db)
        unsafe handle = nil
        if let buffer = unsafe image {
            unsafe wipe(buffer)
            unsafe buffer.deallocate()
            unsafe image = nil
        }
    }

    private var db: OpaquePointer {
        guard let db = unsafe handle else { preconditionFailure("database \"\(path)\" used after close") }
        return unsafe db
    }

    private func error(_ rc: Int32) -> SQLiteError {
        SQLiteError(code: rc, message: unsafe String(cString: sqlite3_errmsg(db)))
    }

    /// Runs fixed SQL text (schema, pragmas, transactions) with no parameters.
    func execute(_ sql: String) throws(SQLiteError) {
        let rc = unsafe sqlite3_exec(db, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc) }
    }

    /// Runs `sql` with `bindings` and returns every row.
    @discardableResult
    func query(_ sql: String, _ bindings: [SQLValue] = []) throws(SQLiteError) -> [[SQLValue]] {
        let statement = unsafe try prepared(sql)
        defer {
            unsafe sqlite3_reset(statement)
            unsafe sqlite3_clear_bindings(statement)
        }
        for (offset, value) in bindings.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .integer(let v): rc = unsafe sqlite3_bind_int64(statement, index, v)
            case .null: rc = unsafe sqlite3_bind_null(statement, index)
            case .text(let v):
                var utf8 = Array(v.utf8)
                let length = Int32(utf8.count)
                utf8.append(0)  // never an empty buffer: a NULL pointer would bind SQL NULL
                rc = unsafe utf8.withUnsafeBufferPointer { buffer in
                    unsafe buffer.withMemoryRebound(to: CChar.self) { chars in
                        unsafe csqlite_bind_text(statement, index, chars.baseAddress!, length)
                    }
                }
            case .blob(let v):
                rc = unsafe v.withUnsafeBytes { buffer in
                    // A zero-length blob needs a non-null pointer to bind as a blob, not NULL.
                    unsafe csqlite_bind_blob(statement, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(buffer.count))
                }
            }
            guard rc == SQLITE_OK else { throw error(rc) }
        }
        var rows: [[SQLValue]] = []
        while true {
            let rc = unsafe sqlite3_step(statement)
            if rc == SQLITE_DONE { return rows }
            guard rc == SQLITE_ROW else { throw error(rc) }
            let columns = unsafe sqlite3_column_count(statement)
            var row: [SQLValue] = []
            row.reserveCapacity(Int(columns))
            for column in 0..<columns {
                switch unsafe sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(.integer(unsafe sqlite3_column_int64(statement, column)))
                case SQLITE_TEXT:
                    let text = unsafe sqlite3_column_text(statement, column)
                    row.append(.text(unsafe text.map { unsafe String(cString: $0) } ?? ""))
                case SQLITE_BLOB:
                    let count = Int(unsafe sqlite3_column_bytes(statement, column))
                    if let bytes = unsafe sqlite3_column_blob(statement, column), count > 0 {
                        row.append(.blob(unsafe Array(UnsafeRawBufferPointer(start: bytes, count: count))))
                    } else {
                        row.append(.blob([]))
                    }
                case SQLITE_NULL: row.append(.null)
                default:
                    // A REAL where the schema says otherwise: the STRICT tables forbid it,
                    // so the file was edited. Report it as an unreadable value.
                    row.append(.null)
                }
            }
            rows.append(row)
        }
    }

    private func prepared(_ sql: String) throws(SQLiteError) -> OpaquePointer {
        if let statement = unsafe cache[sql] { return unsafe statement }
        var statement: OpaquePointer?
        let rc = unsafe sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement = unsafe statement else { throw error(rc) }
        unsafe cache[sql] = statement
        return unsafe statement
    }

    /// The first column of the first row, as text (pragmas).
    func scalarText(_ sql: String) throws(SQLiteError) -> String? {
        let rows = try query(sql)
        guard let first = rows.first?.first else { return nil }
        switch first {
        case .text(let t): return t
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// Runs `body` inside BEGIN IMMEDIATE ... COMMIT; any error rolls back.
    func transaction<R, E: Error>(_ body: () throws(E) -> R) throws(TransactionError<E>) -> R {
        do { try execute("BEGIN IMMEDIATE") } catch { throw .database(error) }
        let result: R
        do {
            result = try body()
        } catch {
            try? execute("ROLLBACK")
            throw .body(error)
        }
        do { try execute("COMMIT") } catch {
            try? execute("ROLLBACK")
            throw .database(error)
        }
        return result
    }

    /// Copies the WAL into the database and truncates the WAL to zero bytes, so old page
    /// images (old ciphertexts, old key slots) leave the -wal file.
    func checkpointTruncate() throws(SQLiteError) {
        var logFrames: Int32 = 0
        var checkpointed: Int32 = 0
        let rc = unsafe sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_TRUNCATE, &logFrames, &checkpointed)
        guard rc == SQLITE_OK else { throw error(rc) }
    }

    var changes: Int { Int(unsafe sqlite3_changes(db)) }
}

enum TransactionError<E: Error>: Error {
    case database(SQLiteError)
    case body(E)
}
