import BrokerCLI
import BrokerCore
import BrokerWire
import Foundation

/// `import-file`: a token file through `credbroker import`'s parser (`ImportParser`:
/// google-auth and google-auth-oauthlib files, service-account keys through
/// `ServiceAccountFile`, MSAL caches, generic token JSON, and gcloud's SQLite
/// credentials.db through `ForeignDatabase`), then the plan line the command prints.
/// These files come from elsewhere (another tool's directory, a colleague, a backup), hold
/// secrets, and what the parser says of them goes to a terminal.
///
/// Input: a byte that picks the `--provider` (none, google, microsoft, zoom, generic), then
/// the file.
///
/// Invariants: every message, hint and plan line is printable ASCII (a value from the file
/// cannot move the terminal's cursor or fake a line); a parsed file gives at least one
/// credential, for the provider asked for, each with a refresh token, a current access
/// token or a service-account key, an access token only with an expiry after "now"; and,
/// run again on the same JSON with every secret member (`client_secret`, `refresh_token`,
/// `access_token`, `token`, `id_token`, `secret`, `private_key`) replaced by a canary, no
/// message, hint or plan line shows a canary.
enum ImportFileFuzz {
    static let target = FuzzTarget(
        name: "import-file", summary: "a provider byte, then a token file (JSON or gcloud's credentials.db) through credbroker import's parser",
        maxLength: 64 * 1024, run: run)

    static let providers: [String?] = [nil, "google", "microsoft", "zoom", "generic"]
    static let secretMembers: Set<String> = ["client_secret", "refresh_token", "access_token", "token", "id_token", "secret", "private_key"]
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    static func run(_ input: [UInt8]) -> String? {
        guard let first = input.first else { return nil }
        let provider = providers[Int(first) % providers.count]
        let file = Array(input.dropFirst())
        if let problem = check(file, provider: provider, canaries: []) { return problem }
        guard let (marked, canaries) = withCanaries(file), !canaries.isEmpty else { return nil }
        return check(marked, provider: provider, canaries: canaries)
    }

    static func check(_ file: [UInt8], provider: String?, canaries: [String]) -> String? {
        var shown: [String] = []
        do throws(CLIError) {
            let (format, candidates) = try ImportParser.parse(file, source: "\"fuzz.json\"", provider: provider, now: now)
            guard !candidates.isEmpty else { return "a \(format.rawValue) gave no credential" }
            for candidate in candidates {
                if let provider, candidate.provider != provider { return "asked for \(provider), got a \(candidate.provider) credential" }
                let grant = candidate.grant
                guard grant.refreshToken != nil || grant.accessToken != nil || grant.serviceAccount != nil else {
                    return "a \(format.rawValue) credential with no token and no key"
                }
                if grant.accessToken != nil {
                    guard let text = grant.expiresAt, let expiry = RFC3339.parse(text), expiry > now else {
                        return "an access token kept with the expiry \(grant.expiresAt ?? "none")"
                    }
                }
                let request = ImportRequest(profile: "dev", app: candidate.defaultAppName, appRecord: candidate.app, account: candidate.account,
                                            grant: grant, verify: true, dryRun: true, source: "fuzz.json")
                shown.append(ImportParser.plan(request, candidate))
            }
        } catch {
            shown.append(error.message)
            if let hint = error.hint { shown.append(hint) }
        }
        for text in shown {
            if let bad = text.unicodeScalars.first(where: { !($0.isASCII && $0.value >= 0x20 && $0.value < 0x7F) }) {
                return "shown text holds U+\(String(bad.value, radix: 16)): \(printableText(text, limit: 300))"
            }
            for canary in canaries where text.contains(canary) {
                return "a secret member's value reached shown text: \(text)"
            }
        }
        return nil
    }

    /// The file with every secret member's string value replaced by a canary of its own
    /// (a private key keeps its PEM frame, so the key's checks still pass), and the canaries
    /// that occur exactly once in the result (a canary the input already held elsewhere
    /// proves nothing).
    static func withCanaries(_ file: [UInt8]) -> ([UInt8], [String])? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(file)), object is [String: Any] else { return nil }
        var canaries: [String] = []
        func mark(_ value: Any) -> Any {
            if let dictionary = value as? [String: Any] {
                var out: [String: Any] = [:]
                for (key, member) in dictionary {
                    if secretMembers.contains(key), member is String {
                        let canary = "CANARY\(canaries.count)Q"
                        canaries.append(canary)
                        out[key] = key == "private_key" ? "-----BEGIN PRIVATE KEY-----\n\(canary)\n-----END PRIVATE KEY-----\n" : canary
                    } else {
                        out[key] = mark(member)
                    }
                }
                return out
            }
            if let array = value as? [Any] { return array.map(mark) }
            return value
        }
        let marked = mark(object)
        guard let data = try? JSONSerialization.data(withJSONObject: marked) else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        let unique = canaries.filter { text.components(separatedBy: $0).count == 2 }
        return (Array(data), unique)
    }
}
