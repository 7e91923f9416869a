import BrokerSandbox
import BrokerTesting
import Foundation
import Synchronization

/// One HTTP exchange made with curl: status, headers (names lowercased) and body.
struct HTTPResult {
    var status: Int
    var headers: [String: String]
    var body: String
    /// curl's exit status: 0, or e.g. 52 when the server closed without answering.
    var curlStatus: Int32

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    func string(_ key: String) -> String? { json[key] as? String }

    /// The value of a query parameter in the Location header.
    func locationParameter(_ name: String) -> String? {
        guard let location = headers["location"], let components = URLComponents(string: location) else { return nil }
        return components.queryItems?.first { $0.name == name }?.value
    }
}

/// A sandbox running in this process on an ephemeral port, and a curl-based client for it.
struct TestSandbox: Sendable {
    let server: SandboxServer
    let url: String
    let logLines: LogLines

    /// Runs `body` against a fresh sandbox and always stops it afterwards.
    static func with<R>(strict: Bool = false, seedFile: String? = nil, _ body: (TestSandbox) async throws -> R) async throws -> R {
        let lines = LogLines()
        let server = try SandboxServer(options: SandboxOptions(strictRotation: strict, seedFile: seedFile, log: { lines.append($0) }))
        let url = try await server.start(port: 0)
        let sandbox = TestSandbox(server: server, url: url, logLines: lines)
        do {
            let result = try await body(sandbox)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Makes one request with curl (no redirects followed).
    func request(
        _ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil,
        bearer: String? = nil, basic: (String, String)? = nil
    ) throws -> HTTPResult {
        var arguments: [String] = ["-s", "-i", "--max-time", "20", "-X", method, "-H", "Expect:"]
        for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
        if let bearer { arguments += ["-H", "Authorization: Bearer \(bearer)"] }
        if let basic { arguments += ["-u", "\(basic.0):\(basic.1)"] }
        if body != nil { arguments += ["--data-binary", "@-"] }
        arguments.append(path.hasPrefix("http") ? path : url + path)
        let result = try Subprocess.run("curl", arguments, stdin: body, timeout: 60)
        return Self.parse(result.stdout, curlStatus: result.status)
    }

    static func parse(_ output: String, curlStatus: Int32) -> HTTPResult {
        let bytes = Array(output.utf8)
        var split = bytes.count
        var index = 0
        while index + 3 < bytes.count {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 { split = index; break }
            index += 1
        }
        let headText = String(decoding: bytes[0..<split], as: UTF8.self)
        let bodyStart = min(bytes.count, split + 4)
        let body = String(decoding: bytes[bodyStart...], as: UTF8.self)
        var status = 0
        var headers: [String: String] = [:]
        for (number, line) in headText.split(whereSeparator: \.isNewline).enumerated() {
            if number == 0 {
                let parts = line.split(separator: " ")
                status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            } else if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].lowercased()
                headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return HTTPResult(status: status, headers: headers, body: body, curlStatus: curlStatus)
    }

    /// A form POST (application/x-www-form-urlencoded).
    func form(_ path: String, _ pairs: [(String, String)], basic: (String, String)? = nil) throws -> HTTPResult {
        let body = Self.encodeForm(pairs)
        return try request("POST", path, headers: ["Content-Type": "application/x-www-form-urlencoded"], body: body, basic: basic)
    }

    static func encodeForm(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return pairs.map { pair in
            let name = pair.0.addingPercentEncoding(withAllowedCharacters: allowed) ?? pair.0
            let value = pair.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? pair.1
            return name + "=" + value
        }.joined(separator: "&")
    }

    /// A control-API call with a JSON body.
    @discardableResult
    func control(_ method: String, _ path: String, _ json: String? = nil) throws -> HTTPResult {
        var headers: [String: String] = [:]
        if json != nil { headers["Content-Type"] = "application/json" }
        return try request(method, "/_sandbox/" + path, headers: headers, body: json)
    }

    func counters() throws -> [String: Any] { try control("GET", "counters").json }
}

/// Log lines the sandbox wrote, for tests that check what was logged.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
    func contains(_ text: String) -> Bool { all.contains { $0.contains(text) } }
}
