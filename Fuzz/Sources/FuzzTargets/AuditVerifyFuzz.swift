import BrokerDaemon
import BrokerWire

/// `audit-verify`: an audit file through the verifier `credbroker audit verify` asks the
/// daemon for (docs/spec/audit.md, "Verification"). The point of the audit log is that
/// whoever can write the file cannot edit it unseen, so the file is the attacker's input.
///
/// The target keeps two genuine files written by the daemon's own writer under one key
/// pair (`AuditFixture`: one sealed from its first line, one whose first epoch was written
/// before the vault existed). Input: a mode byte, then edits.
/// - Mode bit 0 picks the file; bit 1 checks it as the daemon's live file (against the
///   writer's last line) or as a rotated one; bit 2 takes the rest of the input as the
///   whole file instead.
/// - Otherwise the rest is edits of three bytes (operation, a, b) applied in order to the
///   file's lines: remove, duplicate, swap, flip a byte, move, insert a line of the other
///   file, cut a line short, join two lines.
///
/// Invariants: the verifier never stops the process; it counts the file's lines, and
/// every problem is one printable line of bounded length (the CLI prints them to a
/// terminal). It accepts the file exactly when it is an unedited run of one genuine file's
/// lines, starting at the file's start or at a sealed epoch line, taking an unsealed
/// epoch's lines only with the sealed epoch line that vouches for them, and, for a live
/// file, ending at the writer's last line; and then it counts the run's epochs.
///
/// The fixture's keys and epoch ids are new in every process, so a raw input holding
/// genuine lines does not reproduce in the next run; edits refer to line positions and do.
enum AuditVerifyFuzz {
    static let target = FuzzTarget(
        name: "audit-verify", summary: "a genuine audit file edited line by line (or raw bytes), checked by the daemon's verifier",
        maxLength: 16 * 1024, prepare: { _ = fixture }, run: run)

    static let fixture: AuditFixture = {
        do {
            return try AuditFixture(directory: Scratch.directory("audit-verify"))
        } catch {
            fatalError("cannot write the fuzzing audit files: \(error)")
        }
    }()

    static func run(_ input: [UInt8]) -> String? {
        guard let mode = input.first else { return nil }
        let base: AuditFixture.Log = mode & 1 == 0 ? .sealed : .unsealedFirst
        let live = mode & 2 != 0 ? base : nil
        let file: [UInt8]
        if mode & 4 != 0 {
            file = Array(input.dropFirst())
        } else {
            file = edited(base, edits: input.dropFirst())
        }
        let result = fixture.verify(file, endingAs: live)
        if let problem = wellFormed(result, file: file) { return problem }
        // Raw bytes face the same oracle: without the key, no input can be a new file
        // the verifier accepts.
        let run = genuineRun(file, live: live)
        switch (result.ok, run) {
        case (true, .refused(let why)): return "an edited file was accepted: \(why)"
        case (false, .accepted): return "an unedited run of a genuine file was refused: \(result.problems.prefix(3))"
        case (true, .accepted(let epochs)) where result.epochs != epochs: return "counted \(result.epochs) epochs in a run holding \(epochs)"
        default: return nil
        }
    }

    static func lines(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    static func edited(_ base: AuditFixture.Log, edits: ArraySlice<UInt8>) -> [UInt8] {
        var list = lines(fixture.bytes(of: base))
        let other = lines(fixture.bytes(of: base == .sealed ? .unsealedFirst : .sealed))
        var finalNewline = true
        var i = edits.startIndex
        while i + 2 < edits.endIndex {
            let op = Int(edits[i]), a = Int(edits[i + 1]), b = Int(edits[i + 2])
            i += 3
            if op % 8 == 5 {
                list.insert(other[a % other.count], at: b % (list.count + 1))
                continue
            }
            guard !list.isEmpty else { continue }
            let x = a % list.count, y = b % list.count
            switch op % 8 {
            case 0: list.remove(at: x)
            case 1: list.insert(list[x], at: b % (list.count + 1))
            case 2: list.swapAt(x, y)
            case 3:
                guard !list[x].isEmpty else { continue }
                // The operation's five high bits make the mask, so that any bit can flip.
                let high = UInt8(truncatingIfNeeded: op >> 3)
                list[x][b % list[x].count] ^= (high << 3) | (high >> 2) | 1
            case 4: list.insert(list.remove(at: x), at: y)
            case 6: list[x].removeLast(min(list[x].count, 1 + b % 8))
            default:
                if x + 1 < list.count {
                    list[x] += list.remove(at: x + 1)
                } else {
                    finalNewline = false
                }
            }
        }
        var out = Array(list.joined(separator: [0x0A]))
        if finalNewline && !list.isEmpty { out.append(0x0A) }
        return out
    }

    /// The answer's form, whatever the file.
    static func wellFormed(_ result: AuditVerifyResponse, file: [UInt8]) -> String? {
        let expectedLines = lines(file).count
        if result.lines != expectedLines { return "counted \(result.lines) lines in a file of \(expectedLines)" }
        for problem in result.problems {
            if problem.utf8.count > 400 { return "a problem of \(problem.utf8.count) bytes" }
            if problem.utf8.contains(where: { $0 < 0x20 || $0 >= 0x7F }) { return "a problem holds a byte that is not printable ASCII: \(Array(problem.utf8))" }
        }
        return nil
    }

    enum Run {
        /// What the verifier must accept, with its epoch lines.
        case accepted(epochs: Int)
        /// What it must refuse, and why.
        case refused(String)
    }

    /// Whether `file` is an unedited run of one genuine file's lines that the verifier must
    /// accept: starting at the file's start or at a sealed epoch line, holding the sealed
    /// epoch that vouches for any unsealed lines in it, ending with a newline, and, checked
    /// as the live file, ending at the writer's last line.
    static func genuineRun(_ file: [UInt8], live: AuditFixture.Log?) -> Run {
        let got = lines(file)
        if got.isEmpty {
            return live == nil ? .accepted(epochs: 0) : .refused("an empty file as the live file")
        }
        guard file.last == 0x0A else { return .refused("a file without its final newline") }
        for log in AuditFixture.Log.allCases {
            let genuine = lines(fixture.bytes(of: log))
            guard let start = genuine.firstIndex(of: got[0]), start + got.count <= genuine.count,
                  Array(genuine[start..<(start + got.count)]) == got else { continue }
            let epochs = fixture.epochLines[log.rawValue]
            let end = start + got.count // exclusive
            if start != 0 && !epochs.contains(start) { return .refused("a run of \(log) starting inside an epoch (line \(start))") }
            if log == .unsealedFirst && start == 0 && end <= epochs[1] {
                return .refused("the unsealed epoch's lines (through line \(end - 1)) without the sealed epoch that vouches for them")
            }
            if let live, live != log || end != genuine.count { return .refused("a run of \(log) ending at line \(end) as the live \(live) file") }
            return .accepted(epochs: epochs.filter { $0 >= start && $0 < end }.count)
        }
        return .refused("\(got.count) lines that are no run of a genuine file")
    }
}
