public import Foundation

/// A private (0700) temporary directory, removed with everything in it by `remove()` or
/// when the value is released. Tests that make files make them here.
public final class TemporaryDirectory: @unchecked Sendable {
    // @unchecked Sendable: `path` is immutable; removal is idempotent.
    public let path: String

    public init(prefix: String = "credbroker-test") throws {
        // createDirectory fails if the name exists, so a random name cannot be hijacked.
        let base = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        path = base + prefix + "-" + UUID().uuidString.prefix(12).lowercased()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    }

    deinit { remove() }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `path/name` with `mode` and returns the path.
    @discardableResult
    public func write(_ name: String, _ text: String, mode: Int = 0o600) throws -> String {
        let target = file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: target)
        return target
    }

    /// Every regular file under the directory, recursively.
    public func allFiles() -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return [] }
        return walker.compactMap { $0 as? String }.map { file($0) }.filter {
            let type = (try? FileManager.default.attributesOfItem(atPath: $0))?[.type] as? FileAttributeType
            return type == .typeRegular
        }
    }
}
