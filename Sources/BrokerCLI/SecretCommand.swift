import ArgumentParser
import BrokerWire
import Foundation

struct SecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret", abstract: "Manage provider apps' client secrets.", subcommands: [SecretRotate.self])
}

/// `credbroker secret rotate APP`: replaces an app's client secret (after a new one was made
/// in the provider's console), keeping everything else of the app and its grants.
struct SecretRotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Replace a provider app's client secret; its grants stay.",
        discussion: "The new secret is read from the terminal without echo, or from --client-secret-file (- for standard input); never from the command line.")

    @OptionGroup var daemon: SocketOption
    @OptionGroup var profileOption: ProfileOption

    @Argument(help: "The provider app.")
    var app: String

    @Option(name: .customLong("client-secret-file"), help: ArgumentHelp("Read the new client secret from this file (- for standard input).", valueName: "file"))
    var clientSecretFile: String?

    func validate() throws {
        try RecordName.check(app, what: "app name")
        try RecordName.check(profileOption.resolved(), what: "profile")
        if clientSecretFile == nil && !Prompt.isInteractive {
            throw ValidationError("missing --client-secret-file FILE (- for standard input): there is no terminal to ask on")
        }
    }

    func run() throws {
        try harden()
        let profile = profileOption.resolved()
        let secret = try clientSecretFile.map { try SecretText.fromFile($0, maxBytes: SecretText.maxClientSecretBytes, what: "client secret") }
            ?? SecretText.fromTerminal(prompt: "New client secret for \(app) (not shown): ", what: "client secret", allowEmpty: false)
        let ok = try DaemonClient.call(socket: daemon.socket, "POST", "/v1/admin/secret/rotate",
                                       body: SecretRotateRequest(profile: profile, app: app, clientSecret: secret), as: OKResponse.self)
        Console.info(ok.message)
        Console.warnIfMemoryUnlocked()
    }
}
