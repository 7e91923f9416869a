import BrokerTesting
import BrokerWire
@testable import CredBrokerClient
import Foundation
import NIOHTTP1
import Testing

/// The parts of CredBrokerClient that need no daemon: errors, redaction, discovery,
/// the peer rule, the passwd lookup.
@Suite("Broker client units")
struct BrokerClientUnitTests {
    @Test("AccessToken's description and mirror hide the value")
    func descriptionHidesValue() {
        let secret = "ya29.secret-value-must-not-print"
        let token = AccessToken(value: secret, expiresAt: Date(timeIntervalSince1970: 4_000_000_000), scopes: ["s"],
                                profile: "dev", provider: "google", account: "a@b.c")
        #expect(!token.description.contains(secret))
        #expect(!String(reflecting: token).contains(secret))
        #expect(!"\(token)".contains(secret))
        var dumped = ""
        dump(token, to: &dumped)
        #expect(!dumped.contains(secret))
        #expect(token.description.contains("google") && token.description.contains("<redacted>"))
    }

    @Test("a daemon error keeps its code, message, hint and retry delay")
    func errorFromWire() {
        func answer(_ status: Int, _ json: String, headers: [(String, String)] = []) -> WireAnswer {
            WireAnswer(status: status, headers: HTTPHeaders(headers), body: Array(json.utf8))
        }
        let reauth = BrokerClient.error(from: answer(409, #"{"error":{"code":"reauth_required","message":"the grant is dead","hint":"credbroker login google --profile dev"}}"#), socket: "/s")
        #expect(reauth == BrokerError(.reauthRequired, "the grant is dead", hint: "credbroker login google --profile dev"))
        let tooMany = BrokerClient.error(from: answer(429, #"{"error":{"code":"too_many","message":"slow down","retry_after":7}}"#), socket: "/s")
        #expect(tooMany.code == .tooMany && tooMany.retryAfter == .seconds(7))
        let unavailable = BrokerClient.error(from: answer(503, #"{"error":{"code":"unavailable","message":"provider down"}}"#, headers: [("Retry-After", "12")]), socket: "/s")
        #expect(unavailable.code == .unavailable && unavailable.retryAfter == .seconds(12))
        // Every wire code maps to the code with the same raw string.
        for code in WireErrorCode.all {
            let e = BrokerClient.error(from: answer(code.status, "{\"error\":{\"code\":\"\(code.rawValue)\",\"message\":\"m\"}}"), socket: "/s")
            #expect(e.code.rawValue == code.rawValue)
        }
        #expect(BrokerError.Code.locked == BrokerError.Code(rawValue: "locked"))
        let garbage = BrokerClient.error(from: answer(500, "<html>"), socket: "/run/x.sock")
        #expect(garbage.code == .protocolError && garbage.message.contains("/run/x.sock"))
    }

    @Test("no daemon at the socket is unreachable, naming the path and the fix")
    func unreachable() async throws {
        let dir = try TemporaryDirectory(prefix: "cbc")
        defer { dir.remove() }
        let path = dir.file("missing.sock")
        let client = BrokerClient(socketPath: path, profile: "dev")
        await #expect {
            _ = try await client.health()
        } throws: { error in
            guard let e = error as? BrokerError else { return false }
            return e.code == .unreachable && e.message.contains(path) && e.message.contains("no such file or directory")
                && e.hint == "start it with credbrokerd --user or set CREDBROKER_SOCKET"
        }
        // A socket file nobody listens on: connection refused.
        let stale = dir.file("stale.sock")
        let listener = try Subprocess.run("python3", ["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])", stale])
        #expect(listener.status == 0)
        await #expect {
            _ = try await BrokerClient(socketPath: stale, profile: "dev").accessToken(provider: "google", scopes: ["calendar.readonly"])
        } throws: { error in
            (error as? BrokerError).map { $0.code == .unreachable && $0.message.contains(stale) && $0.message.contains("connection refused") } ?? false
        }
    }

    @Test("discovery: an explicit path, then CREDBROKER_SOCKET, then the user and system paths")
    func discovery() {
        let env = ["CREDBROKER_SOCKET": "/env/broker.sock", "XDG_RUNTIME_DIR": "/xdg"]
        #expect(BrokerClient(socketPath: "/flag.sock", environment: env).socketCandidates == ["/flag.sock"])
        #expect(BrokerClient(environment: env).socketCandidates == ["/env/broker.sock"])
        #expect(BrokerClient(environment: ["XDG_RUNTIME_DIR": "/xdg"]).socketCandidates == ["/xdg/credbroker/broker.sock", "/run/credbroker/broker.sock"])
    }

    @Test("the default profile comes from the initializer, else CREDBROKER_PROFILE, else a noProfile error")
    func defaultProfile() async {
        #expect(BrokerClient(profile: "p1", environment: ["CREDBROKER_PROFILE": "p2"]).defaultProfile == "p1")
        #expect(BrokerClient(environment: ["CREDBROKER_PROFILE": "p2"]).defaultProfile == "p2")
        let none = BrokerClient(socketPath: "/nonexistent/broker.sock", environment: [:])
        #expect(none.defaultProfile == nil)
        await #expect(throws: BrokerClient.noProfileError) {
            _ = try await none.accessToken(provider: "google", scopes: ["calendar.readonly"])
        }
    }

    @Test("overrides win without asking the daemon")
    func overridesWin() async throws {
        let client = BrokerClient(socketPath: "/nonexistent/broker.sock", profile: "dev",
                                  apiBaseURLOverrides: ["google": ["calendar": "https://calendar.example/v3"]])
        #expect(try await client.apiBaseURL("calendar", provider: "google") == "https://calendar.example/v3")
        // Not overridden: the daemon is asked, and there is none.
        await #expect(throws: BrokerError.self) { _ = try await client.apiBaseURL("gmail", provider: "google") }
    }

    @Test("a minValid outside 0 to 3600 s is refused before anything is sent")
    func minValidRange() async {
        let client = BrokerClient(socketPath: "/nonexistent/broker.sock", profile: "dev")
        await #expect {
            _ = try await client.accessToken(provider: "google", scopes: ["calendar.readonly"], minValid: .seconds(7200))
        } throws: { ($0 as? BrokerError)?.code == .badRequest }
    }

    @Test("the listener must be the caller, root or the credbroker user")
    func peerRule() {
        let daemonUser: (UInt32) -> Bool = { $0 == 990 }
        #expect(PeerCredentials.isTrustedDaemon(listenerUID: 1000, callerUID: 1000, isDaemonUser: daemonUser))
        #expect(PeerCredentials.isTrustedDaemon(listenerUID: 0, callerUID: 1000, isDaemonUser: daemonUser))
        #expect(PeerCredentials.isTrustedDaemon(listenerUID: 990, callerUID: 1000, isDaemonUser: daemonUser))
        #expect(!PeerCredentials.isTrustedDaemon(listenerUID: 1001, callerUID: 1000, isDaemonUser: daemonUser))
        #expect(!PeerCredentials.isTrustedDaemon(listenerUID: 65534, callerUID: 0, isDaemonUser: daemonUser))
    }

    @Test("the credbroker user is found in passwd text")
    func passwdLookup() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\ncredbrokerx:x:5:5::/:/bin/false\ncredbroker:x:991:991:credbroker:/var/lib/credbroker:/usr/sbin/nologin\n"
        #expect(SystemUsers.userID(of: "credbroker", passwd: passwd) == 991)
        #expect(SystemUsers.userID(of: "nobody", passwd: passwd) == nil)
    }
}
