/// An error from SQLite, with its result code and message.
struct SQLiteError: Error, CustomStringConvertible {
    var code: Int32
    var message: String
    var description: String { "\(message) (sqlite code \(code))" }
}
