import ArgumentParser
import BrokerCore
import BrokerDaemon
import BrokerSystem
import FoundationEssentials
import Logging

/// credbrokerd: parse the flags, harden the process, run the daemon.
struct Credbrokerd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credbrokerd",
        abstract: "The credbroker daemon: keeps the encrypted vault and hands scoped access tokens to local processes over a Unix socket.",
        version: Daemon.version)

    @Flag(name: .long, help: "User mode: XDG paths, socket 0600, admin is the daemon's own user (default unless run as the credbroker user).")
    var user = false
    @Flag(name: .long, help: "System mode: /run, /var/lib, /etc paths, socket 0660 for the credbroker-clients group.")
    var system = false
    @Option(name: .long, help: ArgumentHelp("The TOML config file.", valueName: "file"))
    var config: String?
    @Option(name: .long, help: ArgumentHelp("The vault file.", valueName: "path"))
    var vault: String?
    @Option(name: .long, help: ArgumentHelp("The socket to listen on.", valueName: "path"))
    var socket: String?
    @Option(name: .long, help: ArgumentHelp("The policy directory (*.toml).", valueName: "dir"))
    var policies: String?
    @Option(name: .long, help: ArgumentHelp("The audit log file.", valueName: "path"))
    var auditLog: String?
    @Option(name: .long, help: ArgumentHelp("Unlock the vault at start with this key file.", valueName: "path"))
    var unlockKeyFile: String?
    @Option(name: .long, help: ArgumentHelp("Also serve GET /metrics over TCP on this loopback address (127.0.0.1:PORT or [::1]:PORT); metrics only, no other route.", valueName: "address"))
    var metricsListen: String?
    @Flag(name: .long, help: "Allow system mode as root (not recommended).")
    var allowRoot = false

    func validate() throws {
        if user && system { throw ValidationError("--user and --system exclude each other") }
    }

    func run() async throws {
        do { try ProcessHardening.apply() } catch {
            Terminal.writeStandardError("credbrokerd: error: cannot harden the process: \(error)\n")
            throw ExitCode(1)
        }
        var options = DaemonOptions()
        options.mode = user ? .user : (system ? .system : nil)
        options.config = config
        options.vault = vault
        options.socket = socket
        options.policies = policies
        options.auditLog = auditLog
        options.unlockKeyFile = unlockKeyFile
        options.metricsListen = metricsListen
        options.allowRoot = allowRoot
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["CREDBROKER_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
            return handler
        }
        let logger = Logger(label: "credbrokerd")
        do {
            try await Daemon.run(options, logger: logger)
        } catch let error as DaemonError {
            Terminal.writeStandardError("credbrokerd: error: \(error.message)\n")
            throw ExitCode(1)
        }
    }
}

// main.swift cannot carry @main, and the synchronous `main()` refuses async commands;
// parse() returns the concrete type, so `run()` below is the async one.
do {
    let command = try Credbrokerd.parse()
    try await command.run()
} catch {
    Credbrokerd.exit(withError: error)
}
