import BrokerCrypto
package import BrokerWire
import Foundation

/// CLI output rules (age's): results to stdout; every message to stderr with a prefix.
enum Console {
    static func error(_ message: String) { stderr("credbroker: error: \(message)") }
    static func warning(_ message: String) { stderr("credbroker: warning: \(message)") }
    static func hint(_ message: String) { stderr("credbroker: hint: \(message)") }
    static func info(_ message: String) { stderr("credbroker: \(message)") }

    static func stderr(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Prints the memory-lock warning once per process, if secrets could not be locked.
    static func warnIfMemoryUnlocked() {
        if let warning = SecretMemory.warningIfUnlocked() { self.warning(warning) }
    }
}

/// An error the CLI reports and exits on, with its exit code (DESIGN.md: 3 denied,
/// 4 locked, 5 re-authorization required, 1 anything else).
package struct CLIError: Error, CustomStringConvertible {
    package var message: String
    package var hint: String?
    package var exitCode: Int32 = 1
    /// The daemon's error code, when the daemon answered with an error.
    package var wireCode: WireErrorCode?
    package var description: String { message }

    package init(message: String, hint: String? = nil, exitCode: Int32 = 1, wireCode: WireErrorCode? = nil) {
        self.message = message
        self.hint = hint
        self.exitCode = exitCode
        self.wireCode = wireCode
    }
}
