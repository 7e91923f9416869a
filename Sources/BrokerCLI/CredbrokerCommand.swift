import ArgumentParser
import Foundation

/// The `credbroker` command line.
struct CredbrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credbroker",
        abstract: "A secure OAuth credential broker: encrypted vault, scoped tokens over a Unix socket.",
        version: "0.1.0",
        subcommands: [
            ProvidersCommand.self, SetupCommand.self, LoginCommand.self, StatusCommand.self, TokenCommand.self, RevokeCommand.self,
            SecretCommand.self, VaultCommand.self, ProfileCommand.self, PolicyCommand.self, AuditCommand.self, SandboxCommand.self,
            ImportCommand.self,
        ])

}

/// Commands that do their work asynchronously (servers, socket clients).
protocol AsyncRunnable {
    func runAsync() async throws
}

/// The entry point for the `credbroker` executable.
public enum CLI {
    /// Parses, runs, and exits with the CLI's exit codes; errors go to stderr with the
    /// "credbroker: error:" prefix.
    public static func main(arguments: [String]) async -> Never {
        do {
            var command = try CredbrokerCommand.parseAsRoot(arguments)
            if let asyncCommand = command as? any AsyncRunnable {
                // Through our own protocol: on `any AsyncParsableCommand` the call would
                // bind to the synchronous run() that only prints help.
                try await asyncCommand.runAsync()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch let error as ExitCode {
            // A command that already said what it had to (policy explain's deny, audit
            // verify's problems) and only sets the status.
            Foundation.exit(error.rawValue)
        } catch let error as CLIError {
            Console.error(error.message)
            if let hint = error.hint { Console.hint(hint) }
            Foundation.exit(error.exitCode)
        } catch {
            let code = CredbrokerCommand.exitCode(for: error)
            let message = CredbrokerCommand.fullMessage(for: error)
            if code == .success {
                // --help and --version arrive as "errors" that exit 0.
                print(message)
                Foundation.exit(0)
            }
            if code.rawValue == 64 || code == .validationFailure {
                FileHandle.standardError.write(Data((message + "\n").utf8))
                Foundation.exit(64)
            }
            Console.error(message)
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}
