import Foundation
import Synchronization

/// Private directories for what a target must keep on disk (the request harness's audit
/// log, the vault file), under $TMPDIR, removed when the process exits normally.
/// scripts/fuzz.sh points $TMPDIR at a scratch directory of its own and removes it, so
/// nothing stays behind after a crash either.
enum Scratch {
    private static let made = Mutex<[String]>([])

    static func directory(_ name: String) -> String {
        let base = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        let path = base + "credbroker-fuzz-\(name)-" + UUID().uuidString.prefix(12).lowercased()
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            fatalError("cannot create the fuzzing directory \"\(path)\": \(error)")
        }
        let first = made.withLock { list in
            list.append(path)
            return list.count == 1
        }
        if first { atexit { Scratch.removeAll() } }
        return path
    }

    private static func removeAll() {
        for path in made.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
