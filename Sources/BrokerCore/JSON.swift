/// A small, strict JSON (RFC 8259) reader and writer for the token path, where Foundation's
/// JSONDecoder and JSONEncoder cost more than everything else a request does, and for
/// provider token responses, which must be read strictly and within bounds. Input must be
/// UTF-8; nesting is limited to 32 levels; numbers keep their text until asked for.
///
/// It lives in BrokerCore (pure, no I/O) so that both BrokerWire (the socket API) and
/// BrokerOAuth (provider responses) use the same reader without depending on each other.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var object: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
    public var isNull: Bool { self == .null }

    /// An integer number (no fraction, no exponent) that fits in Int.
    public var int: Int? {
        guard case .number(let text) = self, !text.contains("."), !text.contains("e"), !text.contains("E") else { return nil }
        return Int(text)
    }

    /// Parses one JSON value that must fill `bytes` (surrounding white space aside).
    /// Later duplicate object members win unless `rejectingDuplicateKeys` is true, when a
    /// repeated member name anywhere in the document is an error (provider responses are
    /// read this way: two `access_token` members are not a token response).
    public static func parse(_ bytes: [UInt8], rejectingDuplicateKeys: Bool = false) throws(JSONError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        parser.rejectsDuplicateKeys = rejectingDuplicateKeys
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.index == bytes.count else { throw JSONError("unexpected data after the JSON value") }
        return value
    }
}

public struct JSONError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The reader behind `JSONValue.parse`, open to BrokerWire's member-by-member token-request
/// reader (`eachMember`).
package struct JSONParser {
    package let bytes: [UInt8]
    package var index = 0
    package var rejectsDuplicateKeys = false
    package static let maxDepth = 32

    package init(bytes: [UInt8]) { self.bytes = bytes }

    package mutating func skipSpace() {
        while index < bytes.count {
            let b = bytes[index]
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { index += 1 } else { return }
        }
    }

    package mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        guard depth < Self.maxDepth else { throw JSONError("JSON nested deeper than \(Self.maxDepth) levels") }
        guard index < bytes.count else { throw JSONError("not valid JSON (or not UTF-8)") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal(Self.trueBytes); return .bool(true)
        case UInt8(ascii: "f"): try literal(Self.falseBytes); return .bool(false)
        case UInt8(ascii: "n"): try literal(Self.nullBytes); return .null
        default: return .number(try number())
        }
    }

    static let trueBytes: [UInt8] = Array("true".utf8)
    static let falseBytes: [UInt8] = Array("false".utf8)
    static let nullBytes: [UInt8] = Array("null".utf8)

    mutating func literal(_ word: [UInt8]) throws(JSONError) {
        let n = word.count
        guard index + n <= bytes.count else { throw JSONError("not valid JSON (or not UTF-8)") }
        for i in 0..<n where bytes[index + i] != word[i] { throw JSONError("not valid JSON (or not UTF-8)") }
        index += n
    }

    mutating func object(depth: Int) throws(JSONError) -> JSONValue {
        index += 1
        var result: [String: JSONValue] = [:]
        skipSpace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") { index += 1; return .object(result) }
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw JSONError("not valid JSON (or not UTF-8)") }
            let key = try string()
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw JSONError("not valid JSON (or not UTF-8)") }
            index += 1
            skipSpace()
            let member = try value(depth: depth + 1)
            if rejectsDuplicateKeys && result[key] != nil { throw JSONError("a JSON object repeats a member name") }
            result[key] = member
            skipSpace()
            guard index < bytes.count else { throw JSONError("not valid JSON (or not UTF-8)") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(result) }
            throw JSONError("not valid JSON (or not UTF-8)")
        }
    }

    mutating func array(depth: Int) throws(JSONError) -> JSONValue {
        index += 1
        var result: [JSONValue] = []
        skipSpace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "]") { index += 1; return .array(result) }
        while true {
            skipSpace()
            result.append(try value(depth: depth + 1))
            skipSpace()
            guard index < bytes.count else { throw JSONError("not valid JSON (or not UTF-8)") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(result) }
            throw JSONError("not valid JSON (or not UTF-8)")
        }
    }

    mutating func number() throws(JSONError) -> String {
        let start = index
        if index < bytes.count && bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.index
            while p.index < p.bytes.count, p.bytes[p.index] >= 0x30, p.bytes[p.index] <= 0x39 { p.index += 1 }
            return p.index - s
        }
        let intStart = index
        let intDigits = digits(&self)
        guard intDigits > 0, !(intDigits > 1 && bytes[intStart] == 0x30) else { throw JSONError("not valid JSON (or not UTF-8)") }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw JSONError("not valid JSON (or not UTF-8)") }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            guard digits(&self) > 0 else { throw JSONError("not valid JSON (or not UTF-8)") }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    package mutating func string() throws(JSONError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                guard let s = String(validating: bytes[start..<index], as: UTF8.self) else { throw JSONError("not valid JSON (or not UTF-8)") }
                index += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw JSONError("not valid JSON (or not UTF-8)") }
            index += 1
        }
        var out = Array(bytes[start..<index])
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                index += 1
                guard let s = String(validating: out, as: UTF8.self) else { throw JSONError("not valid JSON (or not UTF-8)") }
                return s
            }
            if b < 0x20 { throw JSONError("not valid JSON (or not UTF-8)") }
            if b != UInt8(ascii: "\\") { out.append(b); index += 1; continue }
            index += 1
            guard index < bytes.count else { break }
            let e = bytes[index]
            index += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw JSONError("not valid JSON (or not UTF-8)")
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw JSONError("not valid JSON (or not UTF-8)") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw JSONError("not valid JSON (or not UTF-8)")
                }
                guard let u = Unicode.Scalar(scalar) else { throw JSONError("not valid JSON (or not UTF-8)") }
                out.append(contentsOf: String(Character(u)).utf8)
            default:
                throw JSONError("not valid JSON (or not UTF-8)")
            }
        }
        throw JSONError("not valid JSON (or not UTF-8)")
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw JSONError("not valid JSON (or not UTF-8)") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw JSONError("not valid JSON (or not UTF-8)")
            }
            v = v << 4 | d
            index += 1
        }
        return v
    }
}

