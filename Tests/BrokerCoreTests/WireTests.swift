import BrokerCore
import BrokerWire
import Foundation
import Testing

@Suite("scopes, times, paths and HTTP framing")
struct WireTests {
    @Test("aliases expand; full strings and unknown names pass through; commas split; duplicates drop")
    func aliases() {
        #expect(ScopeAliases.expand("calendar.readonly") == "https://www.googleapis.com/auth/calendar.readonly")
        #expect(ScopeAliases.expand("Mail.Send") == "https://graph.microsoft.com/Mail.Send")
        #expect(ScopeAliases.expand("offline_access") == "offline_access")
        #expect(ScopeAliases.expand(" meeting:read ") == "meeting:read")
        let all = ScopeAliases.expandAll(["calendar.readonly,gmail.send", "calendar.readonly", ""])
        #expect(all == ["https://www.googleapis.com/auth/calendar.readonly", "https://www.googleapis.com/auth/gmail.send"])
        #expect(ScopeAliases.alias(for: "https://www.googleapis.com/auth/gmail.send") == "gmail.send")
    }

    @Test("RFC 3339: formatting and parsing agree with Foundation, offsets and fractions parse, junk does not")
    func rfc3339() {
        #expect(RFC3339.string(unixSeconds: 0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.string(unixSeconds: 951_782_400) == "2000-02-29T00:00:00Z")
        #expect(RFC3339.string(unixSeconds: 4_102_444_799) == "2099-12-31T23:59:59Z")
        // Beyond what RFC 3339 writes: the nearest end, never a trap or a five-digit year
        // (a token file's "expires_at": 1e57 once stopped credbroker import).
        #expect(RFC3339.string(unixSeconds: .max) == "9999-12-31T23:59:59Z")
        #expect(RFC3339.string(unixSeconds: .min) == "0000-01-01T00:00:00Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: 1e57)) == "9999-12-31T23:59:59Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: -.infinity)) == "0000-01-01T00:00:00Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: .nan)) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: 253_402_300_799.9)) == "9999-12-31T23:59:59Z")
        #expect(RFC3339.parse("9999-12-31T23:59:59Z")?.timeIntervalSince1970 == Double(RFC3339.latestSeconds))
        #expect(RFC3339.parse("0000-01-01T00:00:00Z")?.timeIntervalSince1970 == Double(RFC3339.earliestSeconds))
        for seconds in stride(from: Int64(-86_400 * 400), to: 4_000_000_000, by: 7_777_777) {
            let text = RFC3339.string(unixSeconds: seconds)
            let back = RFC3339.parse(text)?.timeIntervalSince1970
            #expect(back == Double(seconds), "\(text)")
        }
        #expect(RFC3339.parse("2026-11-30T12:00:00+01:00")?.timeIntervalSince1970 == RFC3339.parse("2026-11-30T11:00:00Z")?.timeIntervalSince1970)
        #expect(RFC3339.parse("2026-11-30T12:00:00.5Z")?.timeIntervalSince1970 == 1_796_040_000.5)
        for bad in ["", "2026-11-30", "2026-13-01T00:00:00Z", "2026-11-30T12:00:00", "2026-11-30T12:00:00Zjunk", "x026-11-30T12:00:00Z"] {
            #expect(RFC3339.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("the response parser waits for whole responses, splits pipelined ones, refuses bad framing")
    func framing() throws {
        var parser = HTTPResponseParser()
        let one = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        let two = Array("HTTP/1.1 423 Locked\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n".utf8)
        parser.append(one.prefix(10))
        #expect(try parser.next() == nil)
        parser.append(one.dropFirst(10) + two)
        let first = try #require(try parser.next())
        #expect(first.status == 200)
        #expect(first.body == Array("ok".utf8))
        let second = try #require(try parser.next())
        #expect(second.status == 423)
        #expect(second.header("content-type") == "application/json")
        var bad = HTTPResponseParser()
        bad.append(Array("NOPE\r\n\r\n".utf8))
        #expect(throws: HTTPFramingError.self) { try bad.next() }
        var chunked = HTTPResponseParser()
        chunked.append(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        #expect(throws: HTTPFramingError.self) { try chunked.next() }
        let request = String(decoding: HTTPRequestWriter.request(method: "POST", path: "/v1/token", body: Array("{}".utf8)), as: UTF8.self)
        #expect(request == "POST /v1/token HTTP/1.1\r\nHost: credbroker\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
    }

    @Test("the token request reader: unknown members ignored, later duplicates win, wrong types named")
    func tokenRequest() throws {
        let text = #"{"x":{"deep":[1,2,{"a":null}]},"profile":"p0","profile":"dev","provider":"google","scopes":["a","b\u00e9"],"min_valid_seconds":30,"force_refresh":false,"account":null}"#
        let r = try TokenRequest(json: Array(text.utf8))
        #expect(r.profile == "dev")
        #expect(r.provider == "google")
        #expect(r.account == nil)
        #expect(r.scopes == ["a", "bé"])
        #expect(r.minValidSeconds == 30)
        #expect(r.forceRefresh == false)
        let cases: [(String, String)] = [
            (#"{"provider":"g","scopes":["a"]}"#, "\"profile\" is missing"),
            (#"{"profile":1,"provider":"g","scopes":["a"]}"#, "\"profile\" has the wrong type"),
            (#"{"profile":"p","provider":"g","scopes":["a",2]}"#, "\"scopes.1\" has the wrong type"),
            (#"{"profile":"p","provider":"g","scopes":["a"],"min_valid_seconds":1.5}"#, "\"min_valid_seconds\" has the wrong type"),
            (#"["profile"]"#, "the body must be a JSON object"),
            (#"{"profile":"p"} x"#, "unexpected data after the JSON value"),
        ]
        for (body, message) in cases {
            var got = ""
            do { _ = try TokenRequest(json: Array(body.utf8)) } catch { got = error.message }
            #expect(got == message, "\(body)")
        }
    }

    @Test("error codes map to their statuses")
    func codes() {
        let pairs: [(WireErrorCode, Int)] = [(.locked, 423), (.denied, 403), (.notFound, 404), (.reauthRequired, 409), (.badRequest, 400), (.tooMany, 429), (.unavailable, 503), (.internal, 500)]
        for (code, status) in pairs { #expect(code.status == status) }
        #expect(WireErrorCode.all.count == 8)
    }

    @Test("daemon paths: XDG variables, their fallbacks, the runtime directory and the client order")
    func paths() {
        let env: [String: String] = ["HOME": "/home/u", "XDG_RUNTIME_DIR": "/run/user/1000", "XDG_CONFIG_HOME": "/cfg"]
        let p = DaemonPaths.user(environment: env, uid: 1000, home: nil) { _ in false }
        #expect(p.socket == "/run/user/1000/credbroker/broker.sock")
        #expect(p.vault == "/home/u/.local/share/credbroker/vault.db")
        #expect(p.config == "/cfg/credbroker/credbrokerd.toml")
        #expect(p.policies == "/cfg/credbroker/policies.d")
        #expect(p.auditLog == "/home/u/.local/state/credbroker/audit.log")
        let noRuntime = DaemonPaths.user(environment: ["HOME": "/home/u"], uid: 1000, home: nil) { $0 == "/run/user/1000" }
        #expect(noRuntime.socket == "/run/user/1000/credbroker/broker.sock")
        let tmp = DaemonPaths.user(environment: ["HOME": "/home/u", "XDG_DATA_HOME": "relative"], uid: 1000, home: nil) { _ in false }
        #expect(tmp.socket == "/tmp/credbroker-1000/broker.sock")
        #expect(tmp.vault == "/home/u/.local/share/credbroker/vault.db")
        let order = DaemonPaths.clientCandidates(flag: nil, environment: ["HOME": "/h"], uid: 5) { _ in false }
        #expect(order == ["/tmp/credbroker-5/broker.sock", "/run/credbroker/broker.sock"])
        #expect(DaemonPaths.clientCandidates(flag: nil, environment: ["CREDBROKER_SOCKET": "/s"], uid: 5) { _ in false } == ["/s"])
        #expect(DaemonPaths.clientCandidates(flag: "/f", environment: ["CREDBROKER_SOCKET": "/s"], uid: 5) { _ in false } == ["/f"])
    }
}
