/// Short names for OAuth scopes, as plain data (DESIGN.md: the client libraries use these
/// tables without linking the OAuth engine or the crypto).
///
/// On the wire, in policies and in the vault, scopes are always the provider's full strings.
/// The CLI, policy files and client libraries also accept these aliases; they are expanded
/// when a policy file is loaded or a command line is read. Google's aliases are lowercase and
/// dotted, Microsoft's are Graph permission names in CamelCase, so one table serves both
/// without ambiguity. A string that is not an alias is taken as a full scope string.
public enum ScopeAliases {
    static let google = "https://www.googleapis.com/auth/"
    static let graph = "https://graph.microsoft.com/"

    /// alias → full scope string.
    public static let table: [String: String] = {
        var t: [String: String] = [:]
        let googleNames: [String] = [
            "calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly",
            "calendar.settings.readonly", "gmail.readonly", "gmail.send", "gmail.modify",
            "gmail.compose", "gmail.labels", "gmail.metadata", "contacts", "contacts.readonly",
            "contacts.other.readonly", "directory.readonly", "userinfo.email", "userinfo.profile",
            "drive", "drive.readonly", "drive.file",
        ]
        for name in googleNames { t[name] = google + name }
        t["gmail.full"] = "https://mail.google.com/"
        let graphNames: [String] = [
            "Calendars.Read", "Calendars.ReadWrite", "Calendars.Read.Shared",
            "Calendars.ReadWrite.Shared", "Mail.Read", "Mail.ReadWrite", "Mail.Send",
            "Mail.ReadBasic", "Contacts.Read", "Contacts.ReadWrite", "User.Read",
            "User.ReadBasic.All", "People.Read", "Files.Read", "Files.ReadWrite",
        ]
        for name in graphNames { t[name] = graph + name }
        t["graph.default"] = graph + ".default"
        return t
    }()

    /// The full scope string for `scope`: its expansion if it is an alias, else itself
    /// (trimmed). OpenID scopes (`openid`, `email`, `profile`, `offline_access`) are
    /// already full strings at every provider and stay as they are.
    public static func expand(_ scope: String) -> String {
        let trimmed = scope.trimmingASCIIWhitespace()
        return table[trimmed] ?? trimmed
    }

    /// Expands every scope and splits comma-separated lists ("a,b" as the CLI accepts),
    /// dropping empty entries and duplicates while keeping first-seen order.
    public static func expandAll(_ scopes: [String]) -> [String] {
        // Fast path (the token path): no commas, no padding, few entries.
        if scopes.count <= 8 && scopes.allSatisfy({ isPlain($0) }) {
            var out: [String] = []
            out.reserveCapacity(scopes.count)
            for scope in scopes {
                let full = table[scope] ?? scope
                if !out.contains(full) { out.append(full) }
            }
            return out
        }
        var seen = Set<String>()
        var out: [String] = []
        for entry in scopes {
            for part in entry.split(separator: ",", omittingEmptySubsequences: true) {
                let full = expand(String(part))
                if !full.isEmpty && seen.insert(full).inserted { out.append(full) }
            }
        }
        return out
    }

    static func isPlain(_ s: String) -> Bool {
        guard let first = s.utf8.first, let last = s.utf8.last else { return false }
        if first <= 0x20 || last <= 0x20 { return false }
        return !s.utf8.contains(UInt8(ascii: ","))
    }

    /// The shortest alias for a full scope string, for display; nil when it has none.
    public static func alias(for full: String) -> String? {
        reverse[full]
    }

    static let reverse: [String: String] = {
        var r: [String: String] = [:]
        for (alias, full) in table where r[full] == nil || alias.count < r[full]!.count { r[full] = alias }
        return r
    }()
}

extension String {
    /// The string without leading and trailing ASCII spaces, tabs and line breaks.
    public func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }
}
