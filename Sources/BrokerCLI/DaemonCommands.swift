import ArgumentParser
import BrokerCore
import BrokerSystem
import BrokerWire
import Foundation

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile", abstract: "Create, list and delete environment profiles (dev, staging, prod, ...).",
        subcommands: [ProfileCreate.self, ProfileList.self, ProfileDelete.self])
}

struct ProfileCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a profile.")
    @OptionGroup var daemon: SocketOption
    @Argument(help: "The profile name.") var name: String

    func run() throws {
        let client = try DaemonClient.connect(flag: daemon.socket)
        let ok = try client.call("PUT", "/v1/admin/profiles/\(PathEncoding.segment(name))", body: [String: String](), as: OKResponse.self)
        Console.info(ok.message)
    }
}

struct ProfileList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the profiles.")
    @OptionGroup var daemon: SocketOption
    @Flag(name: .long, help: "Print JSON.") var json = false

    struct Listing: Codable { var profiles: [String] }

    func run() throws {
        let client = try DaemonClient.connect(flag: daemon.socket)
        let listing = try client.call("GET", "/v1/admin/profiles", as: Listing.self)
        if json {
            FileHandle.standardOutput.write(try JSONEncoder().encode(listing) + Data("\n".utf8))
        } else {
            for p in listing.profiles { print(p) }
        }
    }
}

struct ProfileDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a profile (with --force, also the records it holds).",
        discussion: "--force deletes grants without revoking them at the provider; run \"credbroker revoke APP --profile NAME\" for each grant first to revoke them there.")
    @OptionGroup var daemon: SocketOption
    @Argument(help: "The profile name.") var name: String
    @Flag(name: .long, help: "Delete the profile's records too.") var force = false

    func run() throws {
        let client = try DaemonClient.connect(flag: daemon.socket)
        let ok = try client.call("DELETE", "/v1/admin/profiles/\(PathEncoding.segment(name))" + (force ? "?force=true" : ""), as: OKResponse.self)
        Console.info(ok.message)
    }
}

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Print an access token for scripts (the token alone on standard output).",
        discussion: """
            Like `gcloud auth print-access-token`: the token alone on stdout. --header prints
            "Authorization: Bearer TOKEN" for `curl -H @<(credbroker token google --header --scope calendar.readonly) URL`,
            which keeps the token out of curl's argv (another local user can read argv in /proc);
            --json prints the whole response.
            """)
    @OptionGroup var daemon: SocketOption
    @Argument(help: "The provider app (google, microsoft, or an app name such as google-work).") var provider: String
    @Option(name: .long, help: ArgumentHelp("The profile (default: $CREDBROKER_PROFILE, else default).", valueName: "name"))
    var profile: String?
    @Option(name: .long, help: ArgumentHelp("A scope (full string or alias); repeatable, commas accepted.", valueName: "scope"))
    var scope: [String] = []
    @Option(name: .long, help: ArgumentHelp("The account, when the profile has several for this app.", valueName: "account"))
    var account: String?
    @Option(name: .long, help: ArgumentHelp("The token must stay valid at least this many seconds.", valueName: "seconds"))
    var minValid: Int?
    @Flag(name: .long, help: "Print the whole response as JSON.") var json = false
    @Flag(name: .long, help: "Print an HTTP Authorization header line.") var header = false

    func validate() throws {
        if json && header { throw ValidationError("--json and --header exclude each other") }
        if scope.isEmpty { throw ValidationError("name at least one --scope") }
    }

    func run() throws {
        let profile = self.profile ?? ProcessInfo.processInfo.environment["CREDBROKER_PROFILE"] ?? "default"
        let request = TokenRequest(profile: profile, provider: provider, account: account, scopes: ScopeAliases.expandAll(scope), minValidSeconds: minValid)
        let client = try DaemonClient.connect(flag: daemon.socket)
        let response = try client.send("POST", "/v1/token", body: request)
        if response.status >= 400 { throw DaemonClient.error(from: response) }
        if json {
            FileHandle.standardOutput.write(Data(response.body) + Data("\n".utf8))
            return
        }
        guard let token = try? JSONDecoder().decode(TokenResponse.self, from: Data(response.body)) else {
            throw CLIError(message: "credbrokerd sent a token response this credbroker cannot read")
        }
        let line = header ? "Authorization: \(token.tokenType) \(token.accessToken)\n" : token.accessToken + "\n"
        FileHandle.standardOutput.write(Data(line.utf8))
    }
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Check the audit log.", subcommands: [AuditVerify.self])
}

struct AuditVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check an audit log's chained MACs (the daemon holds the key and reads FILE).",
        discussion: "Detects an edited, removed, reordered or appended line, and a truncated tail of the live log. Exit 0 when the file verifies, 1 otherwise.")
    @OptionGroup var daemon: SocketOption
    @Argument(help: "The audit log file.") var file: String
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        let client = try DaemonClient.connect(flag: daemon.socket)
        let result = try client.call("POST", "/v1/admin/audit/verify", body: PathRequest(path: FileSecurity.absolute(file)), as: AuditVerifyResponse.self)
        if json {
            FileHandle.standardOutput.write(try JSONEncoder().encode(result) + Data("\n".utf8))
        } else if result.ok {
            print("\(file): \(result.lines) lines in \(result.epochs) epochs verify")
        } else {
            for p in result.problems { Console.error("\(file): \(p)") }
        }
        if !result.ok { throw ExitCode(1) }
    }
}

enum PathEncoding {
    /// Percent-encodes a path segment (everything but unreserved characters).
    static func segment(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || c == "-" || c == "." || c == "_" || c == "~" {
                out.append(c)
            } else {
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }
}
