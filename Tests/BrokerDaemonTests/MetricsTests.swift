import BrokerDaemon
import BrokerHTTP
import BrokerSystem
import BrokerTestBed
import BrokerTesting
import BrokerWire
import Foundation
import Testing

/// `GET /v1/metrics` and the loopback listener (docs/spec/api.md, "Metrics"): the figures
/// move when the events happen, only admins and `metrics = true` callers read them, the
/// text is valid Prometheus exposition and carries no secret, and `--metrics-listen` binds
/// loopback only and serves nothing else.
@Suite("metrics", .serialized)
struct MetricsTests {
    static let served = "credbroker_tokens_served_total"
    static let refreshes = "credbroker_refreshes_total"
    static let calendarRead = "https://www.googleapis.com/auth/calendar.readonly"
    static let gmailRead = "https://www.googleapis.com/auth/gmail.readonly"
    static let deniedBody = #"{"error":{"code":"denied","message":"not allowed"}}"#
    static let refreshResults = ["ok", "invalid_grant", "refused", "transient", "invalid_response", "not_stored"]

    /// Reads the metrics over the socket as the test's uid (root: the admin in user mode).
    static func read(_ d: TestDaemon, sourceLocation: SourceLocation = #_sourceLocation) throws -> (Exposition, String) {
        let r = try d.request("GET", "/v1/metrics")
        #expect(r.status == 200, "\(r.text)", sourceLocation: sourceLocation)
        let type = r.headers.first { $0.0.lowercased() == "content-type" }?.1
        #expect(type == "text/plain; version=0.0.4; charset=utf-8", sourceLocation: sourceLocation)
        return (try Exposition(r.text), r.text)
    }

    /// None of the test bed's secrets, tokens or accounts, in any form.
    static func expectNoCanary(_ text: String, _ canaries: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        for canary in canaries {
            #expect(!text.contains(canary), "the metrics contain \"\(canary)\"", sourceLocation: sourceLocation)
        }
    }

    @Test("tokens served, denials, cache misses and hits, and the lock move their series; the text parses and holds no secret")
    func tokensAndLock() throws {
        let d = try TestDaemon()
        try d.provision()
        let (start, startText) = try Self.read(d)
        #expect(start.value("credbroker_vault_locked") == 0)
        #expect(start.value("credbroker_dead_grants") == 0)
        #expect(start.value("credbroker_audit_write_errors_total") == 0)
        #expect(start.value("credbroker_refresh_duration_seconds_count") == 0)
        for result in Self.refreshResults {
            #expect(start.value(Self.refreshes, ["result": result]) == 0, "refreshes{result=\"\(result)\"} is there from the start")
        }

        // The first request reads the grant from the vault (a miss), the second is a hit.
        #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 200)
        #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 200)
        let drive = #"{"profile":"dev","provider":"google","scopes":["https://www.googleapis.com/auth/drive"]}"#
        #expect(try d.request("POST", "/v1/token", json: drive).status == 403)
        // A name the operator never configured is counted, but as "other": callers cannot
        // make series.
        let madeUp = #"{"profile":"dev","provider":"made-up-app-7f3a","scopes":["calendar.readonly"]}"#
        #expect(try d.request("POST", "/v1/token", json: madeUp).status == 403)
        #expect(try d.request("POST", "/v1/token", json: "{not json").status == 400)

        let (after, afterText) = try Self.read(d)
        #expect(after.value(Self.served, ["provider": "google", "decision": "granted"]) == 2)
        #expect(after.value(Self.served, ["provider": "google", "decision": "denied"]) == 1)
        #expect(after.value(Self.served, ["provider": "other", "decision": "denied"]) == 1)
        #expect(after.value(Self.served, ["provider": "other", "decision": "bad_request"]) == 1)
        #expect(!afterText.contains("made-up-app-7f3a"))
        #expect(after.value("credbroker_token_cache_misses_total") == 1)
        #expect(after.value("credbroker_token_cache_hits_total") == 1)
        #expect((after.value("credbroker_open_connections") ?? 0) >= 1, "the connection reading the metrics is open")
        #expect(after.types["credbroker_refresh_duration_seconds"] == "histogram")
        #expect(after.types[Self.served] == "counter")
        #expect(after.types["credbroker_vault_locked"] == "gauge")

        #expect(try d.request("POST", "/v1/admin/lock", json: "{}").status == 200)
        let (locked, lockedText) = try Self.read(d)
        #expect(locked.value("credbroker_vault_locked") == 1)
        #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 423)
        let (lockedAfter, _) = try Self.read(d)
        // "google" is named by the policy, so it keeps its label while the vault is locked.
        #expect(lockedAfter.value(Self.served, ["provider": "google", "decision": "locked"]) == 1)
        #expect(try d.unlock().status == 200)
        let (unlocked, unlockedText) = try Self.read(d)
        #expect(unlocked.value("credbroker_vault_locked") == 0)

        let canaries = ["ya29.test-token-canary", "client-secret-canary", "me@example.com", "cid.apps", TestDaemon.passphrase]
        for text in [startText, afterText, lockedText, unlockedText] { Self.expectNoCanary(text, canaries) }
    }

