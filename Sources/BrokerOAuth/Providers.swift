import BrokerCore

/// One entry of the `credbroker providers` listing.
public struct ProviderInfo: Sendable {
    public var type: ProviderType
    public var summary: String
    /// Preset name → full scope strings (expanded with BrokerCore's `ScopeAliases`).
    public var scopePresets: [String: [String]]

    public init(type: ProviderType, summary: String, scopePresets: [String: [String]]) {
        self.type = type
        self.summary = summary
        self.scopePresets = scopePresets
    }
}

/// The built-in provider types, for `credbroker providers` and `setup`.
public enum Providers {
    public static let all: [ProviderInfo] = [
        ProviderInfo(
            type: .google,
            summary: "Google Calendar, Gmail and Contacts (People API); OAuth client or service account",
            scopePresets: presets([
                "calendar": ["calendar"], "calendar.readonly": ["calendar.readonly"],
                "gmail.readonly": ["gmail.readonly"], "gmail.send": ["gmail.send"],
                "contacts": ["contacts"], "contacts.readonly": ["contacts.readonly"],
            ])),
        ProviderInfo(
            type: .microsoft,
            summary: "Microsoft 365 / Outlook calendar, mail and contacts through Microsoft Graph (Entra ID app)",
            scopePresets: presets([
                "calendar": ["Calendars.ReadWrite"], "calendar.readonly": ["Calendars.Read"],
                "mail.readonly": ["Mail.Read"], "mail.send": ["Mail.Send"],
                "contacts": ["Contacts.ReadWrite"], "contacts.readonly": ["Contacts.Read"],
            ])),
        ProviderInfo(
            type: .zoom,
            summary: "Zoom users and meetings; OAuth app or server-to-server app (account credentials)",
            scopePresets: [
                "user.read": ["user:read"], "meeting.read": ["meeting:read"],
                "meeting": ["meeting:read", "meeting:write"],
            ]),
        ProviderInfo(
            type: .generic,
            summary: "any OAuth 2.0 provider, defined entirely by its record (endpoints, client authentication)",
            scopePresets: [:]),
    ]

    /// The entry for `type`.
    public static func info(_ type: ProviderType) -> ProviderInfo {
        all.first { $0.type == type }!
    }

    static func presets(_ aliases: [String: [String]]) -> [String: [String]] {
        aliases.mapValues { ScopeAliases.expandAll($0) }
    }
}
