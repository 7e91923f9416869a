import BrokerCore
import BrokerVault
package import BrokerWire
package import Foundation

/// The token files `credbroker import` knows (docs/migrating.md), recognised by content.
package enum ImportFormat: String, Sendable {
    case authorizedUser = "google-auth authorized_user JSON"
    case oauthlibToken = "google-auth-oauthlib token.json"
    case serviceAccount = "Google service-account key"
    case msalCache = "MSAL token cache"
    case generic = "token JSON"
    case gcloudDatabase = "gcloud credentials.db"
}

/// One credential found in a file: what `POST /v1/admin/import` gets, minus the profile.
package struct ImportCandidate: Sendable {
    package var format: ImportFormat
    /// google, microsoft, zoom or generic.
    package var provider: String
    /// The app name used when `--name` is not given.
    package var defaultAppName: String
    /// The app the file describes (nil: a generic provider, whose app must exist).
    package var app: AppRecord?
    /// nil: asked of the provider at verification.
    package var account: String?
    package var grant: GrantRecord
    /// The provider's environment named by the file when it is not the public cloud's
    /// (an MSAL cache of a national cloud): such a file needs its app set up first.
    package var authorityHost: String?
}

/// Parses token files. Errors name the file and the field; the values they show (`type`,
/// `universe_domain`, `token_uri`, account names, SQLite's own message) are never a secret
/// member's and are shown as printable ASCII, shortened.
package enum ImportParser {
    /// Google's token endpoints, past and present: a file naming another `token_uri` is
    /// refused rather than trusted with where the refresh token goes.
    static let googleTokenURIs: Set<String> = [
        "https://oauth2.googleapis.com/token", "https://accounts.google.com/o/oauth2/token",
        "https://www.googleapis.com/oauth2/v4/token", "https://www.googleapis.com/oauth2/v3/token",
    ]
    static let microsoftPublicHosts: Set<String> = ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "login.live.com"]

    package static func parse(_ bytes: [UInt8], source: String, provider: String?, now: Date = Date()) throws(CLIError) -> (ImportFormat, [ImportCandidate]) {
        if ForeignDatabase.isSQLite(bytes) {
            if let provider, provider != "google" {
                throw CLIError(message: "\(source) is gcloud's credentials.db, which holds Google credentials, not \(provider)")
            }
            let rows: [ForeignDatabase.Credential]
            do { rows = try ForeignDatabase.gcloudCredentials(bytes, source: source) } catch {
                throw CLIError(message: error.message)
            }
            guard !rows.isEmpty else { throw CLIError(message: "\(source) is gcloud's credentials.db but holds no credential") }
            var out: [ImportCandidate] = []
            for row in rows {
                let what = "\(source), account \"\(printableText(row.account, limit: 80))\""
                let object = try jsonObject(row.json, source: what)
                switch object["type"] as? String {
                case "authorized_user":
                    var c = try authorizedUser(object, source: what)
                    c.format = .gcloudDatabase
                    c.account = row.account
                    c.defaultAppName = "gcloud"
                    out.append(c)
                case "service_account":
                    var c = try serviceAccount(row.json, source: what)
                    c.format = .gcloudDatabase
                    out.append(c)
                default:
                    throw CLIError(message: "\(what): a credential of type \(shown(object["type"])) (credbroker imports authorized_user and service_account)")
                }
            }
            return (.gcloudDatabase, out)
        }
        let object = try jsonObject(bytes, source: source)
        let format: ImportFormat
        if let type = object["type"] {
            switch type as? String {
            case "authorized_user": format = .authorizedUser
            case "service_account": format = .serviceAccount
            default:
                throw CLIError(message: "\(source) has \"type\": \(shown(type)); credbroker imports authorized_user and service_account files",
                               hint: "an OAuth client file (\"installed\" or \"web\") holds no token: use credbroker setup google --client-secret-file, then credbroker login")
            }
        } else if ["Account", "RefreshToken", "AccessToken", "IdToken", "AppMetadata"].contains(where: { object[$0] != nil }) {
            format = .msalCache
        } else if object["access_token"] != nil || (object["refresh_token"] != nil && object["token"] == nil && object["token_uri"] == nil) {
            format = .generic
        } else if object["refresh_token"] != nil || object["token"] != nil {
            format = .oauthlibToken
        } else {
            throw CLIError(message: "\(source) is JSON but not a token file credbroker knows",
                           hint: "credbroker import reads google-auth, google-auth-oauthlib, service-account, MSAL cache and generic token files and gcloud's credentials.db (docs/migrating.md)")
        }
        let implied: String? = switch format {
        case .authorizedUser, .oauthlibToken, .serviceAccount: "google"
        case .msalCache: "microsoft"
        default: nil
        }
        if let provider, let implied, provider != implied {
            throw CLIError(message: "\(source) is a \(format.rawValue), which holds \(implied) credentials, not \(provider)")
        }
        switch format {
        case .authorizedUser: return (format, [try authorizedUser(object, source: source)])
        case .oauthlibToken: return (format, [try oauthlibToken(object, source: source, now: now)])
        case .serviceAccount: return (format, [try serviceAccount(bytes, source: source)])
        case .msalCache: return (format, try msal(object, source: source))
        case .generic:
            guard let provider else {
                throw CLIError(message: "\(source) is a token file that does not say whose tokens it holds", hint: "name the provider: --provider google|microsoft|zoom|generic")
            }
            return (format, [try generic(object, source: source, provider: provider, now: now)])
        case .gcloudDatabase: preconditionFailure("handled above")
        }
    }

    /// What will be created: names and scopes, never a secret. The names come from the file
    /// (or the command line) and go to a terminal, so they are shown as printable text.
    package static func plan(_ request: ImportRequest, _ candidate: ImportCandidate) -> String {
        func quoted(_ text: String) -> String { "\"" + printableText(text, limit: 120) + "\"" }
        var parts = ["profile " + quoted(request.profile), "app \(quoted(request.app)) (\(candidate.provider))"]
        parts.append(request.account.map { "account " + quoted($0) } ?? "account: asked of the provider")
        if request.grant.scopes.isEmpty {
            parts.append("scopes: from the provider's answer")
        } else {
            parts.append("scopes " + request.grant.scopes.map { printableText(ScopeAliases.alias(for: $0) ?? $0, limit: 120) }.joined(separator: " "))
        }
        if request.grant.flow == "jwt_bearer" { parts.append("service account") }
        var text = parts.joined(separator: ", ")
        if candidate.authorityHost != nil { text += " (a national cloud: the app must already be set up)" }
        return text
    }

    // MARK: - The formats

    static func authorizedUser(_ o: [String: Any], source: String) throws(CLIError) -> ImportCandidate {
        let f = Fields(o, source: source)
        let clientID = try f.required("client_id"), secret = try f.required("client_secret"), refresh = try f.required("refresh_token")
        if let universe = try f.optional("universe_domain"), universe != "googleapis.com" {
            throw CLIError(message: "\(source) is for the Google universe \"\(printableText(universe, limit: 40))\", whose endpoints credbroker does not know; set the app up with credbroker setup generic")
        }
        return ImportCandidate(format: .authorizedUser, provider: "google", defaultAppName: "google",
                               app: AppRecord(type: "google", clientID: clientID, clientSecret: secret),
                               account: try f.optional("account"), grant: GrantRecord(scopes: [], refreshToken: refresh))
    }

    static func oauthlibToken(_ o: [String: Any], source: String, now: Date) throws(CLIError) -> ImportCandidate {
        let f = Fields(o, source: source)
        let clientID = try f.required("client_id")
        let secret = try f.optional("client_secret")
        guard let refresh = try f.optional("refresh_token") else {
            throw CLIError(message: "\(source) holds no \"refresh_token\" (the app was authorized without offline access), so its token dies within the hour",
                           hint: "log in instead: credbroker login google --profile PROFILE")
        }
        if let uri = try f.optional("token_uri"), !googleTokenURIs.contains(uri) {
            throw CLIError(message: "\(source) names \"token_uri\" \(printableText(uri, limit: 120)), which is not Google's; credbroker sends refresh tokens only to the app's own token endpoint",
                           hint: "set the app up with its endpoints (credbroker setup generic) and import with --provider generic --name APP")
        }
        var scopes = try f.stringList("scopes")
        if scopes.isEmpty, let text = try f.optional("scope") { scopes = text.split(separator: " ").map(String.init) }
        var grant = GrantRecord(scopes: scopes, refreshToken: refresh)
        if let token = try f.optional("token"), let expiry = try f.optional("expiry"), let date = parseTime(expiry).map(wholeSeconds), date > now {
            grant.accessToken = token
            grant.expiresAt = RFC3339.string(date)
        }
        var account = try f.optional("account")
        if account?.isEmpty == true { account = nil }
        return ImportCandidate(format: .oauthlibToken, provider: "google", defaultAppName: "google",
                               app: AppRecord(type: "google", clientID: clientID, clientSecret: secret), account: account, grant: grant)
    }

    static func serviceAccount(_ bytes: [UInt8], source: String) throws(CLIError) -> ImportCandidate {
        let parsed = try ServiceAccountFile.parse(bytes, source: source)
        let email = parsed.key.clientEmail
        let local = email.split(separator: "@").first.map(String.init) ?? "service-account"
        return ImportCandidate(format: .serviceAccount, provider: "google", defaultAppName: "google-" + local,
                               app: AppRecord(type: "google", clientID: parsed.clientID), account: email,
                               grant: GrantRecord(scopes: [], flow: "jwt_bearer", serviceAccount: parsed.key))
    }

    /// An MSAL token cache (the JSON msal-python's SerializableTokenCache writes): one
    /// credential per refresh token, its account from the Account section, its scopes the
    /// union of the targets of that account's access tokens for the same client.
    static func msal(_ o: [String: Any], source: String) throws(CLIError) -> [ImportCandidate] {
        func section(_ name: String) throws(CLIError) -> [[String: Any]] {
            guard let value = o[name] else { return [] }
            guard let entries = value as? [String: Any] else { throw CLIError(message: "\(source): the \"\(name)\" section is not an object") }
            var out: [[String: Any]] = []
            for key in entries.keys.sorted() {
                guard let entry = entries[key] as? [String: Any] else { throw CLIError(message: "\(source): an entry of \"\(name)\" is not an object") }
                out.append(entry)
            }
            return out
        }
        let refreshTokens = try section("RefreshToken")
        let accounts = try section("Account")
        let accessTokens = try section("AccessToken")
        guard !refreshTokens.isEmpty else {
            throw CLIError(message: "\(source) is an MSAL token cache without a refresh token, so its tokens die within the hour",
                           hint: "log in instead: credbroker login microsoft --profile PROFILE")
        }
        var out: [ImportCandidate] = []
        for (index, entry) in refreshTokens.enumerated() {
            let f = Fields(entry, source: "\(source), RefreshToken entry \(index + 1)")
            let secret = try f.required("secret")
            let home = try f.required("home_account_id")
            let clientID = try f.required("client_id")
            let environment = try f.optional("environment") ?? "login.microsoftonline.com"
            guard let account = accounts.first(where: { ($0["home_account_id"] as? String) == home && (($0["environment"] as? String) ?? environment) == environment }) else {
                throw CLIError(message: "\(source): the refresh token of RefreshToken entry \(index + 1) has no matching Account entry, so its account is unknown")
            }
            let af = Fields(account, source: "\(source), the Account of RefreshToken entry \(index + 1)")
            let username = try af.required("username")
            let realm = try af.optional("realm")
            var scopes: [String] = []
            for token in accessTokens where (token["home_account_id"] as? String) == home && (token["client_id"] as? String) == clientID {
                for scope in ((token["target"] as? String) ?? "").split(separator: " ").map(String.init) where !scopes.contains(scope) {
                    scopes.append(scope)
                }
            }
            let host = microsoftPublicHosts.contains(environment.lowercased()) ? nil : environment
            out.append(ImportCandidate(format: .msalCache, provider: "microsoft", defaultAppName: "microsoft",
                                       app: AppRecord(type: "microsoft", clientID: clientID, tenant: realm ?? "common", clientAuth: "none"),
                                       account: username, grant: GrantRecord(scopes: scopes, refreshToken: secret), authorityHost: host))
        }
        return out
    }

    /// A token endpoint's answer saved as it came (`access_token`, `refresh_token`,
    /// `expires_in` or `expires_at`, `scope`) plus `client_id` and optionally
    /// `client_secret` and `account`.
    static func generic(_ o: [String: Any], source: String, provider: String, now: Date) throws(CLIError) -> ImportCandidate {
        let f = Fields(o, source: source)
        let refresh = try f.optional("refresh_token")
        let access = try f.optional("access_token")
        guard refresh != nil || access != nil else { throw CLIError(message: "\(source) holds neither \"refresh_token\" nor \"access_token\"") }
        let clientID = try f.optional("client_id")
        var scopes = try f.stringList("scopes")
        if scopes.isEmpty, let text = try f.optional("scope") { scopes = text.split(separator: " ").map(String.init) }
        var grant = GrantRecord(scopes: scopes, refreshToken: refresh)
        if let access {
            var expires: Date?
            if let seconds = o["expires_at"] as? NSNumber, !(o["expires_at"] is String) {
                // A number that is no time RFC 3339 can write (1e57 once stopped the CLI)
                // is no expiry, as an unreadable text is.
                let value = seconds.doubleValue
                if value.isFinite, value >= 0, value <= Double(RFC3339.latestSeconds) { expires = Date(timeIntervalSince1970: value) }
            } else if let text = try f.optional("expires_at") {
                expires = parseTime(text)
            }
            // Compared in the whole seconds it is stored in: an expiry within the second
            // after now would be stored as now.
            if let date = expires.map(wholeSeconds), date > now {
                grant.accessToken = access
                grant.expiresAt = RFC3339.string(date)
            } else if refresh == nil {
                throw CLIError(message: "\(source) holds only an access token, and it has expired or has no \"expires_at\"", hint: "log in instead: credbroker login \(provider) --profile PROFILE")
            }
        }
        var app: AppRecord?
        if provider != "generic" {
            guard let clientID else {
                throw CLIError(message: "\(source) has no \"client_id\"; credbroker needs the client the token was issued to",
                               hint: "add \"client_id\" to the file, or set the app up first and import with --name APP")
            }
            app = AppRecord(type: provider, clientID: clientID, clientSecret: try f.optional("client_secret"), tenant: try f.optional("tenant"),
                            clientAuth: provider == "microsoft" && o["client_secret"] == nil ? "none" : nil)
        }
        var account = try f.optional("account")
        if account == nil { account = try f.optional("email") }
        return ImportCandidate(format: .generic, provider: provider, defaultAppName: provider, app: app, account: account, grant: grant)
    }

    // MARK: - Helpers

    static func jsonObject(_ bytes: [UInt8], source: String) throws(CLIError) -> [String: Any] {
        guard let value = try? JSONSerialization.jsonObject(with: Data(bytes)) else {
            throw CLIError(message: "\(source) is not valid JSON (truncated or not a token file)")
        }
        guard let object = value as? [String: Any] else { throw CLIError(message: "\(source) is JSON but not an object") }
        return object
    }

    /// `date` without its fraction of a second, as RFC3339.string writes it.
    static func wholeSeconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    /// RFC 3339, and google-auth's `isoformat()` with microseconds and a `Z`.
    static func parseTime(_ text: String) -> Date? {
        if let d = RFC3339.parse(text) { return d }
        var t = text
        if !t.hasSuffix("Z") && !t.contains("+") { t += "Z" }
        if let dot = t.firstIndex(of: "."), let z = t.lastIndex(where: { $0 == "Z" || $0 == "+" }), dot < z {
            t = String(t[..<dot]) + String(t[z...])
        }
        return RFC3339.parse(t)
    }

    static func shown(_ value: Any?) -> String {
        guard let text = value as? String else { return value == nil ? "none" : "(not a string)" }
        return "\"" + printableText(text, limit: 40) + "\""
    }

    /// Typed access to a JSON object's members; errors name the member, never its value.
    struct Fields {
        let object: [String: Any]
        let source: String
        init(_ object: [String: Any], source: String) {
            self.object = object
            self.source = source
        }

        func optional(_ name: String) throws(CLIError) -> String? {
            guard let value = object[name], !(value is NSNull) else { return nil }
            guard let text = value as? String else { throw CLIError(message: "\(source): \"\(name)\" is not a string") }
            return text.isEmpty ? nil : text
        }

        func required(_ name: String) throws(CLIError) -> String {
            guard let text = try optional(name) else { throw CLIError(message: "\(source) lacks \"\(name)\" (a non-empty string)") }
            return text
        }

        func stringList(_ name: String) throws(CLIError) -> [String] {
            guard let value = object[name], !(value is NSNull) else { return [] }
            guard let list = value as? [Any], let strings = list as? [String] else { throw CLIError(message: "\(source): \"\(name)\" is not a list of strings") }
            return strings
        }
    }
}
