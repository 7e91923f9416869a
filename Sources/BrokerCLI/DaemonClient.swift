import BrokerCore
import BrokerSystem
import BrokerWire
import Foundation

/// The CLI's side of the socket API: finds the socket (--socket, $CREDBROKER_SOCKET, the
/// user path, the system path), sends one request, and turns an error response into a
/// CLIError with the exit code of DESIGN.md (3 denied, 4 locked, 5 re-authorization).
final class DaemonClient {
    let path: String
    let socket: UnixSocket

    init(path: String, socket: consuming UnixSocket) {
        self.path = path
        self.socket = socket
    }

    /// Connects to the first candidate socket that answers.
    static func connect(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DaemonClient {
        let candidates = DaemonPaths.clientCandidates(flag: flag, environment: environment, uid: UserDatabase.effectiveUID) { path in
            (try? FileSecurity.status(ofPath: path))??.isDirectory ?? false
        }
        var reasons: [String] = []
        for path in candidates {
            let socket: UnixSocket
            do { socket = try UnixSocket.connect(to: path) } catch {
                reasons.append("\"\(path)\": \(error.reason)")
                continue
            }
            // Secrets (passphrases, recovery keys) go to this listener: it must be ours, root's
            // or the credbroker user's, never another user's look-alike socket (a /tmp
            // fallback path can be made by anyone).
            guard let peer = try? socket.peerCredentials(), Self.trusted(uid: peer.uid) else {
                let owner = (try? socket.peerCredentials()).map { "uid \($0.uid)" } ?? "an unknown process"
                reasons.append("\"\(path)\": refused: it is served by \(owner), not by you, root or the credbroker user")
                continue
            }
            return DaemonClient(path: path, socket: socket)
        }
        throw CLIError(message: "cannot reach credbrokerd (\(reasons.joined(separator: "; ")))",
                       hint: "start it with \"credbrokerd --user\", or name its socket with --socket or CREDBROKER_SOCKET")
    }

    static func trusted(uid: UInt32) -> Bool {
        PeerCredentials.isTrustedDaemon(listenerUID: uid, callerUID: UserDatabase.effectiveUID) {
            UserDatabase.userName(of: $0) == PeerCredentials.daemonUserName
        }
    }

    /// Whether a daemon answers at one of the candidate paths (for `vault init`).
    static func isRunning(flag: String?) -> Bool {
        (try? connect(flag: flag)) != nil
    }

    /// Connects (see `connect`) and sends one request: each request has its own connection.
    static func call<T: Decodable>(socket: String?, _ method: String, _ path: String, body: (some Encodable)? = Optional<Empty>.none, as type: T.Type) throws -> T {
        try connect(flag: socket).call(method, path, body: body, as: type)
    }

    /// Sends a request and returns the parsed success body, or throws the daemon's error.
    func call<T: Decodable>(_ method: String, _ path: String, body: (some Encodable)? = Optional<Empty>.none, as type: T.Type) throws -> T {
        let response = try send(method, path, body: body)
        if response.status >= 400 { throw Self.error(from: response) }
        do { return try JSONDecoder().decode(T.self, from: Data(response.body)) } catch {
            throw CLIError(message: "credbrokerd sent a response this credbroker cannot read (HTTP \(response.status))")
        }
    }

    func send(_ method: String, _ path: String, body: (some Encodable)? = Optional<Empty>.none) throws -> HTTPResponse {
        var bodyBytes: [UInt8]?
        if let body {
            var data = try JSONEncoder().encode(body)
            bodyBytes = Array(data)
            data.resetBytes(in: 0..<data.count)
        }
        var request = HTTPRequestWriter.request(method: method, path: path, body: bodyBytes, headers: [("Connection", "close")])
        bodyBytes?.withUnsafeMutableBufferPointerWipe()
        // The request may carry a secret: wipe this copy once it is sent.
        defer { request.withUnsafeMutableBufferPointerWipe() }
        do {
            try socket.send(request)
            var parser = HTTPResponseParser()
            while true {
                let chunk = try socket.receive()
                if chunk.isEmpty { throw CLIError(message: "credbrokerd at \"\(self.path)\" closed the connection without an answer") }
                parser.append(chunk)
                if let response = try parser.next() { return response }
            }
        } catch let error as SystemError {
            throw CLIError(message: "talking to credbrokerd at \"\(self.path)\" failed: \(error.reason)")
        } catch let error as HTTPFramingError {
            throw CLIError(message: "credbrokerd at \"\(self.path)\" sent a malformed response: \(error.message)")
        }
    }

    static func error(from response: HTTPResponse) -> CLIError {
        guard let body = try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body)) else {
            return CLIError(message: "credbrokerd answered HTTP \(response.status)")
        }
        let e = body.error
        let hint = e.hint.map { "run \"\($0)\"" }
        return CLIError(message: e.message, hint: hint, exitCode: exitCode(for: e.code), wireCode: e.code)
    }

    static func exitCode(for code: WireErrorCode) -> Int32 {
        switch code {
        case .denied: 3
        case .locked: 4
        case .reauthRequired: 5
        default: 1
        }
    }

    struct Empty: Codable {}
}

extension Array where Element == UInt8 {
    /// Overwrites the bytes with zeros (for buffers that held a secret).
    mutating func withUnsafeMutableBufferPointerWipe() {
        for i in indices { self[i] = 0 }
    }
}

/// The `--socket` option every daemon command takes.
import ArgumentParser

struct SocketOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The daemon's socket (default: $CREDBROKER_SOCKET, then the user path, then the system path).", valueName: "path"))
    var socket: String?
}

/// Reads a secret for a command: from a file (or - for stdin) or the terminal without echo.
enum SecretInput {
    static func read(file: String?, prompt: String, confirm: String? = nil) throws -> [UInt8] {
        if let file {
            do {
                let secret = try SecretFile.readPassphrase(path: file)
                return secret.unsafeCopyToArray()
            } catch { throw CLIError(message: error.description) }
        }
        guard Terminal.isAvailable else {
            throw CLIError(message: "no terminal to read the passphrase from", hint: "pass --passphrase-file FILE, or - to read standard input")
        }
        let first = try Terminal.readSecret(prompt: prompt)
        if let confirm {
            let second = try Terminal.readSecret(prompt: confirm)
            guard first.constantTimeEquals(second) else { throw CLIError(message: "the passphrases do not match") }
        }
        return first.unsafeCopyToArray()
    }

    static func base64(_ bytes: inout [UInt8]) -> String {
        let text = Data(bytes).base64EncodedString()
        bytes.withUnsafeMutableBufferPointerWipe()
        return text
    }
}