    @Test("a refresh at the sandbox counts ok and its duration; invalid_grant counts a dead grant until a new login",
          .enabled(if: Tools.have("setsid")))
    func refreshesAndDeadGrants() async throws {
        try await OAuthBed.with { bed in
            try bed.setupGoogleDesktop()
            try await bed.apiLogin("google")
            let (before, beforeText) = try Self.read(bed.daemon)
            // A narrower scope set than the grant's: the daemon refreshes for it.
            let narrowed = try bed.token("google", scopes: [Self.calendarRead], force: true)
            #expect(narrowed.status == 200, "\(narrowed.text)")
            let (after, afterText) = try Self.read(bed.daemon)
            let ok = (after.value(Self.refreshes, ["result": "ok"]) ?? 0) - (before.value(Self.refreshes, ["result": "ok"]) ?? 0)
            #expect(ok >= 1)
            let count = after.value("credbroker_refresh_duration_seconds_count") ?? 0
            #expect(count >= 1 && count == Self.refreshResults.reduce(0) { $0 + (after.value(Self.refreshes, ["result": $1]) ?? 0) },
                    "every refresh is timed once")
            #expect((after.value("credbroker_refresh_duration_seconds_bucket", ["le": "+Inf"]) ?? 0) == count)
            #expect(after.value(Self.served, ["provider": "google", "decision": "granted"]) == 1)

            try await bed.control("POST", "revoke", #"{"client_id": "\#(OAuthBed.desktopClient)", "user": "alice@sandbox.test"}"#)
            let dead = try bed.token("google", scopes: [Self.gmailRead])
            #expect(dead.status == 409, "\(dead.text)")
            let (revoked, revokedText) = try Self.read(bed.daemon)
            #expect(revoked.value(Self.refreshes, ["result": "invalid_grant"]) == 1)
            #expect(revoked.value("credbroker_dead_grants") == 1)
            #expect(revoked.value(Self.served, ["provider": "google", "decision": "reauth_required"]) == 1)

            try await bed.apiLogin("google")
            let (revived, revivedText) = try Self.read(bed.daemon)
            #expect(revived.value("credbroker_dead_grants") == 0)

            let canaries = [OAuthBed.desktopSecret, "ya29.sandbox-", "1//sandbox-", "alice@sandbox.test", bed.accessToken(narrowed) ?? "ya29."]
            for text in [beforeText, afterText, revokedText, revivedText] { Self.expectNoCanary(text, canaries) }
        }
    }

    /// The test bed's own rule for root, then a metrics reader and a caller who may only
    /// ask for tokens.
    static let readersPolicy = TestDaemon.defaultPolicy + "\n\n" + """
        [[rule]]
        name = "monitoring"
        uids = [65534]
        metrics = true

        [[rule]]
        name = "tokens-only"
        uids = [65533]
        profiles = ["dev"]
        providers = ["google"]
        scopes = ["calendar.readonly"]
        """

