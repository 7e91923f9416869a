/// A value bound to or read from a statement. Only ciphertext, identifiers and counts
/// ever pass through here: SQLite never sees a plaintext secret.
enum SQLValue: Equatable {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null

    var integer: Int64? { if case .integer(let v) = self { v } else { nil } }
    var text: String? { if case .text(let v) = self { v } else { nil } }
    var blob: [UInt8]? { if case .blob(let v) = self { v } else { nil } }
}
