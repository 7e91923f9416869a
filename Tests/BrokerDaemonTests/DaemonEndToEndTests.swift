import BrokerTestBed
import BrokerSystem
import BrokerTesting
import BrokerWire
import Foundation
import Testing

@Suite("credbrokerd end to end", .serialized)
struct DaemonEndToEndTests {
    @Test("health, init, token and profiles through curl --unix-socket and the CLI")
    func endToEnd() throws {
        let d = try TestDaemon()
        let health = try Subprocess.run("curl", ["-s", "--unix-socket", d.socket, "http://localhost/v1/health"])
        #expect(health.stdout.contains("\"status\":\"uninitialized\""), "\(health.stdout)")

        let initResult = try d.cli(["vault", "init", "--passphrase-file", d.dir.file("pass"), "--kdf", "interactive"])
        #expect(initResult.status == 0, "\(initResult.stderr)")
        let key = initResult.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.split(separator: "-").count == 13)
        let again = try d.cli(["vault", "init", "--passphrase-file", d.dir.file("pass"), "--kdf", "interactive"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("a vault already exists"))

        #expect(try d.cli(["profile", "create", "dev"]).status == 0)
        let app = try d.request("PUT", "/v1/admin/profiles/dev/apps/google", json: #"{"type":"google","client_id":"cid","client_secret":"client-secret-canary"}"#)
        #expect(app.status == 200)
        try d.putGrant(account: "me@example.com", token: "ya29.e2e-token-canary", expires: "2099-01-01T00:00:00Z")

        let curl = try Subprocess.run("curl", ["-s", "--unix-socket", d.socket, "-H", "Content-Type: application/json", "-d", TestDaemon.tokenBody, "http://localhost/v1/token"])
        let token = try JSONDecoder().decode(TokenResponse.self, from: Data(curl.stdout.utf8))
        #expect(token.accessToken == "ya29.e2e-token-canary")
        #expect(token.account == "me@example.com")
        #expect(token.expiresAt == "2099-01-01T00:00:00Z")
        #expect(token.tokenType == "Bearer")

        let plain = try d.cli(["token", "google", "--profile", "dev", "--scope", "calendar.readonly"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout == "ya29.e2e-token-canary\n")
        let header = try d.cli(["token", "google", "--profile", "dev", "--scope", "calendar.readonly", "--header"])
        #expect(header.stdout == "Authorization: Bearer ya29.e2e-token-canary\n")
        let json = try d.cli(["token", "google", "--profile", "dev", "--scope", "calendar.readonly,gmail.readonly", "--json"])
        #expect(json.stdout.contains("\"expires_in\""))

        let profiles = try d.request("GET", "/v1/profiles")
        #expect(profiles.text.contains("me@example.com"))
        #expect(!profiles.text.contains("client-secret-canary"))
        #expect(!profiles.text.contains("refresh-token-canary"))

        let status = try d.cli(["status"])
        #expect(status.status == 0)
        #expect(status.stdout.contains("grant google/me@example.com: active"))
        #expect(!status.stdout.contains("canary"))
        #expect(try d.cli(["profile", "list"]).stdout == "dev\n")
        #expect(d.stop() == 0)
    }

    @Test("locked and uninitialized: token requests get locked with no side effects; unlock twice is harmless; data survives")
    func lockedSemantics() throws {
        let d = try TestDaemon()
        let early = try d.request("POST", "/v1/token", json: TestDaemon.tokenBody)
        #expect(early.status == 503)
        #expect(early.errorCode == "unavailable")
        try d.provision()
        let before = try FileManager.default.attributesOfItem(atPath: d.vault)[.modificationDate] as? Date
        #expect(try d.cli(["vault", "lock"]).status == 0)
        for _ in 0..<5 {
            let r = try d.request("POST", "/v1/token", json: TestDaemon.tokenBody)
            #expect(r.status == 423)
            #expect(r.errorCode == "locked")
        }
        let cliLocked = try d.cli(["token", "google", "--profile", "dev", "--scope", "calendar.readonly"])
        #expect(cliLocked.status == 4)
        #expect(cliLocked.stderr.contains("credbroker: error: vault is locked"))
        let after = try FileManager.default.attributesOfItem(atPath: d.vault)[.modificationDate] as? Date
        #expect(before == after)
        #expect(try d.request("GET", "/v1/profiles").status == 423)
        #expect(try d.unlock().status == 200)
        let twice = try d.unlock()
        #expect(twice.status == 200)
        #expect(twice.text.contains("already unlocked"))
        let r = try d.request("POST", "/v1/token", json: TestDaemon.tokenBody)
        #expect(r.status == 200)
        #expect(r.text.contains("ya29.test-token-canary"))
        d.stop()
    }

    @Test("SIGUSR1 locks; the idle timeout locks; a restarted daemon starts locked")
    func lockTriggers() throws {
        // Long enough that provisioning, and each unlock and token below, fit well inside it
        // on a loaded machine.
        let d = try TestDaemon(config: "idle_lock_seconds = 10\n")
        try d.provision()
        #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 200)
        d.process!.signal(SIGUSR1)
        let locked = BackgroundProcess.waitUntil(timeout: 10) { (try? d.request("GET", "/v1/health"))?.text.contains("\"locked\"") ?? false }
        #expect(locked)
        #expect(try d.unlock().status == 200)
        #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 200)
        let idleLocked = BackgroundProcess.waitUntil(timeout: 40) { (try? d.request("GET", "/v1/health"))?.text.contains("\"locked\"") ?? false }
        #expect(idleLocked)
        #expect(d.stop() == 0)
        try d.start()
        #expect(try d.request("GET", "/v1/health").text.contains("\"locked\""))
        #expect(try d.unlock().status == 200)
        #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).text.contains("ya29.test-token-canary"))
        d.stop()
    }

    @Test("SIGHUP reloads policies and keeps the old ones when the new are broken")
    func reload() throws {
        let d = try TestDaemon()
        try d.provision()
        let gmail = #"{"profile":"dev","provider":"google","scopes":["https://www.googleapis.com/auth/gmail.readonly"]}"#
        #expect(try d.request("POST", "/v1/token", json: gmail).status == 200)
        try d.dir.write("policies/10-test.toml", "[[rule]]\nname = \"broken\"\nuids = [0]\nprofiles = [\"dev\"]\nscope = [\"x\"]\n")
        d.process!.signal(SIGHUP)
        let logged = BackgroundProcess.waitUntil(timeout: 10) { d.stderr.contains("keeping the old policies") }
        #expect(logged, "\(d.stderr)")
        #expect(d.stderr.contains("did you mean \\\"scopes\\\"") || d.stderr.contains("did you mean \"scopes\""))
        #expect(try d.request("POST", "/v1/token", json: gmail).status == 200)
        // A valid narrower policy takes effect.
        try d.dir.write("policies/10-test.toml", "[[rule]]\nname = \"narrow\"\nuids = [0]\nprofiles = [\"dev\"]\nproviders = [\"google\"]\nscopes = [\"calendar.readonly\"]\n")
        d.process!.signal(SIGHUP)
        let denied = BackgroundProcess.waitUntil(timeout: 10) { (try? d.request("POST", "/v1/token", json: gmail))?.status == 403 }
        #expect(denied)
        // The grant has no refresh token, so its one token carries gmail.readonly too: the
        // narrower policy refuses it even for calendar.readonly, and the audit says why.
        #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 403)
        #expect(BackgroundProcess.waitUntil(timeout: 10) { (try? String(contentsOfFile: d.auditLog, encoding: .utf8))?.contains("cannot be narrowed") == true })
        // A group-writable policy file is refused (admin reload reports it).
        try d.dir.write("policies/20-open.toml", "[[rule]]\nname = \"x\"\nuids = [0]\nprofiles = [\"*\"]\nproviders = [\"*\"]\nscopes = [\"*\"]\n", mode: 0o620)
        let reload = try d.request("POST", "/v1/admin/reload")
        #expect(reload.status == 400)
        #expect(reload.text.contains("writable by group or others"))
        #expect(try d.request("POST", "/v1/token", json: gmail).status == 403)
        d.stop()
    }

    @Test("SIGTERM lets an in-flight request finish, then exits 0 and removes the socket")
    func drain() throws {
        let d = try TestDaemon()
        let p = Data(TestDaemon.passphrase.utf8).base64EncodedString()
        // init runs a KDF on the vault thread: it is in flight when SIGTERM arrives.
        let pid = d.process!.pid
        let before = rssKiB(pid)
        let connection = try UnixSocket.connect(to: d.socket)
        let body = Array("{\"passphrase\":\"\(p)\",\"kdf\":\"moderate\"}".utf8)
        try connection.send(HTTPRequestWriter.request(method: "POST", path: "/v1/admin/init", body: body))
        // The moderate KDF fills 256 MiB: once the daemon has grown by 64 MiB, init is
        // running (a fixed pause could signal before the daemon had read the request).
        #expect(BackgroundProcess.waitUntil(timeout: 20) { rssKiB(pid) > before + 64 * 1024 }, "RSS \(rssKiB(pid)) KiB, \(before) KiB before")
        d.process!.signal(SIGTERM)
        var parser = HTTPResponseParser()
        var response: HTTPResponse?
        while response == nil {
            let chunk = try connection.receive()
            if chunk.isEmpty { break }
            parser.append(chunk)
            response = try parser.next()
        }
        #expect(response?.status == 200)
        #expect(d.process!.waitForExit(timeout: 20) == 0)
        #expect(!FileManager.default.fileExists(atPath: d.socket))
    }
}
