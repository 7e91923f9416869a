/// Text made into one POSIX shell word, for commands the CLI prints for the user to run.
package enum ShellWord {
    static let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:@%,")

    /// `text` unchanged when it holds only safe characters, else in single quotes (a single
    /// quote inside written as `'\''`).
    package static func quoted(_ text: String) -> String {
        if !text.isEmpty && text.allSatisfy({ safe.contains($0) }) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}
