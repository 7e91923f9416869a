// PolicyParser's known-field lists are internal: the page must follow the parser itself,
// not a copy of its lists.
@testable import BrokerCore
import BrokerTesting
import Foundation
import Testing

/// The man pages of docs/man against what they describe: the commands and options that the
/// built binaries' `--help` lists, the keys the daemon's config file takes and the fields the
/// policy parser knows. A new command, option, key or field without its paragraph fails here,
/// and so does a page that documents one that is gone.
@Suite("man pages")
struct ManPageTests {
    /// docs/man, found from the package root as the other tests find repository files.
    static let directory = BuiltProducts.packageRoot + "/docs/man"

    @Test("every command of credbroker --help has a section in credbroker.1 naming each of its options")
    func credbrokerCommands() throws {
        let page = try Page(Self.directory + "/credbroker.1")
        let commands = try Self.commandTree()
        // As written: the root, 13 commands and 18 subcommands. A walk that finds far fewer has
        // misread the help, not found a smaller CLI.
        #expect(commands.count >= 30, "the walk of credbroker --help found only \(commands.map { $0.path.joined(separator: " ") })")
        for command in commands {
            let name = command.path.joined(separator: " ")
            guard !command.path.isEmpty else {
                for option in command.help.options {
                    #expect(Page.mentions(option, in: page.text), "credbroker.1 never names \(option)")
                }
                continue
            }
            // A group (vault, profile, ...) is covered by its subcommands' sections.
            let sections = page.subsections.filter { $0.section == "COMMANDS" && ($0.heading == name || $0.heading.hasPrefix(name + " ")) }
            #expect(!sections.isEmpty, "credbroker.1 has no .SS heading for \"credbroker \(name)\" under COMMANDS")
            let text = sections.map(\.text).joined(separator: "\n")
            // --help and --version belong to every command; OPTIONS describes them once.
            for option in command.help.options where option != "--help" && option != "--version" {
                #expect(Page.mentions(option, in: text), "credbroker.1's section for \"\(name)\" never names \(option)")
            }
        }
        // The other way round: no section for a command that does not exist, and no option
        // paragraph for an option its command does not have.
        let known = Dictionary(commands.map { ($0.path.joined(separator: " "), $0.help) }, uniquingKeysWith: { first, _ in first })
        for section in page.subsections where section.section == "COMMANDS" {
            guard let help = known[section.heading] else {
                Issue.record("credbroker.1 has a section for \"credbroker \(section.heading)\", which --help does not list")
                continue
            }
            for option in Page.options(inTags: section.tags) {
                #expect(help.options.contains(option), "credbroker.1 describes \(option) under \"\(section.heading)\", which that command does not take")
            }
        }
    }

    @Test("every option of credbrokerd --help has a paragraph under OPTIONS in credbrokerd.8")
    func credbrokerdOptions() throws {
        let page = try Page(Self.directory + "/credbrokerd.8")
        let text = try Self.helpOutput(BuiltProducts.path("credbrokerd"), [])
        let help = HelpText(text)
        #expect(help.options.contains("--unlock-key-file"), "the options of credbrokerd --help were misread: \(help.options)")
        let options = try #require(page.sections.first { $0.heading == "OPTIONS" }, "credbrokerd.8 has no OPTIONS section")
        let described = Page.options(inTags: options.tags)
        for option in help.options {
            #expect(described.contains(option), "credbrokerd.8's OPTIONS has no paragraph for \(option)")
        }
        for option in described {
            #expect(help.options.contains(option), "credbrokerd.8 describes \(option), which credbrokerd does not take")
        }
    }

