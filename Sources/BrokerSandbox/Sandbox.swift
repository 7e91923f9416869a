import Foundation
import Synchronization

/// How to start a sandbox.
public struct SandboxOptions: Sendable {
    /// Refuse reuse of a rotated Microsoft refresh token (models reuse detection).
    public var strictRotation: Bool
    /// A JSON file with extra (or replacement) clients, users, service accounts, settings
    /// and the data seed (docs/sandbox.md, "Seed file").
    public var seedFile: String?
    /// Where log lines go (refused requests, injected faults); stderr by default.
    public var log: @Sendable (String) -> Void

    public init(strictRotation: Bool = false, seedFile: String? = nil, log: (@Sendable (String) -> Void)? = nil) {
        self.strictRotation = strictRotation
        self.seedFile = seedFile
        self.log = log ?? { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
}

/// The sandbox's state behind one lock: every request runs start to finish under it, so
/// the counters are exact and no request sees another half done.
final class Sandbox: Sendable {
    private let state: Mutex<SandboxState>

    /// 2^53 - 1: the largest whole number every JSON reader keeps exactly.
    static let maxDataSeed: Int64 = 9_007_199_254_740_991

    init(options: SandboxOptions) throws {
        var seed: [String: Any]?
        if let path = options.seedFile {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SandboxError("cannot read the seed file \"\(path)\"")
            }
            guard let object = JSON.object(Array(data)) else { throw SandboxError("the seed file \"\(path)\" is not a JSON object") }
            seed = object
        }
        let dataOptions = seed?["data"] as? [String: Any]
        if let dataOptions {
            do {
                try SandboxState.refuseUnknownKeys(dataOptions, known: ["seed", "anchor"], in: "\"data\"")
            } catch let error as SandboxError {
                throw SandboxError("seed file: \(error.message)")
            }
        }
        var anchor: Date?
        if let value = dataOptions?["anchor"] {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withFullDate]
            guard let text = value as? String, let date = formatter.date(from: text) else {
                throw SandboxError("seed file: \"data.anchor\" must be a date like 2026-01-05")
            }
            anchor = date
        }
        var dataSeed: UInt64 = 1
        if let value = dataOptions?["seed"] {
            // Whole numbers only, and ones a double holds exactly: UInt64(-5) would trap.
            guard let number = value as? NSNumber, let whole = Int64(exactly: number.doubleValue),
                whole >= 0, whole <= Self.maxDataSeed
            else { throw SandboxError("seed file: \"data.seed\" must be a whole number from 0 to \(Self.maxDataSeed)") }
            dataSeed = UInt64(whole)
        }
        let initial = SandboxState(log: options.log, dataSeed: dataSeed, anchor: anchor)
        initial.settings.microsoftStrictRotation = options.strictRotation
        if let seed { try Self.apply(seed: seed, to: initial) }
        state = Mutex(initial)
    }

    private static func apply(seed: [String: Any], to state: SandboxState) throws {
        let known: Set<String> = ["clients", "users", "service_accounts", "settings", "data", "replace_defaults"]
        for key in seed.keys where !known.contains(key) { throw SandboxError("seed file: unknown key \"\(key)\"") }
        for key in ["clients", "users", "service_accounts"] where seed[key] != nil && !(seed[key] is [Any]) {
            throw SandboxError("seed file: \"\(key)\" must be an array")
        }
        for key in ["settings", "data"] where seed[key] != nil && !(seed[key] is [String: Any]) {
            throw SandboxError("seed file: \"\(key)\" must be an object")
        }
        if seed["replace_defaults"] as? Bool == true {
            state.clients = [:]
            state.clientOrder = []
            state.users = [:]
            state.userOrder = []
        }
        do {
            for item in seed["clients"] as? [Any] ?? [] {
                guard let object = item as? [String: Any] else { throw SandboxError("each client must be an object") }
                state.addClient(try SandboxState.parseClient(object))
            }
            for item in seed["users"] as? [Any] ?? [] {
                guard let object = item as? [String: Any] else { throw SandboxError("each user must be an object") }
                state.addUser(try SandboxState.parseUser(object, index: state.users.count + 1))
            }
            for item in seed["service_accounts"] as? [Any] ?? [] {
                guard let object = item as? [String: Any] else { throw SandboxError("each service account must be an object") }
                let account = try SandboxState.parseServiceAccount(object)
                state.serviceAccounts[account.email] = account
            }
            if let settings = seed["settings"] as? [String: Any] { try state.applySettings(settings) }
        } catch let error as SandboxError {
            throw SandboxError("seed file: \(error.message)")
        }
    }

    func handle(_ request: SandboxRequest) -> SandboxReply {
        state.withLock { $0.handle(request) }
    }

    func tokenRequestFinished() {
        state.withLock { $0.tokenRequestFinished() }
    }

    func setBaseURL(_ url: String) {
        state.withLock { $0.baseURL = url }
    }

    /// The registered clients, users and endpoints as one line of JSON.
    func registrationJSON() -> String {
        state.withLock { JSON.string($0.registrationJSON()) }
    }

    /// The same, as human-readable lines.
    func registrationSummary() -> [String] {
        state.withLock { state in
            var lines: [String] = []
            for id in state.clientOrder {
                guard let client = state.clients[id] else { continue }
                var line = "client \(client.provider.rawValue) \(client.type) client_id=\(client.clientID)"
                if let secret = client.secret { line += " client_secret=\(secret)" }
                if let account = client.accountID { line += " account_id=\(account)" }
                lines.append(line)
            }
            for email in state.userOrder {
                guard let user = state.users[email] else { continue }
                lines.append("user \(user.email)" + (user.consents ? "" : " (always denies consent)"))
            }
            lines.append("microsoft tenant \(SandboxDefaults.tenant)")
            return lines
        }
    }
}
