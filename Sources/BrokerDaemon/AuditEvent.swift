import BrokerCore
import BrokerCrypto

/// One audit line's facts. Never a secret: tokens appear only as a fingerprint (the first
/// 8 hex digits of their SHA-256).
struct AuditEvent: Sendable {
    var time: Int64
    var caller: Caller?
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

    init(time: Int64, caller: Caller?, route: String, result: String) {
        self.time = time
        self.caller = caller
        self.route = route
        self.result = result
    }

    static func fingerprint(ofToken token: String) -> String {
        String(Digest.hex(Digest.sha256(Array(token.utf8))).prefix(8))
    }
}

/// Writes JSON without Foundation: fixed member order (the MAC covers the exact bytes) and
/// no allocation beyond the output string.
struct JSONLine {
    private(set) var text = "{"
    private var first = true

    mutating func key(_ name: String) {
        if !first { text += "," }
        first = false
        text += "\""
        text += name
        text += "\":"
    }

    mutating func string(_ name: String, _ value: String?) {
        key(name)
        guard let value else { text += "null"; return }
        JSONLine.appendQuoted(value, to: &text)
    }

    mutating func int(_ name: String, _ value: Int64?) {
        key(name)
        text += value.map { String($0) } ?? "null"
    }

    mutating func strings(_ name: String, _ values: [String]) {
        key(name)
        text += "["
        for (i, v) in values.enumerated() {
            if i > 0 { text += "," }
            JSONLine.appendQuoted(v, to: &text)
        }
        text += "]"
    }

    mutating func raw(_ name: String, _ json: String) {
        key(name)
        text += json
    }

    /// The line so far without its closing brace (what the MAC covers).
    var body: String { text }

    static func appendQuoted(_ value: String, to out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x2028...0x2029).contains(scalar.value) {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

extension AuditEvent {
    /// The event's members, in their fixed order, after `seq`, `time` and `epoch`.
    func write(into line: inout JSONLine) {
        if let c = caller {
            var callerJSON = JSONLine()
            callerJSON.int("uid", Int64(c.uid))
            callerJSON.int("gid", Int64(c.gid))
            callerJSON.int("pid", Int64(c.pid))
            callerJSON.string("user", c.userName)
            callerJSON.string("unit", c.unit)
            callerJSON.string("exe", c.executable)
            line.raw("caller", callerJSON.body + "}")
        } else {
            line.raw("caller", "null")
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
