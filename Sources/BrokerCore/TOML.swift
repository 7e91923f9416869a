/// A TOML 1.0 reader for the policy and config files, written for them: strict, bounded,
/// and in Swift, so no input can do worse than throw a `TOMLError` with its line.
///
/// It replaces TOMLKit 0.6.0, whose toml++ 3.4.0 aborts the process on malformed input
/// (assertions in `parse_key`, `parse_value` and others that are live in our builds: the
/// policy fuzzer found two in its first minute, e.g. `[[[1]]]` or `x = [}`) and frees
/// nothing it parses. Everything of TOML 1.0 is read except dates and times, which
/// neither file uses: they are refused by name. Nesting of arrays and inline tables, and
/// the parts of a dotted key, are limited to 32.
package enum TOML {
    package static let maxDepth = 32

    /// Parses a whole document.
    package static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var reader = TOMLReader(bytes: Array(text.utf8))
        return try reader.document()
    }
}

/// A TOML value; tables keep their keys sorted.
package indirect enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    package var string: String? { if case .string(let s) = self { s } else { nil } }
    package var int: Int? { if case .integer(let n) = self { Int(exactly: n) } else { nil } }
    /// A float only: integers are `int`.
    package var double: Double? { if case .float(let d) = self { d } else { nil } }
    package var bool: Bool? { if case .boolean(let b) = self { b } else { nil } }
    package var array: [TOMLValue]? { if case .array(let a) = self { a } else { nil } }
    package var table: TOMLTable? { if case .table(let t) = self { t } else { nil } }
}

package struct TOMLTable: Equatable, Sendable {
    package var values: [String: TOMLValue] = [:]
    /// The keys, sorted.
    package var keys: [String] { values.keys.sorted() }
    package subscript(key: String) -> TOMLValue? { values[key] }
}

package struct TOMLError: Error, Equatable, Sendable, CustomStringConvertible {
    /// 1-based.
    package var line: Int
    package var message: String
    package var description: String { "line \(line): \(message)" }
}

/// The document as it is built: tables are shared so headers can reopen them.
private final class TableNode {
    enum Entry {
        case value(TOMLValue)
        case table(TableNode)
        case tables([TableNode])
    }
    enum Origin { case implicit, header, dotted, inline }
    var entries: [String: Entry] = [:]
    var origin: Origin

    init(_ origin: Origin) { self.origin = origin }

    var value: TOMLTable {
        var out = TOMLTable()
        for (key, entry) in entries {
            switch entry {
            case .value(let v): out.values[key] = v
            case .table(let t): out.values[key] = .table(t.value)
            case .tables(let list): out.values[key] = .array(list.map { .table($0.value) })
            }
        }
        return out
    }
}

private struct TOMLReader {
    let bytes: [UInt8]
    var index = 0
    var line = 1
    let root = TableNode(.header)

    init(bytes: [UInt8]) { self.bytes = bytes }

