import BrokerTesting
import Dispatch
import Foundation
import Testing

/// A `credbroker sandbox` process, with its READY line read.
final class SandboxProcess {
    let process = Process()
    let output: Pipe
    let errors: Pipe
    var lines: [String] = []

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: BuiltProducts.path("credbroker"))
        process.arguments = ["sandbox"] + arguments
        process.standardInput = FileHandle.nullDevice
        // Made and handed over while no other child starts (BrokerTesting's Spawning).
        (output, errors) = try Spawning.serialized { [process] () throws -> (Pipe, Pipe) in
            let output = Pipe(), errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            return (output, errors)
        }
        // A sandbox that never prints or never exits fails its test instead of hanging it.
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { kill(pid, SIGKILL) }
    }

    /// Reads stdout until `count` whole lines have arrived (or EOF).
    func readLines(_ count: Int) -> [String] {
        var buffer = Data()
        while lines.count < count {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            let text = String(decoding: buffer, as: UTF8.self)
            let parts = text.split(separator: "\n", omittingEmptySubsequences: false)
            lines = parts.dropLast().map(String.init)
        }
        return lines
    }

    /// Sends `signal` and waits (up to 20 s) for the exit status.
    func stop(_ signal: Int32) -> Int32? {
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }
}

@Suite("credbroker sandbox")
struct SandboxCommandTests {
    @Test("prints READY and the clients as JSON, answers requests, and exits 0 on SIGTERM")
    func readyAndSigterm() throws {
        let sandbox = try SandboxProcess(["--port", "0", "--json"])
        let lines = sandbox.readLines(2)
        #expect(lines.count == 2)
        let ready: String = lines.first ?? ""
        #expect(ready.hasPrefix("READY http://127.0.0.1:"))
        let url = String(ready.dropFirst("READY ".count))
        let json = (try? JSONSerialization.jsonObject(with: Data((lines.last ?? "").utf8))) as? [String: Any] ?? [:]
        #expect(json["base_url"] as? String == url)
        let clients = json["clients"] as? [[String: Any]] ?? []
        #expect(clients.contains { $0["client_id"] as? String == Clients.googleDesktop && $0["client_secret"] as? String == Clients.googleDesktopSecret })
        let health = try Subprocess.run("curl", ["-s", url + "/_sandbox/health"], timeout: 30)
        #expect(health.stdout == #"{"ok":true}"#)
        #expect(sandbox.stop(SIGTERM) == 0)
    }

    @Test("exits 0 on SIGINT; prints readable client lines without --json")
    func sigint() throws {
        let sandbox = try SandboxProcess([])
        let lines = sandbox.readLines(3)
        #expect(lines.first?.hasPrefix("READY http://127.0.0.1:") == true)
        let second: String = lines.count > 1 ? lines[1] : ""
        #expect(second.hasPrefix("client google web client_id=sandbox-web.apps.googleusercontent.com client_secret="))
        #expect(sandbox.stop(SIGINT) == 0)
    }

    @Test("refuses a non-loopback address with an error and exit status 1")
    func refusesNonLoopback() throws {
        let result = try Subprocess.run(BuiltProducts.path("credbroker"), ["sandbox", "--host", "0.0.0.0"], timeout: 30)
        #expect(result.status == 1)
        #expect(result.stderr.contains("credbroker: error: refusing to listen on \"0.0.0.0\""))
        #expect(result.stdout.isEmpty)
    }
}
