import BrokerCore
import Testing

@Suite("the strict JSON reader in BrokerCore")
struct JSONTests {
    @Test("duplicate member names: later wins by default, refused on request at any depth")
    func duplicates() throws {
        let flat = Array(#"{"a":1,"a":2}"#.utf8)
        #expect(try JSONValue.parse(flat).object?["a"]?.int == 2)
        #expect(throws: JSONError.self) { try JSONValue.parse(flat, rejectingDuplicateKeys: true) }
        let nested = Array(#"{"x":[{"k":"v","k":"w"}]}"#.utf8)
        #expect(throws: JSONError.self) { try JSONValue.parse(nested, rejectingDuplicateKeys: true) }
        let distinct = Array(#"{"a":1,"b":{"a":2}}"#.utf8)
        #expect(try JSONValue.parse(distinct, rejectingDuplicateKeys: true).object?.count == 2)
    }

    @Test("malformed and truncated documents are refused")
    func malformed() {
        for text in [#"{"a":1"#, #"{"a":}"#, "[1,]", "01", "\"\u{01}\"", #"{"a":1} {}"#, "", "nul", #""\ud800""#] {
            #expect(throws: JSONError.self, "\(text)") { try JSONValue.parse(Array(text.utf8)) }
        }
        for bad: [UInt8] in [[0xFF], [0xC0, 0x80], [0xFE], [0xED, 0xA0, 0x80]] {
            let inValue = Array(#"{"a":"d"#.utf8) + bad + Array(#"v"}"#.utf8)
            let inKey = Array(#"{"p"#.utf8) + bad + Array(#"":1}"#.utf8)
            let escaped = Array(#"{"a":"\n"#.utf8) + bad + Array(#""}"#.utf8)
            for bytes in [inValue, inKey, escaped] {
                #expect(throws: JSONError.self, "\(bytes)") { try JSONValue.parse(bytes) }
            }
        }
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        #expect(throws: JSONError.self) { try JSONValue.parse(Array(deep.utf8)) }
    }
}
