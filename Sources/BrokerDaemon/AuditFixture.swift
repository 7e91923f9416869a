package import BrokerCrypto
import BrokerCore
import BrokerSystem
package import BrokerWire

/// Two genuine audit files, written by the daemon's own writer (`AuditLog`) under one audit
/// key pair, and the verifier the daemon answers `audit verify` with: for the `audit-verify`
/// fuzzer and its corpus test, which edit the files and check that `verify` accepts nothing
/// but an unedited run of lines (docs/spec/audit.md, "Verification").
package final class AuditFixture: Sendable {
    /// Which of the two files.
    package enum Log: Int, Sendable, CaseIterable {
        /// Every epoch sealed to the key pair, as a daemon with a vault writes.
        case sealed
        /// A first epoch written before the vault existed (unsealed, chained by SHA-256),
        /// then sealed epochs, the first of which vouches for it with its `prev`.
        case unsealedFirst
    }

    private let keyPair: SecretBox
    private let files: [[UInt8]]
    private let ends: [AuditLog.Checkpoint]
    /// For each file, which lines (0-based) are epoch lines. All but an unsealed first
    /// file's line 0 are sealed, so its second entry is the epoch that vouches for it.
    package let epochLines: [[Int]]

    /// Writes both files in `directory` (an existing private directory), `epochs` epochs
    /// of `eventsPerEpoch` events each.
    package init(directory: String, epochs: Int = 3, eventsPerEpoch: Int = 3) throws {
        let pair = SealedBox.makeKeyPair()
        let publicKey = SealedBox.publicKey(ofPair: pair)
        keyPair = SecretBox(pair)
        var files: [[UInt8]] = []
        var ends: [AuditLog.Checkpoint] = []
        var epochLines: [[Int]] = []
        for log in Log.allCases {
            let path = directory + "/audit-\(log).log"
            var settings = Configuration.AuditSettings()
            settings.maxBytes = 1 << 20
            let audit = try AuditLog(path: path, settings: settings, publicKey: log == .sealed ? publicKey : nil, now: { 1_790_000_000 })
            audit.startWithoutWriter(reason: "fixture")
            var starts = [0]
            var line = 1
            for epoch in 0..<epochs {
                if epoch > 0 {
                    audit.startEpoch(publicKey: publicKey, reason: epoch == 1 && log == .unsealedFirst ? "init" : "unlock")
                    starts.append(line)
                    line += 1
                }
                for n in 0..<eventsPerEpoch {
                    audit.record(Self.event(epoch: epoch, n: n))
                    line += 1
                }
            }
            audit.writeQueued()
            audit.closeWithoutWriter()
            guard let end = audit.checkpoint, let bytes = try FileSecurity.readRegularFile(path, limit: 1 << 20) else {
                throw DaemonError("the fixture's audit writer wrote nothing to \(path)")
            }
            files.append(bytes)
            ends.append(end)
            epochLines.append(starts)
        }
        self.files = files
        self.ends = ends
        self.epochLines = epochLines
    }

    /// Events with what a real line carries: scopes, a decision, a rule, a fingerprint,
    /// and text that needs escaping.
    private static func event(epoch: Int, n: Int) -> AuditEvent {
        var event = AuditEvent(time: 1_790_000_000 + Int64(epoch * 60 + n), caller: nil, route: n == 2 ? "/v1/admin/lock" : "/v1/token",
                               result: n == 1 ? "denied" : "ok")
        event.profile = "dev"
        event.provider = "google"
        event.account = "me@example.com"
        event.scopes = ["https://www.googleapis.com/auth/calendar.readonly"]
        event.decision = n == 1 ? "deny" : "allow"
        event.rule = "policies.d/dev.toml: \"agents\""
        event.tokenFingerprint = n == 0 ? "0123abcd" : nil
        event.detail = n == 1 ? "no rule grants \"gmail\" \u{e9}\u{1F511}\t" : nil
        return event
    }

    /// The bytes of `log`, as written.
    package func bytes(of log: Log) -> [UInt8] { files[log.rawValue] }

    /// What `audit verify` answers for `bytes`, checked against the end of `log` as the
    /// daemon that wrote it would check its live file, or, when `log` is nil, as a file
    /// the daemon is not writing (no checkpoint).
    package func verify(_ bytes: [UInt8], endingAs log: Log?) -> AuditVerifyResponse {
        AuditVerifier.verify(fileBytes: bytes, keyPair: keyPair.bytes, checkpoint: log.map { ends[$0.rawValue] })
    }
}