/// Appends JSON to a byte array: members in the order written, strings escaped per RFC 8259
/// (quote, backslash, control characters, and U+2028/U+2029 for JavaScript readers).
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var needsComma: [Bool] = []

    public init(capacity: Int = 512) { bytes.reserveCapacity(capacity) }

    public mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")); needsComma.append(false) }
    public mutating func endObject() { bytes.append(UInt8(ascii: "}")); needsComma.removeLast() }
    public mutating func beginArray() { separate(); bytes.append(UInt8(ascii: "[")); needsComma.append(false) }
    public mutating func endArray() { bytes.append(UInt8(ascii: "]")); needsComma.removeLast() }

    public mutating func key(_ name: String) {
        separate()
        JSONWriter.appendQuoted(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        if !needsComma.isEmpty { needsComma[needsComma.count - 1] = false }
    }

    public mutating func string(_ value: String?) {
        separate()
        if let value { JSONWriter.appendQuoted(value, to: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    public mutating func int(_ value: Int64?) {
        separate()
        bytes.append(contentsOf: (value.map { String($0) } ?? "null").utf8)
    }

    public mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func null() { separate(); bytes.append(contentsOf: "null".utf8) }

    public mutating func strings(_ values: [String]) {
        beginArray()
        for v in values { string(v) }
        endArray()
    }

    /// Appends already-serialized JSON as one value.
    public mutating func raw(_ json: [UInt8]) { separate(); bytes.append(contentsOf: json) }

    private mutating func separate() {
        guard !needsComma.isEmpty else { return }
        if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }

    public static func appendQuoted(_ value: String, to out: inout [UInt8]) {
        out.append(0x22)
        let utf8 = value.utf8
        var plain = true
        for b in utf8 where b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F || b == 0xE2 {
            plain = false
            break
        }
        if plain {
            out.append(contentsOf: utf8)
        } else {
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": out.append(contentsOf: [0x5C, 0x22])
                case "\\": out.append(contentsOf: [0x5C, 0x5C])
                case "\n": out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case "\r": out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case "\t": out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                default:
                    if scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029 {
                        let hex = Array(String(scalar.value, radix: 16).utf8)
                        out.append(contentsOf: [0x5C, UInt8(ascii: "u")])
                        out.append(contentsOf: Array(repeating: UInt8(ascii: "0"), count: 4 - hex.count))
                        out.append(contentsOf: hex)
                    } else {
                        out.append(contentsOf: String(scalar).utf8)
                    }
                }
            }
        }
        out.append(0x22)
    }
}

extension JSONParser {
    /// Walks the top-level object's members without building a dictionary, handing each
    /// key and value to `member` (the token path reads its six members this way).
    package mutating func eachMember(_ member: (String, inout JSONParser) throws(JSONError) -> Void) throws(JSONError) {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw JSONError("the body must be a JSON object") }
        index += 1
        skipSpace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") { index += 1 } else {
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw JSONError("not valid JSON (or not UTF-8)") }
                let key = try string()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw JSONError("not valid JSON (or not UTF-8)") }
                index += 1
                skipSpace()
                try member(key, &self)
                skipSpace()
                guard index < bytes.count else { throw JSONError("not valid JSON (or not UTF-8)") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; break }
                throw JSONError("not valid JSON (or not UTF-8)")
            }
        }
        skipSpace()
        guard index == bytes.count else { throw JSONError("unexpected data after the JSON value") }
    }
}
