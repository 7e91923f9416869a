import BrokerCrypto
import BrokerSystem
import Foundation

/// The secrets the OAuth commands hand to the daemon (client secrets, private keys,
/// service-account key files), read from a file, standard input ("-") or the terminal
/// without echo; never from the command line or the environment (DESIGN.md). The wire
/// types carry them as strings; the byte copies made here are wiped.
enum SecretText {
    /// The largest client secret accepted (real ones are 30-100 bytes).
    static let maxClientSecretBytes = 4096
    /// The largest PEM private key accepted (an RSA-4096 key is about 3.3 KiB; the buffer
    /// is locked memory, so it stays small).
    static let maxPrivateKeyBytes = 16 * 1024

    /// The text of `path` ("-": standard input) without surrounding whitespace and line
    /// breaks; refuses an empty or non-UTF-8 file. `what` names it in errors.
    static func fromFile(_ path: String, maxBytes: Int, what: String) throws -> String {
        let secret: SecretBytes
        do { secret = try SecretFile.readDocument(path: path, maxBytes: maxBytes) } catch { throw CLIError(message: error.description) }
        var bytes = secret.unsafeCopyToArray()
        defer { wipe(&bytes) }
        return try text(bytes, what: what, source: path == "-" ? "standard input" : "\"\(path)\"", allowEmpty: false)
    }

    /// One line typed on the terminal without echo; may be empty when `allowEmpty`.
    static func fromTerminal(prompt: String, what: String, allowEmpty: Bool) throws -> String {
        let secret: SecretBytes
        do { secret = try Terminal.readSecret(prompt: prompt) } catch { throw CLIError(message: "cannot read the \(what) from the terminal: \(error.reason)") }
        var bytes = secret.unsafeCopyToArray()
        defer { wipe(&bytes) }
        return try text(bytes, what: what, source: "the terminal", allowEmpty: allowEmpty)
    }

    static func text(_ bytes: [UInt8], what: String, source: String, allowEmpty: Bool) throws -> String {
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
        var start = 0
        var end = bytes.count
        while start < end && isSpace(bytes[start]) { start += 1 }
        while end > start && isSpace(bytes[end - 1]) { end -= 1 }
        if start == end {
            if allowEmpty { return "" }
            throw CLIError(message: "the \(what) from \(source) is empty")
        }
        guard let text = String(validating: bytes[start..<end], as: UTF8.self) else {
            throw CLIError(message: "the \(what) from \(source) is not UTF-8 text")
        }
        return text
    }
}