    @Test("an admin and a metrics = true caller read the metrics; others get the token route's denied answer, audited",
          .enabled(if: getuid() == 0 && Subprocess.isAvailable("setpriv") && Subprocess.isAvailable("curl"), "needs root, setpriv and curl to connect as other uids"))
    func whoMayRead() throws {
        let d = try TestDaemon(policy: Self.readersPolicy)
        try d.provision()
        openToNobody(d)
        _ = try Self.read(d)  // root: the daemon's own uid, the admin in user mode

        let monitor = try Self.curl(as: 65534, d, "/v1/metrics")
        #expect(monitor.status == 200, "\(monitor.body)")
        #expect(monitor.contentType == "text/plain; version=0.0.4; charset=utf-8")
        #expect((try Exposition(monitor.body)).value("credbroker_vault_locked") == 0)
        // The grant is for metrics only: no token.
        #expect(try Self.curl(as: 65534, d, "/v1/token", json: TestDaemon.tokenBody).status == 403)

        // A caller with token rights but no metrics grant, and one with no rule at all: the
        // same answer as a denied token request, whatever the method.
        let deniedToken = try Self.curl(as: 65533, d, "/v1/token", json: #"{"profile":"dev","provider":"google","scopes":["gmail.readonly"]}"#)
        #expect(deniedToken.status == 403)
        #expect(deniedToken.body == Self.deniedBody)
        for uid: UInt32 in [65533, 65532] {
            for method in ["GET", "POST", "DELETE"] {
                let r = try Self.curl(as: uid, d, "/v1/metrics", method: method)
                #expect(r.status == 403, "uid \(uid) \(method): \(r.status)")
                #expect(r.body == deniedToken.body, "uid \(uid) \(method): \(r.body)")
                #expect(!r.body.contains("credbroker_"))
            }
        }
        // A reader with the right who uses the wrong method is told so.
        #expect(try Self.curl(as: 65534, d, "/v1/metrics", method: "POST").status == 405)

        #expect(d.stop() == 0)
        let audit = (try? String(contentsOfFile: d.auditLog, encoding: .utf8)) ?? ""
        let denials = audit.split(separator: "\n").filter { $0.contains("\"route\":\"/v1/metrics\"") && $0.contains("\"result\":\"denied\"") }
        #expect(denials.contains { $0.contains("\"uid\":65533") })
        #expect(denials.contains { $0.contains("\"uid\":65532") })
        #expect(!denials.contains { $0.contains("\"uid\":65534") })
        #expect(d.stderr.contains("metrics denied"))
    }

    @Test("--metrics-listen refuses a non-loopback address or a name at start, naming the option",
          arguments: ["0.0.0.0:9464", "192.168.1.10:9464", "[::]:9464", "[::ffff:127.0.0.1]:9464", "localhost:9464", "127.0.0.1", "::1:9464", "127.0.0.1:99999"])
    func refusesNonLoopback(address: String) throws {
        let d = try TestDaemon(start: false)
        try d.start(extraArguments: ["--metrics-listen", address], waitForSocket: false)
        let status = d.process!.waitForExit(timeout: 20)
        #expect(status == 1, "\(address): exit \(status)")
        #expect(d.stderr.contains("credbrokerd: error: --metrics-listen: \"\(address)\""), "\(address): \(d.stderr)")
        #expect(!FileManager.default.fileExists(atPath: d.socket), "nothing was served")
    }

    @Test("the config key metrics_listen is checked the same way, naming the key")
    func configKeyRefusesNonLoopback() throws {
        let d = try TestDaemon(config: "metrics_listen = \"10.0.0.1:9464\"\n", start: false)
        try d.start(waitForSocket: false)
        #expect(d.process!.waitForExit(timeout: 20) == 1)
        #expect(d.stderr.contains("credbrokerd: error: config \""), "\(d.stderr)")
        #expect(d.stderr.contains("key \"metrics_listen\": \"10.0.0.1:9464\" is not a loopback address"), "\(d.stderr)")
    }

    @Test("the loopback listener answers GET /metrics and /v1/metrics, 404s every other route, and closes with the daemon")
    func loopbackListener() async throws {
        let d = try TestDaemon(extraArguments: ["--metrics-listen", "127.0.0.1:0"])
        try d.provision()
        var port: Int?
        _ = BackgroundProcess.waitUntil { port = Self.metricsPort(d.stderr); return port != nil }
        let bound = try #require(port, "no metrics address in the log: \(d.stderr)")
        let base = "http://127.0.0.1:\(bound)"
        var options = HTTPTransportOptions()
        options.totalTimeout = .seconds(10)
        let http = try CurlTransport(options: options)
        #expect(try d.request("POST", "/v1/token", json: TestDaemon.tokenBody).status == 200)

        for path in ["/metrics", "/v1/metrics", "/metrics?x=1"] {
            let r = try await http.send(HTTPRequest(method: "GET", url: base + path))
            #expect(r.status == 200, "\(path)")
            #expect(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
            let text = String(decoding: r.body, as: UTF8.self)
            let parsed = try Exposition(text)
            #expect(parsed.value(Self.served, ["provider": "google", "decision": "granted"]) == 1)
            Self.expectNoCanary(text, ["ya29.test-token-canary", "client-secret-canary", "me@example.com"])
        }
        let json = [HTTPHeaderField("Content-Type", "application/json")]
        for (method, path) in [("POST", "/v1/token"), ("GET", "/v1/token"), ("GET", "/v1/health"), ("GET", "/v1/profiles"),
                               ("GET", "/v1/admin/status"), ("POST", "/v1/admin/lock"), ("GET", "/"), ("GET", "/metrics/")] {
            let r = try await http.send(HTTPRequest(method: method, url: base + path, headers: json, body: method == "POST" ? Array(TestDaemon.tokenBody.utf8) : []))
            #expect(r.status == 404, "\(method) \(path): \(r.status)")
            #expect(!String(decoding: r.body, as: UTF8.self).contains("ya29."), "\(method) \(path)")
        }
        #expect(try await http.send(HTTPRequest(method: "POST", url: base + "/metrics")).status == 405)
        // Nothing reached the token route or the admin routes through it.
        #expect(try d.request("GET", "/v1/health").text.contains("\"ok\""))

        #expect(d.stop() == 0)
        await #expect(throws: (any Error).self) { _ = try await http.send(HTTPRequest(method: "GET", url: base + "/metrics")) }
    }

    /// Connects to the metrics port, sends `requests` (all at once, or the first alone and
    /// its answer read first), half-closes, and prints the answers' statuses, then "closed"
    /// at end of stream or "open" when 20 s passed without it.
    static let halfClosingClient = """
        import socket, sys
        port, pipelined = int(sys.argv[1]), sys.argv[2] == "1"
        paths = ["/metrics", "/nothing", "/v1/metrics"] if pipelined else ["/metrics"]
        c = socket.create_connection(("127.0.0.1", port), timeout=20)
        def answers(buf):
            found = []
            while True:
                end = buf.find(b"\\r\\n\\r\\n")
                if end < 0: return found
                lines = buf[:end].decode().split("\\r\\n")
                length = sum(int(l.split(":", 1)[1]) for l in lines[1:] if l.lower().startswith("content-length:"))
                if len(buf) < end + 4 + length: return found
                found.append(lines[0].split(" ")[1])
                buf = buf[end + 4 + length:]
        buf = b""
        requests = b"".join(b"GET %s HTTP/1.1\\r\\nHost: metrics\\r\\n\\r\\n" % p.encode() for p in paths)
        c.sendall(requests)
        if not pipelined:
            while not answers(buf):
                chunk = c.recv(65536)
                if not chunk: break
                buf += chunk
        c.shutdown(socket.SHUT_WR)
        state = "open"
        try:
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    state = "closed"; break
                buf += chunk
        except socket.timeout:
            pass
        print(" ".join(answers(buf) + [state]))
        """

    @Test("the loopback listener answers what came before a half-close, then closes",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs /usr/bin/python3 for a TCP client"))
    func loopbackHalfClose() throws {
        // The idle timeout is 60 s and the client waits 20 s: an end of stream within that is
        // the listener closing because the client half-closed.
        let d = try TestDaemon(extraArguments: ["--metrics-listen", "127.0.0.1:0"])
        try d.provision()
        var port: Int?
        _ = BackgroundProcess.waitUntil { port = Self.metricsPort(d.stderr); return port != nil }
        let bound = try #require(port, "no metrics address in the log: \(d.stderr)")
        for (pipelined, expected) in [(true, "200 404 200 closed"), (false, "200 closed")] {
            let r = try Subprocess.run("/usr/bin/python3", ["-c", Self.halfClosingClient, String(bound), pipelined ? "1" : "0"], timeout: 60)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == expected, "pipelined \(pipelined): \(r.stdout) \(r.stderr)")
        }
        #expect(d.stop() == 0)
    }

    @Test("metrics_listen: loopback addresses parse to their canonical form; others are refused with the reason")
    func addressParsing() {
        let good: [(String, String)] = [("127.0.0.1:9464", "127.0.0.1:9464"), ("127.1.2.3:1", "127.1.2.3:1"), ("[::1]:9464", "[::1]:9464"),
                                        ("[0:0:0:0:0:0:0:1]:80", "[::1]:80"), ("127.0.0.1:0", "127.0.0.1:0")]
        for (text, canonical) in good {
            guard case .success(let address) = MetricsListenAddress.parse(text) else {
                Issue.record("\(text) was refused")
                continue
            }
            #expect(address.description == canonical)
        }
        let bad: [(String, String)] = [
            ("0.0.0.0:9464", "not a loopback address"), ("10.0.0.1:9464", "not a loopback address"), ("128.0.0.1:1", "not a loopback address"),
            ("[::]:9464", "not a loopback address"), ("[::ffff:127.0.0.1]:9464", "not a loopback address"),
            ("localhost:9464", "names are not looked up"), ("127.0.0.01:9464", "not an IP address"), ("127.0.0.1", "not an address and port"),
            ("::1:9464", "not an address and port"), ("[::1]", "not an address and port"), ("127.0.0.1:65536", "the port must be"),
            ("127.0.0.1:+80", "the port must be"), ("127.0.0.1:", "the port must be"), ("", "not an address and port"),
        ]
        for (text, reason) in bad {
            guard case .failure(let error) = MetricsListenAddress.parse(text) else {
                Issue.record("\(text) was accepted")
                continue
            }
            #expect(error.message.contains(reason), "\(text): \(error.message)")
            #expect(error.message.contains("\"\(text)\""), "the reason quotes the value: \(error.message)")
        }
    }

    // MARK: - Helpers

    /// The port the daemon logged for its metrics listener (`metrics=127.0.0.1:PORT`).
    static func metricsPort(_ log: String) -> Int? {
        guard let range = log.range(of: "metrics=127.0.0.1:") else { return nil }
        return Int(log[range.upperBound...].prefix { $0.isNumber })
    }

    /// curl as `uid` (gid the same) through setpriv; the status, body and Content-Type.
    static func curl(as uid: UInt32, _ d: TestDaemon, _ path: String, method: String? = nil, json: String? = nil) throws -> (status: Int, body: String, contentType: String) {
        var args = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "curl", "-s", "-o", "-", "-w", "\n%{http_code} %{content_type}", "--unix-socket", d.socket]
        if let method { args += ["-X", method] }
        if let json { args += ["-H", "Content-Type: application/json", "-d", json] }
        args.append("http://localhost" + path)
        let r = try Subprocess.run("setpriv", args)
        var lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let last = lines.popLast() ?? ""
        let status = Int(last.prefix { $0 != " " }) ?? -1
        let type = last.drop { $0 != " " }.dropFirst()
        return (status, lines.joined(separator: "\n"), String(type))
    }
}