    @Test("every key the daemon's config file takes has a paragraph under CONFIGURATION FILE in credbrokerd.8")
    func configFileKeys() throws {
        let page = try Page(Self.directory + "/credbrokerd.8")
        let keys = try Self.configurationKeys()
        // As written: 10 top-level keys, 8 of [limits], 3 of [audit] and 6 of [oauth].
        #expect(keys.count >= 20 && keys.contains("idle_lock_seconds") && keys.contains("keep_alive_days"),
                "the keys of Configuration.swift were misread: \(keys)")
        let section = try #require(page.sections.first { $0.heading == "CONFIGURATION FILE" }, "credbrokerd.8 has no CONFIGURATION FILE section")
        let tables = Set(page.subsections.filter { $0.section == "CONFIGURATION FILE" }.map(\.heading))
        for key in keys {
            let described = tables.contains("[\(key)]") || section.tags.contains { Page.mentions(key, in: $0) }
            #expect(described, "credbrokerd.8 does not describe the config key \"\(key)\"")
        }
    }

    @Test("every field the policy parser knows and docs/spec/policy.md names has a paragraph in credbroker-policy.5")
    func policyFields() throws {
        let page = try Page(Self.directory + "/credbroker-policy.5")
        let spec = try Self.policySpecFields()
        #expect(spec.admin.count >= 4 && spec.rule.count >= 10, "the fields of docs/spec/policy.md were misread: \(spec)")
        // The spec names no field the parser would refuse.
        #expect(spec.admin.isSubset(of: PolicyParser.adminKeys), "docs/spec/policy.md names [admin] fields the parser refuses: \(spec.admin.subtracting(PolicyParser.adminKeys))")
        #expect(spec.rule.isSubset(of: PolicyParser.ruleKeys), "docs/spec/policy.md names rule fields the parser refuses: \(spec.rule.subtracting(PolicyParser.ruleKeys))")

        let admin = try #require(page.subsections.first { $0.heading == "[admin]" }, "credbroker-policy.5 has no [admin] section")
        let rule = try #require(page.subsections.first { $0.heading == "[[rule]]" }, "credbroker-policy.5 has no [[rule]] section")
        for field in PolicyParser.adminKeys.union(spec.admin).sorted() {
            #expect(admin.tags.contains { Page.mentions(field, in: $0) }, "credbroker-policy.5's [admin] has no paragraph for \"\(field)\"")
        }
        for field in PolicyParser.ruleKeys.union(spec.rule).sorted() {
            #expect(rule.tags.contains { Page.mentions(field, in: $0) }, "credbroker-policy.5's [[rule]] has no paragraph for \"\(field)\"")
        }
    }

    @Test("groff -man -ww finds nothing to warn about",
          .enabled(if: Subprocess.isAvailable("groff"), "groff is not installed, so the pages' roff is not checked"),
          arguments: ["credbroker.1", "credbrokerd.8", "credbroker-policy.5"])
    func groffIsSilent(page: String) throws {
        let result = try Subprocess.run("groff", ["-man", "-Tutf8", "-ww", "-z", Self.directory + "/" + page], timeout: 60)
        #expect(result.status == 0 && result.stdout.isEmpty && result.stderr.isEmpty,
                "groff -man -ww on \(page) exited \(result.status): \(result.stderr)\(result.stdout)")
    }

    // MARK: - what the binaries and sources say

    struct Command {
        var path: [String]
        var help: HelpText
    }

    /// `credbroker --help`, then the help of every subcommand it lists, recursively.
    static func commandTree() throws -> [Command] {
        var found: [Command] = []
        var pending: [[String]] = [[]]
        while !pending.isEmpty {
            let path = pending.removeFirst()
            let text = try helpOutput(BuiltProducts.path("credbroker"), path)
            let help = HelpText(text)
            found.append(Command(path: path, help: help))
            // The CLI nests two levels deep; a deeper walk means the help was misread.
            if path.count < 3 { pending += help.subcommands.map { path + [$0] } }
        }
        return found
    }

    /// The `--help` text of `binary` with the arguments `path`.
    static func helpOutput(_ binary: String, _ path: [String]) throws -> String {
        let result = try Subprocess.run(binary, path + ["--help"], timeout: 60)
        #expect(result.status == 0, "\(binary) \(path.joined(separator: " ")) --help exited \(result.status): \(result.stderr)")
        return result.stdout
    }

    /// The keys of the daemon's config file, from the `Set<String>` literals of
    /// Configuration.swift (the parser's own lists: an unknown key is refused against them).
    /// BrokerCLITests does not link BrokerDaemon, so they are read from the source.
    static func configurationKeys() throws -> [String] {
        let source = try String(contentsOfFile: BuiltProducts.packageRoot + "/Sources/BrokerDaemon/Configuration.swift", encoding: .utf8)
        var keys: [String] = []
        for line in source.split(separator: "\n") {
            guard let start = line.range(of: "Set<String> = [") else { continue }
            let list = line[start.upperBound...]
            // Between the first and second quote, the third and fourth, ...
            for (index, part) in list.split(separator: "\"", omittingEmptySubsequences: false).enumerated() where index % 2 == 1 {
                keys.append(String(part))
            }
        }
        return keys
    }

    /// The fields docs/spec/policy.md names: the keys of its TOML syntax block, by table, and
    /// the selectors of its matching table.
    static func policySpecFields() throws -> (admin: Set<String>, rule: Set<String>) {
        let text = try String(contentsOfFile: BuiltProducts.packageRoot + "/docs/spec/policy.md", encoding: .utf8)
        var admin = Set<String>()
        var rule = Set<String>()
        var inTOML = false
        var table = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("```") {
                inTOML = line == "```toml"
                continue
            }
            if !inTOML {
                // A row of the selector table: | `users` | ... |
                if line.hasPrefix("| `"), let name = line.dropFirst(3).split(separator: "`").first,
                   !name.isEmpty, name.allSatisfy({ $0.isLowercase || $0 == "_" }) {
                    rule.insert(String(name))
                }
                continue
            }
            if line == "[admin]" { table = "admin"; continue }
            if line == "[[rule]]" { table = "rule"; continue }
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLowercase || $0 == "_" }) else { continue }
            if table == "admin" { admin.insert(key) } else if table == "rule" { rule.insert(key) }
        }
        return (admin, rule)
    }

    // MARK: - reading help texts and pages

    /// What an ArgumentParser `--help` lists in its SUBCOMMANDS and OPTIONS sections:
    /// subcommand names and long options.
    struct HelpText {
        var subcommands: [String] = []
        var options: [String] = []

        init(_ text: String) {
            var section = ""
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                // A section header is a line of capitals ending in a colon ("OPTIONS:"); a
                // discussion's "Examples:" is not one.
                if line.hasSuffix(":"), line.allSatisfy({ $0.isUppercase || $0 == ":" }) {
                    section = String(line.dropLast())
                    continue
                }
                // Entries start in the third column; wrapped descriptions further right.
                guard line.hasPrefix("  "), let third = line.dropFirst(2).first else { continue }
                if section == "OPTIONS" && third == "-" {
                    // "  -h, --help    Show help information." or "  --scope <scope>    A scope".
                    let words = line.split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ",")) }
                    if let long = words.first(where: { $0.hasPrefix("--") }) { options.append(long) }
                } else if section == "SUBCOMMANDS" && third.isLowercase {
                    // "  add-slot    Add a key slot ..." (a default subcommand adds " (default)").
                    if let name = line.split(separator: " ").first { subcommands.append(String(name)) }
                }
            }
        }
    }

    /// A man page's roff source, with comments dropped and the escapes the pages use removed
    /// (`\-` is "-", font changes and zero-width escapes vanish), cut into its `.SH` sections
    /// and `.SS` subsections, each with the tags of its `.TP` paragraphs.
    struct Page {
        struct Part {
            var heading: String
            /// The `.SH` section this part lies in (for a section, its own heading).
            var section: String
            var text = ""
            /// The first line after each `.TP`: the paragraph's tag.
            var tags: [String] = []
        }

        var text = ""
        var sections: [Part] = []
        var subsections: [Part] = []

        init(_ path: String) throws {
            let source = try String(contentsOfFile: path, encoding: .utf8)
            var inSubsection = false
            var previous = ""
            for raw in source.split(separator: "\n", omittingEmptySubsequences: false) where !raw.hasPrefix(".\\\"") {
                let line = Self.normalize(String(raw))
                if line.hasPrefix(".SH ") {
                    let heading = Self.heading(line)
                    sections.append(Part(heading: heading, section: heading))
                    inSubsection = false
                } else if line.hasPrefix(".SS ") {
                    subsections.append(Part(heading: Self.heading(line), section: sections.last?.heading ?? ""))
                    inSubsection = true
                }
                text += line + "\n"
                if !sections.isEmpty {
                    sections[sections.count - 1].text += line + "\n"
                    if previous == ".TP" { sections[sections.count - 1].tags.append(line) }
                }
                if inSubsection {
                    subsections[subsections.count - 1].text += line + "\n"
                    if previous == ".TP" { subsections[subsections.count - 1].tags.append(line) }
                }
                previous = line
            }
        }

        static func normalize(_ line: String) -> String {
            var s = line
            let escapes = [("\\-", "-"), ("\\fB", ""), ("\\fI", ""), ("\\fR", ""), ("\\fP", ""), ("\\&", ""), ("\\%", ""),
                           ("\\(dq", "\""), ("\\(lq", "\""), ("\\(rq", "\""), ("\\e", "\\")]
            for (escape, replacement) in escapes { s = s.replacingOccurrences(of: escape, with: replacement) }
            return s
        }

        /// `.SS "vault add-slot"` → `vault add-slot`.
        static func heading(_ line: String) -> String {
            line.dropFirst(4).trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        }

        /// Whether `word` occurs in `text` on its own, not as part of a longer option or name
        /// (`--key` does not occur in `--key-file`).
        static func mentions(_ word: String, in text: String) -> Bool {
            var start = text.startIndex
            while start < text.endIndex, let range = text.range(of: word, range: start..<text.endIndex) {
                let before: Character? = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
                let after: Character? = range.upperBound == text.endIndex ? nil : text[range.upperBound]
                if !isNameCharacter(before) && !isNameCharacter(after) { return true }
                start = range.upperBound
            }
            return false
        }

        static func isNameCharacter(_ c: Character?) -> Bool {
            guard let c else { return false }
            return c.isLetter || c.isNumber || c == "-" || c == "_"
        }

        /// The long options that paragraph tags name (`.BI --kdf " strength"` names `--kdf`).
        static func options(inTags tags: [String]) -> [String] {
            var out: [String] = []
            for tag in tags {
                for word in tag.split(whereSeparator: { $0 == " " || $0 == "\"" || $0 == "," }) where word.hasPrefix("--") {
                    let option = String(word.prefix { $0.isLetter || $0.isNumber || $0 == "-" })
                    if !out.contains(option) { out.append(option) }
                }
            }
            return out
        }
    }
}
