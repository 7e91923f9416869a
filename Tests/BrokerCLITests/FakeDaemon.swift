import BrokerTesting
import Foundation
import Testing

/// Tests/python/fake_daemon.py on a temporary socket: answers the admin routes the OAuth
/// commands use (setup, login, revoke, secret rotate, status) with fixed answers, logs every
/// request, and can play the browser of a login. Stopped when released.
final class FakeDaemon {
    let dir: TemporaryDirectory
    let socket: String
    let logPath: String
    let process: BackgroundProcess

    init(scenario: [String: Any] = [:]) throws {
        dir = try TemporaryDirectory(prefix: "cbfake")
        socket = dir.file("broker.sock")
        logPath = dir.file("requests.jsonl")
        let scenarioPath = try dir.write("scenario.json", String(decoding: try JSONSerialization.data(withJSONObject: scenario), as: UTF8.self))
        let script = BuiltProducts.packageRoot + "/Tests/python/fake_daemon.py"
        process = try BackgroundProcess("/usr/bin/env", ["python3", script, socket, scenarioPath, logPath], logDirectory: dir.path, name: "fake")
        let up = BackgroundProcess.waitUntil(timeout: 30) { self.process.stdout.contains("listening") || !self.process.isRunning }
        #expect(up && process.isRunning, "the fake daemon did not start: \(process.stderr)")
    }

    // SIGKILL: the test runner's blocked SIGTERM is inherited, and the fake keeps nothing.
    deinit { process.signal(SIGKILL); process.waitForExit(timeout: 5) }

    /// Runs `credbroker` against this daemon, detached from any terminal (setsid), with no
    /// desktop (so no browser is started).
    func cli(_ arguments: [String], stdin: String? = nil, environment extra: [String: String] = [:]) throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        env["CREDBROKER_SOCKET"] = socket
        for name in ["DISPLAY", "WAYLAND_DISPLAY", "CREDBROKER_PROFILE"] { env[name] = nil }
        env.merge(extra) { _, new in new }
        return try Subprocess.run("setsid", ["-w", BuiltProducts.path("credbroker")] + arguments, stdin: stdin, environment: env, timeout: 60)
    }

    /// Runs `credbroker` on a pseudo-terminal (Tests/python/tty_script.py), answering each
    /// prompt of `dialogue` in turn; the transcript and "EXIT n" come back on stdout.
    func tty(_ dialogue: [(prompt: String, answer: String)], _ arguments: [String]) throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        env["CREDBROKER_SOCKET"] = socket
        for name in ["DISPLAY", "WAYLAND_DISPLAY", "CREDBROKER_PROFILE"] { env[name] = nil }
        let script = BuiltProducts.packageRoot + "/Tests/python/tty_script.py"
        let json = String(decoding: try JSONSerialization.data(withJSONObject: dialogue.map { [$0.prompt, $0.answer] }), as: UTF8.self)
        return try Subprocess.run("python3", [script, json, BuiltProducts.path("credbroker")] + arguments, environment: env, timeout: 90)
    }

    /// Every logged line: requests (`method`, `path`, `body`) and the browser's results.
    var log: [[String: Any]] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The requests to `path`, in order.
    func requests(_ path: String) -> [[String: Any]] { log.filter { $0["path"] as? String == path } }

    /// The simulated browser's results, in order.
    var browser: [[String: Any]] { log.filter { $0["browser"] != nil } }
}
