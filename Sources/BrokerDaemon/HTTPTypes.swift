import BrokerCore
import BrokerWire
import FoundationEssentials

/// A whole request as the router sees it: the head, the body (bounded), and who sent it.
struct Request {
    var method: String
    /// The path without the query, percent-decoded per segment by the router.
    var path: String
    var query: [String: String]
    var contentType: String?
    var body: [UInt8]
    var caller: Caller
    /// The same caller, for audit lines (encoded once per connection).
    var auditCaller: AuditCaller
}

/// A response: a status, a JSON (or text) body, and whether to close the connection.
struct Response {
    var status: Int
    var body: [UInt8]
    var contentType = "application/json"
    var headers: [(String, String)] = []
    var close = false

    static func json<T: Encodable>(_ value: T, status: Int = 200) -> Response {
        do {
            return Response(status: status, body: Array(try JSONEncoder.wire.encode(value)))
        } catch {
            return .error(WireError(.internal, "cannot encode the response"))
        }
    }

    static func error(_ error: WireError) -> Response {
        var response = Response(status: error.code.status, body: Array((try? JSONEncoder.wire.encode(ErrorBody(error: error))) ?? Data()))
        if let retry = error.retryAfter { response.headers.append(("Retry-After", String(retry))) }
        return response
    }

    static func error(_ code: WireErrorCode, _ message: String, status: Int? = nil) -> Response {
        var r = Response.error(WireError(code, message))
        if let status { r.status = status }
        return r
    }
}

extension JSONEncoder {
    static let wire: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}

extension JSONDecoder {
    static let wire = JSONDecoder()
}

/// Percent-decoding of one path segment (accounts are e-mail addresses: "me%40example.com").
enum PathCoding {
    static func decode(_ segment: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = segment.utf8.makeIterator()
        while let b = iterator.next() {
            if b == UInt8(ascii: "%") {
                guard let h = iterator.next(), let l = iterator.next(), let hi = hex(h), let lo = hex(l) else { return nil }
                bytes.append(hi << 4 | lo)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }

    /// Splits "a=1&b=2" into a dictionary (last value wins); nil on bad encoding.
    static func query(_ text: Substring) -> [String: String]? {
        var out: [String: String] = [:]
        for pair in text.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let k = decode(parts[0]), let v = decode(parts.count > 1 ? parts[1] : "") else { return nil }
            out[k] = v
        }
        return out
    }
}

extension WireError {
    /// The answers for a vault that is not there or not unlocked, with the command that fixes it.
    static let noVault = WireError(.unavailable, "no vault exists yet", hint: "credbroker vault init")
    static let vaultLocked = WireError(.locked, "vault is locked", hint: "credbroker vault unlock")
}
