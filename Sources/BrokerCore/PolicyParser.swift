/// A policy file that cannot be used, with the file, the rule, the field and the line where
/// they are known, and what to change.
public struct PolicyError: Error, Sendable, CustomStringConvertible, Equatable {
    public var file: String
    public var rule: String?
    public var field: String?
    public var line: Int?
    public var message: String

    public init(file: String, rule: String? = nil, field: String? = nil, line: Int? = nil, message: String) {
        self.file = file
        self.rule = rule
        self.field = field
        self.line = line
        self.message = message
    }

    /// `policy "prod.toml", line 12, rule "brief", field "scopes": ...`
    public var description: String {
        var s = "policy \"\(file)\""
        if let line { s += ", line \(line)" }
        if let rule { s += ", rule \"\(rule)\"" }
        if let field { s += ", field \"\(field)\"" }
        return s + ": " + message
    }
}

/// Reads policy files (TOML) into a PolicySet. Pure: callers read the files (and check
/// their owner and mode) and hand over the text.
public enum PolicyParser {
    static let selectorKeys: Set<String> = ["users", "uids", "groups", "gids", "units", "executables"]
    static let grantKeys: Set<String> = ["profiles", "providers", "accounts", "scopes", "metrics"]
    static let ruleKeys: Set<String> = selectorKeys.union(grantKeys).union(["name", "comment"])
    static let adminKeys: Set<String> = ["users", "uids", "groups", "gids"]
    static let maxFileBytes = 1024 * 1024 // a policy set is a few KiB; bound what we parse

    /// Parses the files in the order given (the daemon sorts them by name); rule names must
    /// be unique within a file. Admin lists of several files are merged.
    public static func parse(files: [(name: String, text: String)]) throws(PolicyError) -> PolicySet {
        var set = PolicySet()
        for file in files {
            let parsed = try parse(file: file.name, text: file.text)
            set.rules += parsed.rules
            set.admin.users += parsed.admin.users
            set.admin.uids += parsed.admin.uids
            set.admin.groups += parsed.admin.groups
            set.admin.gids += parsed.admin.gids
            set.files.append(file.name)
        }
        return set
    }

    /// Parses one file.
    public static func parse(file: String, text: String) throws(PolicyError) -> PolicySet {
        guard text.utf8.count <= maxFileBytes else {
            throw PolicyError(file: file, message: "the file is larger than \(maxFileBytes) bytes")
        }
        let table: TOMLTable
        do throws(TOMLError) {
            table = try TOML.parse(text)
        } catch {
            throw PolicyError(file: file, line: error.line, message: "not valid TOML: \(error.message)")
        }
        let ruleLines = headerLines(of: "[[rule]]", in: text)
        var set = PolicySet(files: [file])
        for key in table.keys where key != "rule" && key != "admin" {
            throw PolicyError(file: file, field: key, message: "unknown top-level key; a policy file holds [admin] and [[rule]] tables")
        }
        if let admin = table["admin"] {
            guard let adminTable = admin.table else {
                throw PolicyError(file: file, field: "admin", message: "must be a table: [admin]")
            }
            set.admin = try parseAdmin(adminTable, file: file, line: headerLines(of: "[admin]", in: text).first)
        }
        if let rules = table["rule"] {
            guard let array = rules.array else {
                throw PolicyError(file: file, field: "rule", message: "must be an array of tables: [[rule]]")
            }
            var names = Set<String>()
            for (index, element) in array.enumerated() {
                let line = index < ruleLines.count ? ruleLines[index] : nil
                guard let ruleTable = element.table else {
                    throw PolicyError(file: file, field: "rule", line: line, message: "rule \(index + 1) is not a table")
                }
                let rule = try parseRule(ruleTable, file: file, index: index, line: line)
                guard names.insert(rule.name).inserted else {
                    throw PolicyError(file: file, rule: rule.name, field: "name", line: line, message: "a rule of this name already exists in this file")
                }
                set.rules.append(rule)
            }
        }
        return set
    }

