import ArgumentParser
import BrokerCore
import BrokerCrypto
import BrokerSystem
import BrokerVault
import BrokerWire
import Foundation

/// `credbroker import`: adopts the OAuth tokens people already keep in plaintext files
/// (docs/migrating.md). Each file is read with care (ForeignFile), recognised by content
/// (ImportParser), each credential stored through the daemon's one-step import route, and
/// the file overwritten and removed once everything in it is in the vault.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Move OAuth tokens from plaintext files into the vault, then overwrite and remove the files.",
        discussion: """
            Recognised by content: google-auth authorized_user JSON, google-auth-oauthlib token.json, \
            Google service-account keys, MSAL token caches, gcloud's credentials.db, and token JSON with \
            access_token/refresh_token/client_id (name its provider with --provider). For each credential \
            it shows what it will create (never a secret), stores it through the daemon, verifies it with \
            one refresh, and then overwrites the file with zeros and unlinks it, unless --keep-original. \
            A file that fails to parse, a duplicate, or a failed verification changes nothing. \
            See docs/migrating.md.
            """)

    @OptionGroup var daemon: SocketOption
    @Argument(help: ArgumentHelp("The token files.", valueName: "file")) var files: [String]
    @OptionGroup var profileOption: ProfileOption
    @Option(name: .long, help: ArgumentHelp("Whose tokens a generic token file holds (google, microsoft, zoom, generic); checked against the others.", valueName: "provider"))
    var provider: ProviderType?
    @Option(name: .long, help: ArgumentHelp("The provider app's name in the profile (default: the provider; \"gcloud\" for gcloud's own client; \"google-NAME\" for a service account NAME@...).", valueName: "app"))
    var name: String?
    @Option(name: .long, help: ArgumentHelp("The account, when the file does not name it and the provider cannot say (one credential only).", valueName: "account"))
    var account: String?
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("A scope the grant holds (repeat, or separate with commas; aliases such as calendar.readonly work). Replaces the file's list; service-account keys need it.", valueName: "scope"))
    var scope: [String] = []
    @Option(name: .long, help: ArgumentHelp("Point a new provider app at a running `credbroker sandbox` (tests, demos).", valueName: "url"))
    var sandbox: String?
    @Flag(name: .long, help: "Show what would be imported and check it with the daemon; write nothing, remove nothing.") var dryRun = false
    @Flag(name: .long, help: "Leave the files in place after importing them.") var keepOriginal = false
    @Flag(name: .long, help: "Store without the verification refresh.") var noVerify = false

    func validate() throws {
        if let name { try RecordName.check(name, what: "app name") }
        if let account, account.isEmpty || account.contains("/") { throw ValidationError("--account must be an account name without \"/\"") }
    }

    /// The profile to import into (created when missing).
    var profile: String { profileOption.resolved() }

    private struct Loaded {
        var path: String
        var identity: ForeignFile.Identity
        var format: ImportFormat
        var candidates: [ImportCandidate]
    }

    func run() throws {
        try harden()
        var endpointsBase: String?
        if let sandbox {
            do { endpointsBase = try SandboxEndpoints.base(sandbox) } catch { throw CLIError(message: "--sandbox: \(error)") }
        }
        var failures = 0
        var loaded: [Loaded] = []
        for path in files {
            do {
                loaded.append(try load(path))
            } catch {
                report(path, error)
                failures += 1
            }
        }
        let total = loaded.reduce(0) { $0 + $1.candidates.count }
        if account != nil && total > 1 {
            throw CLIError(message: "--account names one account, but the files hold \(total) credentials", hint: "import the files one at a time")
        }
        // Fails early, before any file is touched, when the daemon is not there.
        _ = try DaemonClient.connect(flag: daemon.socket)
        for file in loaded {
            var imported = 0
            for (index, candidate) in file.candidates.enumerated() {
                let request = makeRequest(candidate, source: file.path, sandbox: endpointsBase)
                let label = file.candidates.count > 1 ? "\(file.path) (credential \(index + 1) of \(file.candidates.count))" : file.path
                Console.info("\(label): \(file.format.rawValue): \(ImportParser.plan(request, candidate))")
                do {
                    // One connection a request (DaemonClient asks the daemon to close it).
                    let answer = try DaemonClient.call(socket: daemon.socket, "POST", "/v1/admin/import", body: request, as: ImportResponse.self)
                    // The daemon's words quote the app and account, which came from the file.
                    Console.info("\(label): \(printableText(answer.message, limit: 600))")
                    imported += 1
                } catch {
                    report(label, error)
                    failures += 1
                }
            }
            if dryRun { continue }
            guard imported == file.candidates.count else {
                Console.info("\(file.path): kept, since not everything in it was imported")
                continue
            }
            if keepOriginal {
                Console.warning("\(file.path): kept as you asked (--keep-original); it still holds the plaintext tokens")
                continue
            }
            do {
                try ForeignFile.shred(file.path, identity: file.identity)
                Console.info("\(file.path): overwrote its \(file.identity.size) bytes with zeros, flushed them to disk, and removed it")
            } catch {
                report(file.path, error)
                failures += 1
            }
        }
        if failures > 0 {
            Console.error("\(failures) problem\(failures == 1 ? "" : "s"); files with a problem were left as they were")
            throw ExitCode(1)
        }
    }

    private func load(_ path: String) throws -> Loaded {
        var (bytes, identity) = try ForeignFile.read(path)
        defer { wipe(&bytes) }
        if ForeignDatabase.isSQLite(bytes), let wal = try? FileSecurity.status(ofPath: path + "-wal"), wal.size > 0 {
            throw CLIError(message: "\"\(path)\" has a write-ahead log beside it (is gcloud running?), so the file alone is not the whole database",
                           hint: "close gcloud, then run: gcloud auth list (which checkpoints it), and import again")
        }
        if identity.links > 1 && !keepOriginal && !dryRun {
            throw CLIError(message: "\"\(path)\" has \(identity.links) hard links; the other names would keep its bytes after it is removed",
                           hint: "remove the other links first, or import with --keep-original")
        }
        let (format, candidates) = try ImportParser.parse(bytes, source: "\"\(path)\"", provider: provider?.rawValue)
        return Loaded(path: path, identity: identity, format: format, candidates: candidates)
    }

    private func makeRequest(_ candidate: ImportCandidate, source: String, sandbox: String?) -> ImportRequest {
        var grant = candidate.grant
        if !scope.isEmpty { grant.scopes = ScopeAliases.expandAll(scope) }
        var app = candidate.app
        if candidate.authorityHost != nil {
            // A national cloud's file: the app must exist with its endpoints.
            app = nil
        }
        if let sandbox, var record = app {
            let type = ProviderType(rawValue: record.type) ?? .generic
            record.endpoints = SandboxEndpoints.endpoints(type: type, base: sandbox, tenant: record.tenant)
            app = record
        }
        return ImportRequest(profile: profile, app: name ?? candidate.defaultAppName, appRecord: app, account: account ?? candidate.account,
                             grant: grant, verify: !noVerify, dryRun: dryRun, source: source)
    }

    private func report(_ what: String, _ error: any Error) {
        switch error {
        case let e as CLIError:
            // The daemon's refusals quote the app and account, which came from the file.
            Console.error("\(what): \(printableText(e.message, limit: 600))")
            if let hint = e.hint { Console.hint(printableText(hint, limit: 600)) }
        case let e as FileSecurityError:
            Console.error(e.description)
        default:
            Console.error("\(what): \(error)")
        }
    }
}
