import BrokerCLI
import BrokerTesting
import Testing

@Suite("shell words in printed commands")
struct ShellWordTests {
    @Test("a quoted word reaches the shell as exactly the text", arguments: [
        "/var/lib/credbroker/vault.key", "/tmp/with space/k", "it's", "$(reboot)", "`id`", "a\"b", "x;y|z&", "", "-n", "\\n", "*",
    ])
    func roundTrip(text: String) throws {
        let word = ShellWord.quoted(text)
        let result = try Subprocess.run("/bin/sh", ["-c", "printf '%s' " + word])
        #expect(result.status == 0)
        #expect(result.stdout == text, "\(word)")
    }

    @Test("safe paths are left as they are")
    func safeUnchanged() {
        #expect(ShellWord.quoted("/var/lib/credbroker/vault.key") == "/var/lib/credbroker/vault.key")
        #expect(ShellWord.quoted("a b") == "'a b'")
        #expect(ShellWord.quoted("it's") == #"'it'\''s'"#)
    }
}