    // MARK: Characters

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }
    func peek(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

    func fail(_ message: String) -> TOMLError { TOMLError(line: line, message: message) }

    static func isBareKey(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
    }

    /// Spaces and tabs.
    mutating func skipBlanks() {
        while let c = peek, c == 0x20 || c == 0x09 { index += 1 }
    }

    /// At a newline (LF or CRLF)?
    var atNewline: Bool { peek == 0x0A || (peek == 0x0D && peek(1) == 0x0A) }

    mutating func newline() throws(TOMLError) {
        if peek == 0x0D {
            guard peek(1) == 0x0A else { throw fail("a carriage return must be followed by a line feed") }
            index += 1
        }
        index += 1
        line += 1
    }

    /// A comment up to (not including) the newline.
    mutating func comment() throws(TOMLError) {
        index += 1
        while let c = peek, c != 0x0A {
            if c == 0x0D && peek(1) == 0x0A { return }
            if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("a comment holds a control character") }
            index += 1
        }
    }

    /// Blanks, comments and newlines (inside arrays).
    mutating func skipBlanksCommentsAndNewlines() throws(TOMLError) {
        while true {
            skipBlanks()
            if peek == 0x23 { try comment() }
            if atNewline { try newline(); continue }
            return
        }
    }

    // MARK: Document

    mutating func document() throws(TOMLError) -> TOMLTable {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        var current = root
        while !atEnd {
            skipBlanks()
            guard let c = peek else { break }
            if c == 0x23 {
                try comment()
            } else if atNewline {
                // An empty line.
            } else if c == 0x5B {
                current = try header()
            } else {
                try keyValue(into: current)
            }
            skipBlanks()
            if peek == 0x23 { try comment() }
            if atEnd { break }
            guard atNewline else { throw fail("expected the end of the line after a key, a value or a table header") }
            try newline()
        }
        return root.value
    }

    /// `[a.b]` or `[[a.b]]`; returns the table that following keys go into.
    mutating func header() throws(TOMLError) -> TableNode {
        index += 1
        let isArray = peek == 0x5B
        if isArray { index += 1 }
        skipBlanks()
        let path = try key()
        skipBlanks()
        guard peek == 0x5D else { throw fail("expected \"]\" to close the table header") }
        index += 1
        if isArray {
            guard peek == 0x5D else { throw fail("expected \"]]\" to close the array-of-tables header") }
            index += 1
        }
        var table = root
        for part in path.dropLast() {
            switch table.entries[part] {
            case nil:
                let t = TableNode(.implicit)
                table.entries[part] = .table(t)
                table = t
            case .table(let t):
                guard t.origin != .inline else { throw fail("\"\(Self.printable(part))\" is an inline table and cannot be extended") }
                table = t
            case .tables(let list):
                guard let last = list.last else { throw fail("\"\(Self.printable(part))\" is an empty array of tables") }
                table = last
            case .value:
                throw fail("\"\(Self.printable(part))\" is already a value, not a table")
            }
        }
        let name = path[path.count - 1]
        if isArray {
            let fresh = TableNode(.header)
            switch table.entries[name] {
            case nil: table.entries[name] = .tables([fresh])
            case .tables(let list): table.entries[name] = .tables(list + [fresh])
            default: throw fail("\"\(Self.printable(name))\" is already defined and is not an array of tables")
            }
            return fresh
        }
        switch table.entries[name] {
        case nil:
            let fresh = TableNode(.header)
            table.entries[name] = .table(fresh)
            return fresh
        case .table(let t) where t.origin == .implicit:
            t.origin = .header
            return t
        default:
            throw fail("the table \"\(Self.printable(name))\" is defined twice")
        }
    }

    /// `key = value` into `table` (dotted keys make the tables on the way).
    mutating func keyValue(into table: TableNode, depth: Int = 0) throws(TOMLError) {
        let path = try key()
        skipBlanks()
        guard peek == 0x3D else { throw fail("expected \"=\" after the key") }
        index += 1
        skipBlanks()
        let value = try value(depth: depth)
        var target = table
        for part in path.dropLast() {
            switch target.entries[part] {
            case nil:
                let t = TableNode(.dotted)
                target.entries[part] = .table(t)
                target = t
            case .table(let t):
                guard t.origin == .dotted || t.origin == .implicit else {
                    throw fail("\"\(Self.printable(part))\" is a table defined elsewhere and cannot be extended with a dotted key")
                }
                target = t
            default:
                throw fail("\"\(Self.printable(part))\" is already defined and is not a table")
            }
        }
        let name = path[path.count - 1]
        guard target.entries[name] == nil else { throw fail("the key \"\(Self.printable(name))\" is defined twice") }
        switch value {
        case .table(let node): target.entries[name] = .table(node)
        case .plain(let v): target.entries[name] = .value(v)
        }
    }

    /// A key, dotted or not: its parts.
    mutating func key() throws(TOMLError) -> [String] {
        var parts: [String] = []
        while true {
            guard let c = peek else { throw fail("expected a key") }
            if c == 0x22 || c == 0x27 {
                if peek(1) == c && peek(2) == c { throw fail("a key cannot be a multi-line string") }
                parts.append(try singleLineString())
            } else if Self.isBareKey(c) {
                let start = index
                while let d = peek, Self.isBareKey(d) { index += 1 }
                parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
            } else {
                throw fail("expected a key: letters, digits, \"_\" and \"-\", or a quoted string")
            }
            skipBlanks()
            guard peek == 0x2E else { return parts }
            guard parts.count < TOML.maxDepth else { throw fail("a dotted key has more than \(TOML.maxDepth) parts") }
            index += 1
            skipBlanks()
        }
    }

    // MARK: Values

    enum Parsed {
        case plain(TOMLValue)
        case table(TableNode)
    }

    mutating func value(depth: Int) throws(TOMLError) -> Parsed {
        guard depth < TOML.maxDepth else { throw fail("arrays and inline tables nested deeper than \(TOML.maxDepth) levels") }
        guard let c = peek else { throw fail("expected a value") }
        switch c {
        case 0x22, 0x27:
            if peek(1) == c && peek(2) == c { return .plain(.string(try multiLineString())) }
            return .plain(.string(try singleLineString()))
        case 0x5B:
            return .plain(.array(try array(depth: depth)))
        case 0x7B:
            return .table(try inlineTable(depth: depth))
        case 0x74:
            try word("true")
            return .plain(.boolean(true))
        case 0x66:
            try word("false")
            return .plain(.boolean(false))
        default:
            return .plain(try number())
        }
    }

    mutating func word(_ text: StaticString) throws(TOMLError) {
        let expected = text.withUTF8Buffer { Array($0) }
        guard index + expected.count <= bytes.count, Array(bytes[index..<(index + expected.count)]) == expected else {
            throw fail("expected a value")
        }
        index += expected.count
    }

    mutating func array(depth: Int) throws(TOMLError) -> [TOMLValue] {
        index += 1
        var items: [TOMLValue] = []
        while true {
            try skipBlanksCommentsAndNewlines()
            guard let c = peek else { throw fail("an array is not closed with \"]\"") }
            if c == 0x5D { index += 1; return items }
            switch try value(depth: depth + 1) {
            case .plain(let v): items.append(v)
            case .table(let node): items.append(.table(node.value))
            }
            try skipBlanksCommentsAndNewlines()
            guard let next = peek else { throw fail("an array is not closed with \"]\"") }
            if next == 0x2C { index += 1; continue }
            if next == 0x5D { index += 1; return items }
            throw fail("expected \",\" or \"]\" in an array")
        }
    }

    mutating func inlineTable(depth: Int) throws(TOMLError) -> TableNode {
        index += 1
        let table = TableNode(.dotted)
        skipBlanks()
        if peek == 0x7D {
            index += 1
            table.origin = .inline
            return table
        }
        while true {
            skipBlanks()
            try keyValue(into: table, depth: depth + 1)
            skipBlanks()
            guard let c = peek else { throw fail("an inline table is not closed with \"}\"") }
            if c == 0x2C { index += 1; continue }
            if c == 0x7D {
                index += 1
                table.origin = .inline
                return table
            }
            throw fail("expected \",\" or \"}\" in an inline table (it must fit on one line)")
        }
    }

    /// Integers (decimal, 0x, 0o, 0b, with single underscores between digits), floats
    /// (with fraction and/or exponent, inf, nan). Dates and times are refused.
    mutating func number() throws(TOMLError) -> TOMLValue {
        let start = index
        while let c = peek, Self.isBareKey(c) || c == 0x2B || c == 0x2E || c == 0x3A { index += 1 }
        let token = Array(bytes[start..<index])
        guard !token.isEmpty else { throw fail("expected a value") }
        let text = String(decoding: token, as: UTF8.self)
        if token.contains(0x3A) || (token.count >= 5 && token[4] == 0x2D && token[0...3].allSatisfy { $0 >= 0x30 && $0 <= 0x39 }) {
            throw fail("dates and times are not used in policy or config files")
        }
        var body = Substring(text)
        var negative = false
        if let sign = body.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            body = body.dropFirst()
        }
        if body == "inf" { return .float(negative ? -.infinity : .infinity) }
        if body == "nan" { return .float(.nan) }
        if body.count > 2, body.hasPrefix("0x") || body.hasPrefix("0o") || body.hasPrefix("0b") {
            guard body.count == text.count else { throw fail("\"\(text)\": a hexadecimal, octal or binary integer has no sign") }
            let radix = body.hasPrefix("0x") ? 16 : body.hasPrefix("0o") ? 8 : 2
            let digits = body.dropFirst(2)
            guard let plain = Self.digits(digits, radix: radix), let n = Int64(plain, radix: radix) else {
                throw fail("\"\(text)\" is not a valid integer or does not fit in 64 bits")
            }
            return .integer(n)
        }
        // Decimal: an integer part, then an optional fraction and exponent.
        var rest = body
        let integerPart = rest.prefix { $0.isASCII && ($0.isNumber || $0 == "_") }
        rest = rest.dropFirst(integerPart.count)
        guard let intDigits = Self.digits(integerPart, radix: 10) else { throw fail("\"\(text)\" is not a valid number") }
        guard intDigits == "0" || !intDigits.hasPrefix("0") else { throw fail("\"\(text)\": leading zeros are not allowed") }
        var isFloat = false
        var plain = (negative ? "-" : "") + intDigits
        if rest.first == "." {
            rest = rest.dropFirst()
            let fraction = rest.prefix { $0.isASCII && ($0.isNumber || $0 == "_") }
            rest = rest.dropFirst(fraction.count)
            guard let fractionDigits = Self.digits(fraction, radix: 10) else { throw fail("\"\(text)\": a fraction needs digits") }
            plain += "." + fractionDigits
            isFloat = true
        }
        if let e = rest.first, e == "e" || e == "E" {
            rest = rest.dropFirst()
            var exponentSign = ""
            if let s = rest.first, s == "+" || s == "-" {
                exponentSign = String(s)
                rest = rest.dropFirst()
            }
            let exponent = rest.prefix { $0.isASCII && ($0.isNumber || $0 == "_") }
            rest = rest.dropFirst(exponent.count)
            guard let exponentDigits = Self.digits(exponent, radix: 10) else { throw fail("\"\(text)\": an exponent needs digits") }
            plain += "e" + exponentSign + exponentDigits
            isFloat = true
        }
        guard rest.isEmpty else { throw fail("\"\(text)\" is not a valid value") }
        if isFloat {
            guard let d = Double(plain), d.isFinite else { throw fail("\"\(text)\" is not a finite number") }
            return .float(d)
        }
        guard let n = Int64(plain) else { throw fail("\"\(text)\" does not fit in a 64-bit integer") }
        return .integer(n)
    }

    /// Digits with single underscores between them, underscores removed; nil when empty,
    /// misplaced underscores or a digit outside `radix`.
    static func digits(_ text: Substring, radix: Int) -> String? {
        guard let first = text.first, let last = text.last, first != "_", last != "_", !text.contains("__") else { return nil }
        let plain = text.filter { $0 != "_" }
        guard plain.allSatisfy({ $0.isASCII && $0.hexDigitValue.map { $0 < radix } == true }) else { return nil }
        return plain
    }

    // MARK: Strings

    /// `"basic"` or `'literal'` on one line.
    mutating func singleLineString() throws(TOMLError) -> String {
        let delimiter = bytes[index]
        index += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek, c != 0x0A, !(c == 0x0D && peek(1) == 0x0A) else { throw fail("a string is not closed on its line") }
            if c == delimiter { index += 1; return String(decoding: out, as: UTF8.self) }
            if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("a string holds a control character; write it as an escape") }
            if c == 0x5C && delimiter == 0x22 {
                try escape(into: &out)
                continue
            }
            out.append(c)
            index += 1
        }
    }

    /// `"""basic"""` or `'''literal'''`, over several lines.
    mutating func multiLineString() throws(TOMLError) -> String {
        let delimiter = bytes[index]
        index += 3
        if atNewline { try newline() } // a newline right after the opening is trimmed
        var out: [UInt8] = []
        while true {
            guard let c = peek else { throw fail("a multi-line string is not closed") }
            if c == delimiter && peek(1) == delimiter && peek(2) == delimiter {
                var run = 3
                while peek(run) == delimiter { run += 1 }
                guard run <= 5 else { throw fail("too many quotes at the end of a multi-line string") }
                out += Array(repeating: delimiter, count: run - 3)
                index += run
                return String(decoding: out, as: UTF8.self)
            }
            if atNewline {
                if c == 0x0D { out.append(0x0D) }
                out.append(0x0A)
                try newline()
                continue
            }
            if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("a string holds a control character; write it as an escape") }
            if c == 0x5C && delimiter == 0x22 {
                // A backslash at the end of a line trims the newline and the blanks after it.
                var look = index + 1
                while look < bytes.count && (bytes[look] == 0x20 || bytes[look] == 0x09) { look += 1 }
                if look < bytes.count && (bytes[look] == 0x0A || (bytes[look] == 0x0D && look + 1 < bytes.count && bytes[look + 1] == 0x0A)) {
                    index = look
                    while true {
                        skipBlanks()
                        guard atNewline else { break }
                        try newline()
                    }
                    continue
                }
                try escape(into: &out)
                continue
            }
            out.append(c)
            index += 1
        }
    }

    /// The escape at `index` (a backslash) of a basic string.
    mutating func escape(into out: inout [UInt8]) throws(TOMLError) {
        index += 1
        guard let e = peek else { throw fail("a string ends in the middle of an escape") }
        index += 1
        switch e {
        case 0x62: out.append(0x08)
        case 0x74: out.append(0x09)
        case 0x6E: out.append(0x0A)
        case 0x66: out.append(0x0C)
        case 0x72: out.append(0x0D)
        case 0x22: out.append(0x22)
        case 0x5C: out.append(0x5C)
        case 0x75, 0x55:
            let count = e == 0x75 ? 4 : 8
            guard index + count <= bytes.count,
                  let value = UInt32(String(decoding: bytes[index..<(index + count)], as: UTF8.self), radix: 16),
                  bytes[index..<(index + count)].allSatisfy({ UInt8(ascii: "0")...UInt8(ascii: "9") ~= $0 || UInt8(ascii: "a")...UInt8(ascii: "f") ~= $0 || UInt8(ascii: "A")...UInt8(ascii: "F") ~= $0 }),
                  let scalar = Unicode.Scalar(value) else {
                throw fail("\\u and \\U take 4 and 8 hexadecimal digits of a Unicode scalar value")
            }
            index += count
            out += Array(String(Character(scalar)).utf8)
        default:
            throw fail("unknown escape \"\\\(Self.printable(String(decoding: [e], as: UTF8.self)))\" in a string")
        }
    }

    /// For messages: printable ASCII, 40 characters.
    static func printable(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }.prefix(40).map(Character.init))
    }
}
