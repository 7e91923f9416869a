import BrokerCore
import Foundation
import Testing

/// BrokerCore's TOML reader (Sources/BrokerCore/TOML.swift), which replaced TOMLKit after
/// the policy fuzzer found toml++ 3.4.0 aborting on malformed files.
@Suite("TOML reader")
struct TOMLTests {
    func parse(_ text: String) throws -> TOMLTable {
        do throws(TOMLError) { return try TOML.parse(text) } catch { throw error }
    }

    func error(_ text: String) -> TOMLError? {
        do throws(TOMLError) {
            _ = try TOML.parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test("every kind of value TOML 1.0 has, but dates")
    func values() throws {
        let text = #"""
            # a comment
            bare = "basic \"q\" \\ \t \u00e9 \U0001F600"
            literal = 'C:\no\escapes'
            "quoted key" = 1
            'literal key' = -0
            multi = """
            one
            two \
               three"""
            multiLiteral = '''
            [=not a header
            ''''
            quotes = """a""""
            ints = [0, +17, -17, 1_000, 0xDEAD_beef, 0o755, 0b1010, 9223372036854775807, -9223372036854775808]
            floats = [1.5, -0.25, 1e3, 6.626e-34, 1_000.5_5, inf, -inf, +inf]
            nan = nan
            flags = [true, false]
            nested = [[1, 2], ["a", [3.5]], [], { x = 1 }]
            inline = { a = 1, b.c = "d", e = [1, 2,
              3] }
            site."dotted key".deep = true

            [table.sub] # trailing comment
            k = "v"

            [[rule]]
            name = "first"
            [[rule]]
            name = "second"
            [rule.extra]
            x = 1
            """#
        let t = try parse(text)
        #expect(t["bare"]?.string == "basic \"q\" \\ \t é 😀")
        #expect(t["literal"]?.string == #"C:\no\escapes"#)
        #expect(t["quoted key"]?.int == 1)
        #expect(t["literal key"]?.int == 0)
        #expect(t["multi"]?.string == "one\ntwo three")
        #expect(t["multiLiteral"]?.string == "[=not a header\n'")
        #expect(t["quotes"]?.string == "a\"")
        #expect(t["ints"]?.array?.compactMap { $0.int } == [0, 17, -17, 1000, 0xDEADBEEF, 0o755, 0b1010, Int.max, Int.min])
        let floats = t["floats"]?.array?.compactMap { $0.double } ?? []
        #expect(floats == [1.5, -0.25, 1000, 6.626e-34, 1000.55, .infinity, -.infinity, .infinity])
        #expect(t["nan"]?.double?.isNaN == true)
        #expect(t["ints"]?.array?.first?.double == nil && t["floats"]?.array?.first?.int == nil)
        #expect(t["flags"]?.array?.compactMap { $0.bool } == [true, false])
        #expect(t["nested"]?.array?.count == 4)
        #expect(t["nested"]?.array?[3].table?["x"]?.int == 1)
        #expect(t["inline"]?.table?["b"]?.table?["c"]?.string == "d")
        #expect(t["inline"]?.table?["e"]?.array?.count == 3)
        #expect(t["site"]?.table?["dotted key"]?.table?["deep"]?.bool == true)
        #expect(t["table"]?.table?["sub"]?.table?["k"]?.string == "v")
        let rules = try #require(t["rule"]?.array)
        #expect(rules.compactMap { $0.table?["name"]?.string } == ["first", "second"])
        #expect(rules[1].table?["extra"]?.table?["x"]?.int == 1)
        #expect(t.keys == t.keys.sorted())
    }

    @Test("CRLF line ends and a byte-order mark are read; the example policies and config keys parse")
    func lineEndsAndExamples() throws {
        let t = try parse("\u{FEFF}a = 1\r\nb = \"\"\"x\r\ny\"\"\"\r\n")
        #expect(t["a"]?.int == 1)
        #expect(t["b"]?.string == "x\r\ny")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for name in ["dev", "staging", "prod"] {
            let text = try String(contentsOf: root.appendingPathComponent("policies/\(name).toml"), encoding: .utf8)
            #expect(throws: Never.self) { try parse(text) }
        }
    }

    @Test("malformed documents are errors with their line, never a crash (the toml++ aborts among them)")
    func malformed() throws {
        let cases: [(String, Int)] = [
            ("[[[1]]]", 1), ("[[[a]]", 1), ("[[[]]", 1), ("[[=", 1), ("[=", 1), ("[@admin]", 1), ("[\n", 1), ("[", 1),
            ("[\u{1}r[rule]]", 1), ("x = [}relative\"]", 1), ("x = 1\n[ok]\ny = [\n1,\n}", 5),
            ("a = 1\na = 2", 2), ("[t]\n[t]", 2), ("a.b = 1\n[a.b]", 2), ("[[a]]\n[a]", 2), ("a = {x = 1}\n[a]", 2),
            ("a = {x = 1}\na.y = 2", 2), ("a = 1\na.b = 2", 2),
            ("s = \"unterminated", 1), ("s = \"line\nbreak\"", 1), ("s = \"\\q\"", 1), ("s = \"\\uD800\"", 1), ("s = \"\\u12\"", 1),
            ("s = \"\u{7}\"", 1), ("s = '''x", 1), ("s = \"\"\"a\"\"\"\"\"\"", 1), ("# \u{1}", 1), ("a = 1\rb = 2", 1),
            ("n = 01", 1), ("n = 1__0", 1), ("n = _1", 1), ("n = 1.", 1), ("n = .5", 1), ("n = 1e", 1), ("n = 0x", 1),
            ("n = -0x10", 1), ("n = 9223372036854775808", 1), ("n = 0xFFFFFFFFFFFFFFFF", 1), ("n = 1e999", 1),
            ("d = 1979-05-27T07:32:00Z", 1), ("d = 1979-05-27", 1), ("d = 07:32:00", 1), ("b = truex", 1), ("b = tru", 1),
            ("= 1", 1), ("a", 1), ("a =", 1), ("a = 1 b = 2", 1), ("t = {a = 1,}", 1), ("t = {a = 1\n}", 1),
            ("x = [1 2]", 1), ("\"\"\"k\"\"\" = 1", 1),
            (String(repeating: "[", count: 40), 1), ("x = " + String(repeating: "[", count: 40) + String(repeating: "]", count: 40), 1),
            ("k" + String(repeating: ".k", count: 40) + " = 1", 1), ("x = " + String(repeating: "{a=", count: 40), 1),
        ]
        for (text, line) in cases {
            let problem = try #require(error(text), "\(text.debugDescription) parsed")
            #expect(problem.line == line, "\(text.debugDescription): \(problem)")
            #expect(!problem.message.isEmpty)
        }
        // Arrays and inline tables up to 32 levels are fine.
        #expect(error("x = " + String(repeating: "[", count: 31) + String(repeating: "]", count: 31)) == nil)
    }

    @Test("the fuzzers' policy crashers are refused with a line, as policy errors")
    func policyCrashers() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.appendingPathComponent("Fuzz/regressions/policy")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names.count >= 2)
        for name in names {
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            do throws(PolicyError) {
                _ = try PolicyParser.parse(file: name, text: String(decoding: data, as: UTF8.self))
                Issue.record("\(name) parsed")
            } catch {
                #expect(error.line != nil && error.message.hasPrefix("not valid TOML"), "\(name): \(error)")
            }
        }
    }
}
