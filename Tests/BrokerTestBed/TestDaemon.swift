public import BrokerSystem
public import BrokerTesting
public import BrokerWire
import Foundation
import Testing

/// The real `credbrokerd` on a temporary directory: its own socket, vault, policies and audit
/// log. Stopped (SIGTERM, then SIGKILL) and removed when released.
public final class TestDaemon: @unchecked Sendable {
    public let dir: TemporaryDirectory
    public var process: BackgroundProcess?
    public let socket: String
    public let vault: String
    public let policies: String
    public let auditLog: String
    public let config: String
    public static let passphrase = "correct horse battery staple"

    public init(policy: String = TestDaemon.defaultPolicy, config configText: String = "", extraArguments: [String] = [], start: Bool = true) throws {
        dir = try TemporaryDirectory(prefix: "cbd")
        socket = dir.file("run/broker.sock")
        vault = dir.file("state/vault.db")
        policies = dir.file("policies")
        auditLog = dir.file("log/audit.log")
        config = dir.file("credbrokerd.toml")
        try FileManager.default.createDirectory(atPath: policies, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try dir.write("policies/10-test.toml", policy)
        try dir.write("credbrokerd.toml", configText)
        try dir.write("pass", Self.passphrase + "\n")
        if start { try self.start(extraArguments: extraArguments) }
    }

    public static let defaultPolicy = """
        [[rule]]
        name = "root-dev"
        uids = [0]
        profiles = ["dev"]
        providers = ["google"]
        scopes = ["calendar.readonly", "gmail.readonly"]
        """

    public var modeFlag = "--user"

    /// A command the daemon runs under (its arguments first, then the daemon's path and
    /// arguments), e.g. a sandboxing wrapper that execs it; empty runs the daemon itself.
    public var launcher: [String] = []

    public var arguments: [String] {
        [modeFlag, "--config", config, "--vault", vault, "--socket", socket, "--policies", policies, "--audit-log", auditLog]
    }

    public func start(extraArguments: [String] = [], environment: [String: String]? = nil, waitForSocket: Bool = true) throws {
        let env = environment ?? ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("NOTIFY_SOCKET") && !$0.key.hasPrefix("LISTEN_") }
        let command = launcher + [BuiltProducts.path("credbrokerd")] + arguments + extraArguments
        process = try BackgroundProcess(command[0], Array(command.dropFirst()), environment: env, logDirectory: dir.path)
        if waitForSocket {
            // Up is the health answer and the "listening" notice: the daemon may answer
            // between binding the socket and giving it its final mode, and logs after that.
            let up = BackgroundProcess.waitUntil {
                ((try? self.request("GET", "/v1/health"))?.status == 200 && self.process?.stderr.contains("[BrokerDaemon] listening") == true)
                    || !(self.process?.isRunning ?? false)
            }
            #expect(up && process!.isRunning, "credbrokerd did not come up: \(process!.stderr)")
        }
    }

