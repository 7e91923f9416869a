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
        var line = JSONWriter.openObject()
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

    /// A rough size of the line this event becomes, for bounding the queue.
    var estimatedBytes: Int {
        var n = 600 + route.utf8.count + (detail?.utf8.count ?? 0)
        for s in scopes { n += s.utf8.count + 3 }
        return n
    }

    static func fingerprint(ofToken token: String) -> String {
        String(Digest.hex(Digest.sha256(Array(token.utf8))).prefix(8))
    }
}

/// Audit lines are JSON objects with a fixed member order (the MAC covers the exact
/// bytes), written with BrokerWire's JSONWriter; these add the member-at-a-time calls.
extension JSONWriter {
    /// A writer inside an object that has been opened and not yet closed.
    static func openObject() -> JSONWriter {
        var w = JSONWriter(capacity: 512)
        w.beginObject()
        return w
    }

    mutating func string(_ name: String, _ value: String?) { key(name); string(value) }
    mutating func int(_ name: String, _ value: Int64?) { key(name); int(value) }
    mutating func strings(_ name: String, _ values: [String]) { key(name); strings(values) }
    mutating func raw(_ name: String, _ json: [UInt8]) { key(name); raw(json) }
    mutating func null(_ name: String) { key(name); null() }

    /// The object's bytes so far, without its closing brace (what an audit MAC covers).
    var body: [UInt8] { bytes }

    /// The object closed with "}" (for a nested member).
    var closed: [UInt8] { bytes + [UInt8(ascii: "}")] }
}

extension AuditEvent {
    /// The event's members, in their fixed order, after `seq`, `time` and `epoch`.
    func write(into line: inout JSONWriter) {
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
