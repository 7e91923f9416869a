import BrokerCore
import BrokerDaemon
import BrokerWire
import NIOCore
import NIOPosix

/// `api-json`: a JSON body for each route that takes one, through the router as the
/// daemon runs it for an admin (RequestHarness.route): content type, body decoding
/// (Foundation's JSONDecoder for the admin routes, BrokerCore's JSON reader for
/// /v1/token), and every check a route makes before it touches the vault.
///
/// Input: one byte that picks the route ("a" is /v1/token, "b" init, ... see `routes`;
/// other values wrap around), then the body.
///
/// Invariants: every answer is an error with one of the API's codes and its status (with
/// no vault nothing can succeed), and no answer repeats a secret of the request (a
/// passphrase, a client secret, a refresh token).
enum APIJSONFuzz {
    static let target = FuzzTarget(
        name: "api-json", summary: "a route letter, then a JSON body, through the router for an admin (no vault)",
        maxLength: 70 * 1024, prepare: {
            // A route that runs as a task: the concurrency runtime's threads start now.
            _ = run(Array(#"k{"profile":"dev","app":"google"}"#.utf8))
            harness.settle()
        }, run: run)

    static let routes: [(method: String, path: String)] = [
        ("POST", "/v1/token"),                                  // a
        ("POST", "/v1/admin/init"),                             // b
        ("POST", "/v1/admin/unlock"),                           // c
        ("POST", "/v1/admin/passwd"),                           // d
        ("POST", "/v1/admin/add-slot"),                         // e
        ("POST", "/v1/admin/remove-slot"),                      // f
        ("POST", "/v1/admin/backup"),                           // g
        ("POST", "/v1/admin/restore"),                          // h
        ("POST", "/v1/admin/audit/verify"),                     // i
        ("POST", "/v1/admin/import"),                           // j
        ("POST", "/v1/admin/login/start"),                      // k
        ("POST", "/v1/admin/login/complete"),                   // l
        ("POST", "/v1/admin/login/poll"),                       // m
        ("POST", "/v1/admin/revoke"),                           // n
        ("POST", "/v1/admin/secret/rotate"),                    // o
        ("PUT", "/v1/admin/profiles/dev/apps/google"),          // p
        ("PUT", "/v1/admin/profiles/dev/grants/google/me%40example.com"), // q
    ]

    /// Members whose values are secrets (docs/spec/api.md): never in an answer.
    static let secretMembers: Set<String> = [
        "passphrase", "secret", "current", "new", "client_secret", "refresh_token", "access_token", "private_key", "code", "code_verifier",
    ]

    static let harness: RequestHarness = {
        do { return try RequestHarness(directory: Scratch.directory("api-json")) } catch {
            fatalError("cannot build the request harness: \(error)")
        }
    }()

    static let eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()

    static func run(_ input: [UInt8]) -> String? {
        guard let first = input.first else { return nil }
        let route = routes[Int(first &- 0x61) % routes.count]
        let body = Array(input.dropFirst())
        if let problem = check(route, body: body, canary: false) { return problem }
        // Again with every secret member's value replaced by a canary (valid base64, as
        // the admin routes want their secrets), which no answer may contain.
        guard let request = try? JSONValue.parse(body) else { return nil }
        var found = false
        let marked = replacingSecrets(request, key: nil, found: &found)
        guard found else { return nil }
        var writer = JSONWriter()
        write(marked, to: &writer)
        return check(route, body: writer.bytes, canary: true)
    }

    static let canary = "Q0FOQVJZLTdmM2E5YjJjZDQ="   // base64 of "CANARY-7f3a9b2cd4"
    static let decodedCanary = "CANARY-7f3a9b2cd4"

    static func check(_ route: (method: String, path: String), body: [UInt8], canary: Bool) -> String? {
        let (status, answer) = harness.route(method: route.method, path: route.path, body: body, eventLoop: eventLoop)
        harness.settle() // as in APIFuzz: the audit lines written before the next input
        guard !(200...299).contains(status) else { return "\(route.path) answered \(status) without a vault" }
        let parsed: JSONValue
        do throws(JSONError) { parsed = try JSONValue.parse(answer) } catch { return "\(route.path): the answer is not JSON: \(error.message)" }
        guard case .object(let envelope) = parsed, case .object(let error)? = envelope["error"],
              let code = error["code"]?.string, error["message"]?.string != nil else {
            return "\(route.path): the answer has no {\"error\": {\"code\", \"message\"}}"
        }
        let wire = WireErrorCode(rawValue: code)
        guard WireErrorCode.all.contains(wire) else { return "\(route.path): unknown code \(code)" }
        let expected = status == 405 ? WireErrorCode.badRequest.status : status
        guard wire.status == expected else { return "\(route.path): code \(code) with status \(status)" }
        if canary {
            let text = String(decoding: answer, as: UTF8.self)
            if text.contains(Self.canary) || text.contains(decodedCanary) || text.contains("Q0FOQVJZ") {
                return "\(route.path): the answer repeats a secret of the request"
            }
        }
        return nil
    }

    /// `value` with the string value of every secret member replaced by the canary.
    static func replacingSecrets(_ value: JSONValue, key: String?, found: inout Bool) -> JSONValue {
        switch value {
        case .string:
            if let key, secretMembers.contains(key) {
                found = true
                return .string(canary)
            }
            return value
        case .object(let members):
            var out: [String: JSONValue] = [:]
            for (k, v) in members { out[k] = replacingSecrets(v, key: k, found: &found) }
            return .object(out)
        case .array(let items):
            return .array(items.map { replacingSecrets($0, key: key, found: &found) })
        default:
            return value
        }
    }

    static func write(_ value: JSONValue, to writer: inout JSONWriter) {
        switch value {
        case .null: writer.null()
        case .bool(let b): writer.bool(b)
        case .number(let text): writer.raw(Array(text.utf8))
        case .string(let s): writer.string(s)
        case .array(let items):
            writer.beginArray()
            for item in items { write(item, to: &writer) }
            writer.endArray()
        case .object(let members):
            writer.beginObject()
            for (k, v) in members.sorted(by: { $0.key < $1.key }) {
                writer.key(k)
                write(v, to: &writer)
            }
            writer.endObject()
        }
    }
}
