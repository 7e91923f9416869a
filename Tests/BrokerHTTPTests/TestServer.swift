import BrokerHTTP
import BrokerTesting
import Foundation
import Testing

let python = "/usr/bin/python3"
let serverScript = BuiltProducts.packageRoot + "/Tests/python/http_test_server.py"

/// `Tests/python/http_test_server.py` on 127.0.0.1 and an ephemeral port, plain or TLS.
/// Killed, and its directory removed, when the value is released.
final class TestServer: @unchecked Sendable {
    // @unchecked Sendable: every property is immutable after init.
    let directory: TemporaryDirectory
    let process: BackgroundProcess
    let port: Int
    let scheme: String

    /// - Parameters:
    ///   - tls: the certificate chain and key files to serve, for https.
    ///   - blackhole: listen but never accept, with a full queue: connects hang.
    init(tls: (certificate: String, key: String)? = nil, blackhole: Bool = false) async throws {
        // CI installs python3 (.ci/run): missing, the test fails rather than skips.
        try #require(FileManager.default.isExecutableFile(atPath: python), "\(python) is missing (.ci/run installs python3)")
        directory = try TemporaryDirectory(prefix: "credbroker-http")
        var arguments = ["-u", serverScript]
        if let tls { arguments += ["--cert", tls.certificate, "--key", tls.key] }
        if blackhole { arguments.append("--blackhole") }
        process = try BackgroundProcess(python, arguments, logDirectory: directory.path, name: "server")
        scheme = tls == nil ? "http" : "https"
        // Poll with Task.sleep, not usleep: tests run in parallel on few cooperative threads.
        var found: Int?
        let deadline = ContinuousClock.now + .seconds(180)  // the full suite loads the machine
        while found == nil && process.isRunning && ContinuousClock.now < deadline {
            if let line = process.stdout.split(separator: "\n").first(where: { $0.hasPrefix("PORT ") }) {
                found = Int(line.dropFirst(5))
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        port = try #require(found, "the test server did not start: \(process.stderr)")
    }

    /// `scheme://127.0.0.1:port` followed by `path`.
    func url(_ path: String, host: String = "127.0.0.1") -> String { "\(scheme)://\(host):\(port)\(path)" }

    struct Stats: Decodable {
        var connections: Int
        var requests: Int
        var paths: [String]
        var connects: [String]
    }

    /// The server's counters, fetched over a connection of their own (with curl's CLI, so
    /// the transport under test is not involved) that they do not count.
    func stats() throws -> Stats {
        var arguments = ["-sS", "--max-time", "30", "--noproxy", "*"]
        if scheme == "https" { arguments += ["-k"] }
        let result = try Subprocess.run("curl", arguments + [url("/stats")], timeout: 60)
        try #require(result.status == 0, "curl /stats failed: \(result.stderr)")
        return try JSONDecoder().decode(Stats.self, from: Data(result.stdout.utf8))
    }
}

extension TestServer {
    /// Returns once the server has received a request (other than /stats).
    func waitForRequest(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while try stats().paths.isEmpty {
            try #require(ContinuousClock.now < deadline, "the server received no request")
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// What `/echo` saw.
struct Echo: Decodable {
    var method: String
    var path: String
    var headers: [[String]]
    var body: String

    init(_ response: HTTPResponse) throws {
        self = try JSONDecoder().decode(Echo.self, from: Data(response.body))
    }

    var bodyBytes: [UInt8] { Array(Data(base64Encoded: body) ?? Data()) }

    /// Every value sent under `name` (compared case-insensitively).
    func values(_ name: String) -> [String] {
        headers.filter { $0[0].lowercased() == name.lowercased() }.map { $0[1] }
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then closed, by python).
func closedPort() throws -> Int {
    try #require(FileManager.default.isExecutableFile(atPath: python), "\(python) is missing (.ci/run installs python3)")
    let result = try Subprocess.run(python, ["-c", """
        import socket
        s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
        """])
    return try #require(Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
}

/// Sends `request` and returns the error it must fail with.
func failure(
    _ transport: some HTTPTransport, _ request: HTTPRequest, sourceLocation: SourceLocation = #_sourceLocation
) async -> HTTPTransportError? {
    do {
        let response = try await transport.send(request)
        Issue.record("expected an error, got status \(response.status)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

func get(_ url: String, maxResponseBytes: Int = HTTPRequest.defaultMaxResponseBytes, timeout: Duration? = nil) -> HTTPRequest {
    HTTPRequest(method: "GET", url: url, timeout: timeout, maxResponseBytes: maxResponseBytes)
}
