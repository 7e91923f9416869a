import BrokerCore
import BrokerSystem

/// Questions on the terminal (age's rule: prompts go to /dev/tty). Asked only when standard
/// input is a terminal, so a script never blocks on one.
enum Prompt {
    static var isInteractive: Bool { Terminal.isStandardInputTerminal && Terminal.isAvailable }

    /// One echoed line, trimmed.
    static func line(_ prompt: String) throws -> String {
        do { return try Terminal.readLine(prompt: prompt).trimmingASCIIWhitespace() } catch {
            throw CLIError(message: "cannot read from the terminal: \(error.reason)")
        }
    }

    /// A yes/no question; only "y" or "yes" is yes.
    static func confirm(_ question: String) throws -> Bool {
        let answer = try line(question + " [y/N] ").lowercased()
        return answer == "y" || answer == "yes"
    }

    /// The numbered scope menu of `setup`; the answer may mix numbers and scope names.
    static func scopes(presets: [String], extraNote: String? = nil) throws -> [String] {
        var menu = presets.enumerated().map { "  \($0.offset + 1)) \($0.element)" }
        if let extraNote { menu.append("  \(extraNote)") }
        if !menu.isEmpty {
            do { try Terminal.write("Scope presets:\n" + menu.joined(separator: "\n") + "\n") } catch {
                throw CLIError(message: "cannot write to the terminal: \(error.reason)")
            }
        }
        let question = presets.isEmpty
            ? "Scopes to ask for at login (separated by spaces or commas; Enter for none): "
            : "Scopes to ask for at login (numbers or names, separated by spaces or commas; Enter for none): "
        return try ScopeMenu.choose(try line(question), presets: presets)
    }
}

/// Reads an answer to the scope menu (pure, for tests).
package enum ScopeMenu {
    /// Numbers pick presets (1-based); anything else is a scope name or full string.
    /// Aliases are expanded (BrokerCore's table); duplicates are dropped.
    package static func choose(_ answer: String, presets: [String]) throws(CLIError) -> [String] {
        var picked: [String] = []
        for token in answer.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
            if let number = Int(token) {
                guard number >= 1 && number <= presets.count else {
                    throw CLIError(message: presets.isEmpty ? "there are no numbered presets; type scope names" : "no preset number \(number) (choose 1 to \(presets.count))")
                }
                picked.append(presets[number - 1])
            } else {
                picked.append(String(token))
            }
        }
        return ScopeAliases.expandAll(picked)
    }
}