    static func parseRule(_ table: TOMLTable, file: String, index: Int, line: Int?) throws(PolicyError) -> PolicyRule {
        var name = "rule-\(index + 1)"
        if let value = table["name"] {
            guard let s = value.string, !s.isEmpty, s.utf8.count <= 128,
                  !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw PolicyError(file: file, rule: name, field: "name", line: line, message: "must be a non-empty string of at most 128 bytes")
            }
            name = s
        }
        func fail(_ field: String, _ message: String) -> PolicyError {
            PolicyError(file: file, rule: name, field: field, line: line, message: message)
        }
        for key in table.keys where !ruleKeys.contains(key) {
            let hint = suggestion(for: key, among: ruleKeys).map { "; did you mean \"\($0)\"?" } ?? ""
            throw fail(key, "unknown field\(hint)")
        }
        var rule = PolicyRule(file: file, name: name, line: line)
        rule.users = try strings(table, "users", fail)
        rule.uids = try ids(table, "uids", fail)
        rule.groups = try strings(table, "groups", fail)
        rule.gids = try ids(table, "gids", fail)
        rule.units = try strings(table, "units", fail)
        rule.executables = try strings(table, "executables", fail)
        for exe in rule.executables where !exe.hasPrefix("/") {
            throw fail("executables", "\"\(exe)\" is not an absolute path")
        }
        if rule.users.isEmpty && rule.uids.isEmpty && rule.groups.isEmpty && rule.gids.isEmpty && rule.units.isEmpty {
            if !rule.executables.isEmpty {
                throw fail("executables", "an executable cannot grant alone (connect-then-exec and pid reuse fool it); add users, uids, groups, gids or units")
            }
            throw fail("users", "the rule matches no one; give at least one of users, uids, groups, gids, units")
        }
        rule.profiles = try strings(table, "profiles", fail)
        rule.providers = try strings(table, "providers", fail)
        rule.accounts = try strings(table, "accounts", fail)
        rule.scopes = ScopeAliases.expandAll(try strings(table, "scopes", fail))
        if let metrics = table["metrics"] {
            guard let b = metrics.bool else { throw fail("metrics", "must be true or false") }
            rule.metrics = b
        }
        let grantsTokens = !rule.profiles.isEmpty || !rule.providers.isEmpty || !rule.scopes.isEmpty
        if grantsTokens {
            if rule.profiles.isEmpty { throw fail("profiles", "missing; name the profiles this rule grants (or \"*\")") }
            if rule.providers.isEmpty { throw fail("providers", "missing; name the provider apps this rule grants (or \"*\")") }
            if rule.scopes.isEmpty { throw fail("scopes", "missing; name the scopes this rule grants (or \"*\")") }
        } else if !rule.metrics {
            throw fail("scopes", "the rule grants nothing; give profiles, providers and scopes (or metrics = true)")
        }
        return rule
    }

    static func parseAdmin(_ table: TOMLTable, file: String, line: Int?) throws(PolicyError) -> AdminList {
        func fail(_ field: String, _ message: String) -> PolicyError {
            PolicyError(file: file, rule: nil, field: "admin.\(field)", line: line, message: message)
        }
        for key in table.keys where !adminKeys.contains(key) {
            throw fail(key, "unknown field; [admin] takes users, uids, groups and gids")
        }
        return AdminList(users: try strings(table, "users", fail), uids: try ids(table, "uids", fail),
                         groups: try strings(table, "groups", fail), gids: try ids(table, "gids", fail))
    }

    static func strings(_ table: TOMLTable, _ key: String, _ fail: (String, String) -> PolicyError) throws(PolicyError) -> [String] {
        guard let value = table[key] else { return [] }
        if let single = value.string { return try checked([single], key, fail) }
        guard let array = value.array else { throw fail(key, "must be a list of strings") }
        var out: [String] = []
        for element in array {
            guard let s = element.string else { throw fail(key, "must be a list of strings") }
            out.append(s)
        }
        return try checked(out, key, fail)
    }

    static func checked(_ values: [String], _ key: String, _ fail: (String, String) -> PolicyError) throws(PolicyError) -> [String] {
        for v in values where v.isEmpty || v.utf8.count > 1024 || v.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw fail(key, "holds an empty, overlong or control-character value")
        }
        return values
    }

    static func ids(_ table: TOMLTable, _ key: String, _ fail: (String, String) -> PolicyError) throws(PolicyError) -> [UInt32] {
        guard let value = table[key] else { return [] }
        var raw: [Int] = []
        if let single = value.int {
            raw = [single]
        } else if let array = value.array {
            for element in array {
                guard let n = element.int else { throw fail(key, "must be a list of integers") }
                raw.append(n)
            }
        } else {
            throw fail(key, "must be a list of integers")
        }
        var out: [UInt32] = []
        for n in raw {
            guard n >= 0, n < Int(UInt32.max) else { throw fail(key, "\(n) is not a valid id") }
            out.append(UInt32(n))
        }
        return out
    }

    /// 1-based line numbers of lines that are exactly `header` (ignoring spaces and comments).
    static func headerLines(of header: String, in text: String) -> [Int] {
        var out: [Int] = []
        var number = 0
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            var content = Substring(line)
            if let hash = content.firstIndex(of: "#") { content = content[..<hash] }
            if String(content).trimmingASCIIWhitespace() == header { out.append(number) }
        }
        return out
    }

    /// The known key closest to a misspelt one (singular for plural, one edit away).
    static func suggestion(for key: String, among keys: Set<String>) -> String? {
        if keys.contains(key + "s") { return key + "s" }
        if key == "user" || key == "uid" || key == "group" || key == "gid" || key == "unit" { return key + "s" }
        if key == "exe" || key == "exes" || key == "executable" { return "executables" }
        if key == "provider" { return "providers" }
        return keys.sorted().first { editDistance($0, key) <= 1 }
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        for i in 1...x.count {
            var current = [i] + Array(repeating: 0, count: y.count)
            for j in 1...y.count {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[y.count]
    }
}