/// A Prometheus text exposition (format 0.0.4), parsed strictly enough to fail on a broken
/// one: every line is `# TYPE name type`, `# HELP name text`, or a sample
/// `name{label="value",...} value`, and every sample's family has a TYPE line before it.
struct Exposition {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    var samples: [Sample] = []
    var types: [String: String] = [:]

    init(_ text: String) throws {
        guard text.isEmpty || text.hasSuffix("\n") else { throw Malformed(description: "the text does not end with a newline") }
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            func fail(_ why: String) -> Malformed { Malformed(description: "line \(number + 1) \"\(line)\": \(why)") }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard parts.count >= 3, parts[0] == "#", Self.isName(parts[2]) else { throw fail("a comment other than TYPE or HELP") }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else { throw fail("a bad TYPE") }
                    guard types[String(parts[2])] == nil else { throw fail("a second TYPE for the name") }
                    types[String(parts[2])] = String(parts[3])
                } else if parts[1] != "HELP" {
                    throw fail("a comment other than TYPE or HELP")
                }
                continue
            }
            var rest = Substring(line)
            let name = rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
            guard Self.isName(name) else { throw fail("no metric name") }
            rest = rest.dropFirst(name.count)
            var labels: [String: String] = [:]
            if rest.first == "{" {
                rest = rest.dropFirst()
                while rest.first != "}" {
                    let label = rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
                    guard !label.isEmpty, !label.first!.isNumber else { throw fail("a bad label name") }
                    rest = rest.dropFirst(label.count)
                    guard rest.hasPrefix("=\"") else { throw fail("a label without =\"") }
                    rest = rest.dropFirst(2)
                    var value = ""
                    var closed = false
                    while let c = rest.first {
                        rest = rest.dropFirst()
                        if c == "\"" { closed = true; break }
                        if c == "\\" {
                            guard let e = rest.first, ["\\", "\"", "n"].contains(e) else { throw fail("a bad escape") }
                            value.append(e == "n" ? "\n" : e)
                            rest = rest.dropFirst()
                        } else {
                            value.append(c)
                        }
                    }
                    guard closed, labels[String(label)] == nil else { throw fail("an unterminated or repeated label") }
                    labels[String(label)] = value
                    if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" { throw fail("labels not separated by commas") }
                }
                rest = rest.dropFirst()
            }
            guard rest.first == " " else { throw fail("no space before the value") }
            guard let value = Double(rest.dropFirst()) else { throw fail("a value that is not a number") }
            let family = ["_bucket", "_sum", "_count"].first { name.hasSuffix($0) && types[String(name.dropLast($0.count))] == "histogram" }
                .map { String(name.dropLast($0.count)) } ?? String(name)
            guard types[family] != nil else { throw fail("a sample before its TYPE line") }
            samples.append(Sample(name: String(name), labels: labels, value: value))
        }
    }

    static func isName(_ s: Substring) -> Bool {
        guard let first = s.first, !first.isNumber else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }

    /// The value of the sample with exactly these labels.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }
}
