import BrokerCore
import BrokerCrypto
import BrokerWire

/// One audit line's facts. Never a secret: tokens appear only as a fingerprint (the first
/// 8 hex digits of their SHA-256).
/// A connection's caller as the audit log writes it: encoded once, by the writer thread,
/// then reused for every line of that connection.
///
/// @unchecked Sendable: `caller` is immutable; `encoded` is read and written only by the
/// audit writer thread (the one consumer of events).
final class AuditCaller: @unchecked Sendable {
    let caller: Caller
    private var encoded: [UInt8]?

    init(_ caller: Caller) { self.caller = caller }

    var json: [UInt8] {
        if let encoded { return encoded }
        var line = JSONLine()
        line.int("uid", Int64(caller.uid))
        line.int("gid", Int64(caller.gid))
        line.int("pid", Int64(caller.pid))
        line.string("user", caller.userName)
        line.string("unit", caller.unit)
        line.string("exe", caller.executable)
        let bytes = line.closed
        encoded = bytes
        return bytes
    }
}

struct AuditEvent: Sendable {
    var time: Int64
    var caller: AuditCaller?
    var route: String
    var profile: String?
    var provider: String?
    var account: String?
    var scopes: [String] = []
    /// "allow" or "deny" when a policy decided; nil otherwise.
    var decision: String?
    var rule: String?
    /// "ok" or the error code.
    var result: String
    var tokenFingerprint: String?
    var detail: String?

    init(time: Int64, caller: AuditCaller?, route: String, result: String) {
        self.time = time
        self.caller = caller
        self.route = route
        self.result = result
    }

    static func fingerprint(ofToken token: String) -> String {
        String(Digest.hex(Digest.sha256(Array(token.utf8))).prefix(8))
    }
}

/// An audit line under construction: JSON with a fixed member order (the MAC covers the
/// exact bytes), written straight into bytes without Foundation.
struct JSONLine {
    private(set) var bytes: [UInt8] = []
    private var first = true

    init() {
        bytes.reserveCapacity(512)
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func key(_ name: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    mutating func string(_ name: StaticString, _ value: String?) {
        key(name)
        guard let value else { bytes.append(contentsOf: Self.nullBytes); return }
        JSONWriter.appendQuoted(value, to: &bytes)
    }

    mutating func int(_ name: StaticString, _ value: Int64?) {
        key(name)
        guard let value else { bytes.append(contentsOf: Self.nullBytes); return }
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func strings(_ name: StaticString, _ values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONWriter.appendQuoted(v, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func raw(_ name: StaticString, _ json: [UInt8]) {
        key(name)
        bytes.append(contentsOf: json)
    }

    mutating func null(_ name: StaticString) {
        key(name)
        bytes.append(contentsOf: Self.nullBytes)
    }

    /// The line so far without its closing brace (what the MAC covers).
    var body: [UInt8] { bytes }

    /// The member list closed with "}".
    var closed: [UInt8] { bytes + [UInt8(ascii: "}")] }

    static let nullBytes: [UInt8] = Array("null".utf8)
}

extension AuditEvent {
    /// The event's members, in their fixed order, after `seq`, `time` and `epoch`.
    func write(into line: inout JSONLine) {
        if let c = caller {
            line.raw("caller", c.json)
        } else {
            line.null("caller")
        }
        line.string("route", route)
        line.string("profile", profile)
        line.string("provider", provider)
        line.string("account", account)
        line.strings("scopes", scopes)
        line.string("decision", decision)
        line.string("rule", rule)
        line.string("result", result)
        line.string("token", tokenFingerprint)
        line.string("detail", detail)
    }
}
