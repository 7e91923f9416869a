import BrokerDaemon
import BrokerTesting
import Foundation
import Testing

/// The audit verifier on files the daemon's own writer made (AuditFixture), without a
/// daemon: what it accepts and how it reports a file an attacker wrote. The edits a
/// fuzzer makes are in FuzzCorpusTests (target `audit-verify`); the daemon's route and
/// the CLI in AuditAndUnlockTests.
@Suite("audit verifier")
struct AuditVerifierTests {
    static let fixture: AuditFixture = {
        let directory = NSTemporaryDirectory() + "/cb-audit-fixture-" + UUID().uuidString.prefix(8)
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try! AuditFixture(directory: directory)
    }()

    @Test("files the writer made verify, as the live file and as a rotated one", arguments: AuditFixture.Log.allCases)
    func genuine(_ log: AuditFixture.Log) {
        let bytes = Self.fixture.bytes(of: log)
        for live in [nil, log] {
            let result = Self.fixture.verify(bytes, endingAs: live)
            #expect(result.ok, "\(log), live \(live != nil): \(result.problems)")
            #expect(result.lines == 12)
            #expect(result.epochs == 3)
        }
    }

    /// A line whose seq is the largest integer once stopped the daemon: the verifier added
    /// one to it.
    @Test("a forged seq at the integer limit is reported, and the line after it too")
    func seqAtTheLimit() {
        let file = Self.lines(
            #"{"seq":0,"epoch":"e1","type":"epoch","sealed_key":null,"prev":null,"mac":"\#(Self.zeros)"}"#,
            #"{"seq":9223372036854775807,"epoch":"e1","type":"event","mac":"\#(Self.zeros)"}"#,
            #"{"seq":2,"epoch":"e1","type":"event","mac":"\#(Self.zeros)"}"#)
        let result = Self.fixture.verify(file, endingAs: nil)
        #expect(!result.ok)
        #expect(result.problems.contains("line 2: seq 9223372036854775807 where 1 was expected (lines removed, reordered or inserted)"))
        #expect(result.problems.contains { $0.hasPrefix("line 3: seq 2 where ") })
    }

    /// The CLI prints the verifier's problems to a terminal; an epoch id in an edited file
    /// could hold escapes that retitle it, clear it or fake a line.
    @Test("epoch ids from the file reach the problems only as printable text, cut short")
    func escapesInEpochIDs() {
        let escape = #"\u001b]0;owned\u0007\u001b[2J\n"#
        let file = Self.lines(
            #"{"seq":0,"epoch":"\#(escape)","type":"epoch","sealed_key":null,"prev":null,"mac":"\#(Self.zeros)"}"#,
            #"{"seq":1,"epoch":"x\#(escape)","type":"event","mac":"\#(Self.zeros)"}"#,
            #"{"seq":0,"epoch":"\#(String(repeating: "a", count: 5000))","type":"epoch","sealed_key":"AAAA","prev":null,"mac":"\#(Self.zeros)"}"#)
        let result = Self.fixture.verify(file, endingAs: .sealed)
        #expect(!result.ok)
        #expect(result.problems.contains("line 2: belongs to epoch x?]0;owned??[2J? but follows epoch ?]0;owned??[2J?"))
        #expect(result.problems.contains { $0.contains("epoch " + String(repeating: "a", count: 32) + "... ") })
        for problem in result.problems {
            #expect(problem.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }, "\(problem)")
            #expect(problem.utf8.count < 400, "\(problem.utf8.count) bytes")
        }
    }

    static let zeros = String(repeating: "0", count: 64)

    static func lines(_ lines: String...) -> [UInt8] {
        Array(lines.map { $0 + "\n" }.joined().utf8)
    }
}