    /// The audit log once it contains `text`, or as it is after `timeout` seconds: the
    /// daemon's writer batches lines, so a line lands a moment after the answer to the
    /// request it records.
    public func auditText(containing text: String, timeout: Double = 20) -> String {
        var audit = ""
        _ = BackgroundProcess.waitUntil(timeout: timeout) {
            audit = (try? String(contentsOfFile: self.auditLog, encoding: .utf8)) ?? ""
            return audit.contains(text)
        }
        return audit
    }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        guard let p = process else { return 0 }
        p.signal(SIGTERM)
        let status = p.waitForExit(timeout: 20)
        return status
    }

    deinit {
        if let p = process, p.isRunning { p.signal(SIGKILL); p.waitForExit(timeout: 5) }
    }

    public var stderr: String { process?.stderr ?? "" }

    /// One request on a new connection.
    public func request(_ method: String, _ path: String, json: String? = nil, contentType: String = "application/json") throws -> HTTPResponse {
        let connection = try UnixSocket.connect(to: socket, timeoutSeconds: 30)
        let bytes = HTTPRequestWriter.request(method: method, path: path, body: json.map { Array($0.utf8) }, contentType: contentType, headers: [("Connection", "close")])
        try connection.send(bytes)
        var parser = HTTPResponseParser()
        while true {
            let chunk = try connection.receive()
            if chunk.isEmpty { throw HTTPFramingError(message: "connection closed before a response") }
            parser.append(chunk)
            if let r = try parser.next() { return r }
        }
    }

    /// Sends raw bytes and returns everything the daemon answers until it closes (or the
    /// timeout).
    public func raw(_ bytes: [UInt8], shutdownWrite: Bool = true, timeout: Int = 10) throws -> [UInt8] {
        let connection = try UnixSocket.connect(to: socket, timeoutSeconds: timeout)
        try? connection.send(bytes)
        if shutdownWrite { connection.shutdownWrite() }
        var all: [UInt8] = []
        while true {
            guard let chunk = try? connection.receive(), !chunk.isEmpty else { break }
            all += chunk
            if all.count > 1 << 20 { break }
        }
        return all
    }

    /// Runs the `credbroker` CLI against this daemon.
    public func cli(_ arguments: [String], stdin: String? = nil) throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        env["CREDBROKER_SOCKET"] = socket
        return try Subprocess.run("setsid", ["-w", BuiltProducts.path("credbroker")] + arguments, stdin: stdin, environment: env)
    }

    /// init (weak KDF for speed), profile dev, a google app and one grant with a valid token.
    public func provision(token: String = "ya29.test-token-canary", expires: String = "2099-01-01T00:00:00Z", account: String = "me@example.com") throws {
        let p = Data(Self.passphrase.utf8).base64EncodedString()
        let created = try request("POST", "/v1/admin/init", json: "{\"passphrase\":\"\(p)\",\"kdf\":\"interactive\"}")
        #expect(created.status == 200, "\(String(decoding: created.body, as: UTF8.self))")
        #expect(try request("PUT", "/v1/admin/profiles/dev").status == 201)
        let app = try request("PUT", "/v1/admin/profiles/dev/apps/google", json: #"{"type":"google","client_id":"cid.apps","client_secret":"client-secret-canary"}"#)
        #expect(app.status == 200)
        try putGrant(account: account, token: token, expires: expires)
    }

    /// A grant with an access token. Without a refresh token (the default) the daemon
    /// cannot narrow it: every token carries all its scopes, so the policy must allow them
    /// all. With one, the app's endpoints must point somewhere local (no test reaches
    /// the internet).
    public func putGrant(account: String, token: String, expires: String, scopes: String = #"["calendar.readonly","gmail.readonly"]"#, refresh: String? = nil) throws {
        let encoded = account.replacingOccurrences(of: "@", with: "%40")
        let refreshMember = refresh.map { "\"refresh_token\":\"\($0)\"," } ?? ""
        let r = try request("PUT", "/v1/admin/profiles/dev/grants/google/\(encoded)",
                            json: "{\"scopes\":\(scopes),\(refreshMember)\"access_token\":\"\(token)\",\"expires_at\":\"\(expires)\"}")
        #expect(r.status == 200, "\(String(decoding: r.body, as: UTF8.self))")
    }

    public func unlock() throws -> HTTPResponse {
        let p = Data(Self.passphrase.utf8).base64EncodedString()
        return try request("POST", "/v1/admin/unlock", json: "{\"method\":\"passphrase\",\"secret\":\"\(p)\"}")
    }

    public static let tokenBody = #"{"profile":"dev","provider":"google","scopes":["https://www.googleapis.com/auth/calendar.readonly"]}"#
}

/// A connection in a collection (UnixSocket is noncopyable).
public final class SocketBox {
    public let socket: UnixSocket
    public init(_ socket: consuming UnixSocket) { self.socket = socket }
}

extension HTTPResponse {
    public var text: String { String(decoding: body, as: UTF8.self) }
    public var errorCode: String? {
        (try? JSONDecoder().decode(ErrorBody.self, from: Data(body)))?.error.code.rawValue
    }
}
