import BrokerCore
import BrokerCrypto
import BrokerWire
import FoundationEssentials

/// Checks an audit file against the vault's audit key pair (docs/spec/audit.md,
/// "Verification"): every line's MAC, the sequence numbers, the links between epochs, and,
/// for the live file, that it ends where the daemon last wrote.
enum AuditVerifier {
    static let macSuffixLength = ",\"mac\":\"".utf8.count + 64 + "\"}".utf8.count

    static func verify(fileBytes: [UInt8], keyPair: borrowing SecretBytes, checkpoint: AuditLog.Checkpoint?) -> AuditVerifyResponse {
        var problems: [String] = []
        var lines = 0
        var epochs = 0
        var key: SecretBox? = nil
        var authenticated = false
        var epochID: String?
        var expectedSeq: Int64 = 0
        var prevMAC = [UInt8](repeating: 0, count: 32)
        var lastInFile: AuditLog.Checkpoint?
        var lineNumber = 0
        var brokenEpoch = false
        // An unsealed first epoch (written before the vault existed) is chained by plain
        // SHA-256, which anyone can recompute: its lines count only once a sealed epoch
        // after them names their last line in its `prev` (under that epoch's MAC).
        var unsealed: (epoch: String, first: Int, last: Int)?
        var chained = false
        var vouches = false

        var rawLines = fileBytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if rawLines.last?.isEmpty == true { rawLines.removeLast() } else if !fileBytes.isEmpty {
            problems.append("the file does not end with a newline: its last line is cut short")
        }
        for raw in rawLines {
            lineNumber += 1
            lines += 1
            let bytes = Array(raw)
            guard bytes.count > macSuffixLength,
                  case .object(let object) = (try? JSONValue.parse(bytes)) ?? .null,
                  let seqInt = object["seq"]?.int,
                  let epoch = object["epoch"]?.string,
                  let type = object["type"]?.string,
                  let macHex = object["mac"]?.string
            else {
                problems.append("line \(lineNumber): not an audit line")
                brokenEpoch = true
                continue
            }
            let seq = Int64(seqInt)
            let body = Array(bytes[0..<(bytes.count - macSuffixLength)])
            let suffix = String(decoding: bytes[(bytes.count - macSuffixLength)...], as: UTF8.self)
            guard suffix == ",\"mac\":\"\(macHex)\"}" else {
                problems.append("line \(lineNumber): the MAC is not the line's last member")
                continue
            }
            vouches = false
            if type == "epoch" {
                epochs += 1
                let previousEnd = lastInFile
                var follows = false
                if let prev = object["prev"]?.object, let previousEnd {
                    let pe = prev["epoch"]?.string
                    let ps = prev["seq"]?.int.map { Int64($0) }
                    let pm = prev["mac"]?.string
                    if pe != previousEnd.epoch || ps != previousEnd.seq || pm != previousEnd.mac {
                        problems.append("line \(lineNumber): epoch \(name(epoch)) does not follow the line before it (lines were removed or reordered before it)")
                    } else {
                        follows = true
                    }
                } else if previousEnd != nil {
                    problems.append("line \(lineNumber): epoch \(name(epoch)) names no previous line although lines precede it")
                }
                guard seq == 0 else {
                    problems.append("line \(lineNumber): an epoch line must have seq 0")
                    brokenEpoch = true
                    continue
                }
                epochID = epoch
                expectedSeq = 1
                prevMAC = [UInt8](repeating: 0, count: 32)
                brokenEpoch = false
                key = nil
                authenticated = false
                chained = false
                if let sealedText = object["sealed_key"]?.string {
                    if let sealed = Data(base64Encoded: sealedText), let opened = try? SealedBox.open(Array(sealed), keyPair: keyPair) {
                        key = SecretBox(opened)
                        authenticated = true
                        vouches = follows && unsealed != nil
                    } else {
                        problems.append("line \(lineNumber): epoch \(name(epoch)) is sealed to a key this vault does not hold; its lines cannot be checked")
                        brokenEpoch = true
                    }
                } else if lineNumber != 1 {
                    problems.append("line \(lineNumber): epoch \(name(epoch)) is unauthenticated, which only the first epoch of a file written before the vault existed may be")
                    brokenEpoch = true
                } else {
                    chained = true
                    unsealed = (epoch, lineNumber, lineNumber)
                }
            } else {
                guard let current = epochID, epoch == current else {
                    problems.append("line \(lineNumber): belongs to epoch \(name(epoch)) but follows epoch \(epochID.map(name) ?? "none")")
                    brokenEpoch = true
                    continue
                }
                if seq != expectedSeq {
                    problems.append("line \(lineNumber): seq \(seq) where \(expectedSeq) was expected (lines removed, reordered or inserted)")
                }
                // Wrapping: a forged seq of Int64.max is reported (and the line after it),
                // and must not stop the daemon.
                expectedSeq = seq &+ 1
            }
            if authenticated, let k = key {
                var input = prevMAC
                input.append(contentsOf: body)
                let mac = Digest.hmacSHA256(input, key: k.bytes)
                if Digest.hex(mac) != macHex && !brokenEpoch {
                    problems.append("line \(lineNumber): the MAC does not match (the line or one before it was edited, removed or reordered)")
                    brokenEpoch = true
                } else if vouches, !brokenEpoch {
                    // This epoch line's MAC covers its `prev`: the unsealed lines before it
                    // are the ones the daemon wrote.
                    unsealed = nil
                }
                prevMAC = mac
            } else if chained {
                var input = prevMAC
                input.append(contentsOf: body)
                let hash = Digest.sha256(input)
                if Digest.hex(hash) != macHex && !brokenEpoch {
                    problems.append("line \(lineNumber): the hash chain does not match (the line or one before it was edited, removed or reordered)")
                    brokenEpoch = true
                }
                prevMAC = hash
                unsealed?.last = lineNumber
            }
            lastInFile = AuditLog.Checkpoint(epoch: epoch, seq: seq, mac: macHex)
        }
        if let unsealed {
            problems.append("lines \(unsealed.first)-\(unsealed.last) (epoch \(name(unsealed.epoch))) were written before the vault existed and no sealed epoch after them in this file vouches for them: they cannot be authenticated")
        }
        if let checkpoint {
            if let last = lastInFile {
                if last != checkpoint {
                    if last.epoch == checkpoint.epoch && last.seq < checkpoint.seq {
                        problems.append("the file ends at seq \(last.seq) of epoch \(name(last.epoch)) but the daemon wrote through seq \(checkpoint.seq): its tail was removed")
                    } else {
                        problems.append("the file ends at epoch \(name(last.epoch)) seq \(last.seq), not where the daemon last wrote (epoch \(checkpoint.epoch) seq \(checkpoint.seq)): lines were removed or appended")
                    }
                }
            } else {
                problems.append("the file is empty but the daemon has written to it")
            }
        }
        return AuditVerifyResponse(ok: problems.isEmpty, lines: lines, epochs: epochs, problems: problems)
    }

    /// An epoch id as the file gives it, fit for a message the CLI prints to a terminal:
    /// the daemon writes 16 hex digits; an edited file may hold escapes or megabytes.
    static func name(_ epoch: String) -> String {
        printableText(epoch, limit: 32)
    }
}
