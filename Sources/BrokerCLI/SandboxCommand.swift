import ArgumentParser
import UnixSignals
import BrokerSandbox
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `credbroker sandbox`: the offline emulator of Google's, Microsoft's and Zoom's OAuth and
/// APIs (docs/sandbox.md).
struct SandboxCommand: AsyncParsableCommand, AsyncRunnable {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run an offline emulator of Google's, Microsoft's and Zoom's OAuth and APIs.",
        discussion: """
            Listens on 127.0.0.1 only. The first line on standard output is "READY <url>"; \
            then the registered test clients and users follow, as one line of JSON with \
            --json, else as one "client ..." or "user ..." line each. Runs until SIGTERM or \
            Ctrl-C. See docs/sandbox.md for the endpoints and the /_sandbox/ control API.
            """)

    @Option(name: .long, help: ArgumentHelp("The port to listen on (0 picks a free one).", valueName: "port"))
    var port: Int = 0

    @Option(name: .long, help: ArgumentHelp("The loopback address to listen on (127.0.0.1 or ::1).", valueName: "address"))
    var host: String = "127.0.0.1"

    @Option(name: .long, help: ArgumentHelp("A JSON file with extra clients, users, service accounts and settings.", valueName: "file"))
    var seed: String?

    @Flag(name: .long, help: "Refuse reuse of a rotated Microsoft refresh token (models reuse detection).")
    var strict = false

    @Flag(name: .long, help: "Print the registered clients and users as one line of JSON after READY.")
    var json = false

    func validate() throws {
        guard port >= 0, port <= 65535 else { throw ValidationError("--port must be 0 to 65535") }
    }

    func runAsync() async throws { try await run() }

    func run() async throws {
        guard SandboxServer.isLoopback(host) else {
            throw CLIError(message: "refusing to listen on \"\(host)\": the sandbox binds only to loopback (127.0.0.1 or ::1)")
        }
        let server: SandboxServer
        let url: String
        do {
            server = try SandboxServer(options: SandboxOptions(strictRotation: strict, seedFile: seed))
            url = try await server.start(host: host, port: port)
        } catch let error as SandboxError {
            throw CLIError(message: error.message)
        }
        // The signal handlers are registered (awaited) before READY is printed, so a prompt
        // SIGTERM or SIGINT is never lost (a dispatch source registers asynchronously: a
        // signal in between used to be dropped).
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        var lines = ["READY \(url)"]
        if json {
            lines.append(server.registrationJSON())
        } else {
            lines.append(contentsOf: server.registrationSummary())
        }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        Console.info("sandbox listening on \(url); stop it with Ctrl-C or SIGTERM")
        for await signal in signals {
            Console.info("sandbox stopping on signal \(signal)")
            break
        }
        await server.stop()
    }
}
