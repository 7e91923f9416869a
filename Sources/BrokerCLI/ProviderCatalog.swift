import ArgumentParser
import BrokerCore
import Foundation

/// The built-in provider types (DESIGN.md "Providers") as the CLI presents them: a line of
/// description and the scope presets `setup` offers. Plain data; the OAuth details live in
/// the daemon.
package enum ProviderType: String, CaseIterable, Sendable, ExpressibleByArgument {
    case google, microsoft, zoom, generic

    package var summary: String {
        switch self {
        case .google: "Google Calendar, Gmail and Contacts; user logins (browser or device code) and service accounts"
        case .microsoft: "Microsoft Graph: Outlook calendar, mail and contacts; user logins and app-only access (secret or certificate)"
        case .zoom: "Zoom meetings and users; user logins and server-to-server apps (account credentials)"
        case .generic: "any other OAuth 2.0 provider: you give its endpoints and client authentication"
        }
    }

    /// The scopes offered in `setup`'s menu, as the CLI accepts them (aliases where
    /// BrokerCore has one).
    package var scopePresets: [String] {
        switch self {
        case .google: ["calendar", "calendar.readonly", "gmail.readonly", "gmail.send", "contacts", "contacts.readonly"]
        case .microsoft: ["Calendars.ReadWrite", "Calendars.Read", "Mail.Read", "Mail.Send", "Contacts.ReadWrite", "Contacts.Read", "User.Read"]
        case .zoom: ["user:read", "meeting:read", "meeting:write"]
        case .generic: []
        }
    }

    /// Where the client id and secret come from, for setup's prompts and docs.
    package var consoleHint: String {
        switch self {
        case .google: "Google Cloud console, APIs & Services > Credentials (an OAuth client of type Desktop app)"
        case .microsoft: "Azure portal, Microsoft Entra ID > App registrations (Application (client) ID; Certificates & secrets)"
        case .zoom: "Zoom App Marketplace > Develop > Build App (General app, or Server-to-Server OAuth)"
        case .generic: "the provider's developer console"
        }
    }
}

/// A name for a provider app or profile: it goes into URL paths and vault record ids.
enum RecordName {
    static func check(_ name: String, what: String) throws {
        let ok = !name.isEmpty && name.utf8.count <= 64 && name.first != "." && name.first != "-"
            && name.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-" || $0 == "_" || $0 == "." }
        guard ok else {
            throw ValidationError("\(what) \"\(name)\" must be 1 to 64 letters, digits, \"-\", \"_\" or \".\", not starting with \".\" or \"-\"")
        }
    }
}

/// The `--profile` option every OAuth command takes.
struct ProfileOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The profile (default: $CREDBROKER_PROFILE, else default).", valueName: "name"))
    var profile: String?

    /// The profile named, else $CREDBROKER_PROFILE, else "default".
    func resolved(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let profile { return profile }
        if let env = environment["CREDBROKER_PROFILE"], !env.isEmpty { return env }
        return "default"
    }
}

