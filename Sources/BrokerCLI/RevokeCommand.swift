import ArgumentParser
import BrokerWire
import Foundation

/// `credbroker revoke APP`: revokes a grant at the provider (where it has a revocation
/// endpoint) and deletes it from the vault.
struct RevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a grant at the provider and delete it from the vault.",
        discussion: """
            Asks for confirmation on a terminal; without one, --yes is required. The grant is \
            deleted when the provider has no revocation endpoint (the answer says so); when the \
            provider cannot be reached it is kept, so the revocation can be tried again.
            """)

    @OptionGroup var daemon: SocketOption
    @OptionGroup var profileOption: ProfileOption

    @Argument(help: "The provider app (google, microsoft, or an app name such as google-work).")
    var app: String

    @Option(name: .long, help: ArgumentHelp("The account, when the app has several in the profile.", valueName: "account"))
    var account: String?

    @Flag(name: .long, help: "Do not ask for confirmation.")
    var yes = false

    @Flag(name: .long, help: "Print the daemon's answer as JSON.")
    var json = false

    func validate() throws {
        try RecordName.check(app, what: "app name")
        try RecordName.check(profileOption.resolved(), what: "profile")
    }

    func run() throws {
        let profile = profileOption.resolved()
        let what = "the grant of \"\(app)\"\(account.map { " account \"\($0)\"" } ?? "") in profile \"\(profile)\""
        if !yes {
            guard Prompt.isInteractive else {
                throw CLIError(message: "no terminal to confirm on: pass --yes to revoke \(what)", exitCode: 64)
            }
            guard try Prompt.confirm("Revoke \(what)? Scripts and agents using it will need a new login.") else {
                throw CLIError(message: "nothing revoked")
            }
        }
        let response = try DaemonClient.call(socket: daemon.socket, "POST", "/v1/admin/revoke",
                                             body: RevokeRequest(profile: profile, app: app, account: account), as: RevokeResponse.self)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(response) + Data("\n".utf8))
            return
        }
        Console.info(Self.describe(response, app: app, profile: profile))
    }

    static func describe(_ response: RevokeResponse, app: String, profile: String) -> String {
        let provider = response.revokedAtProvider ? "revoked at the provider" : "not confirmed by the provider"
        return "revoked \(app) account \(response.account) in profile \(profile) (\(provider)): \(response.message)"
    }
}
