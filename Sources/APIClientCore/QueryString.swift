/// Builds URL queries with RFC 3986 percent-encoding (everything but unreserved characters
/// is encoded, so `+`, `&`, `=`, `$` and spaces in values are safe).
public enum QueryString {
    /// `"a=1&b=x%20y"`; items whose value is nil are left out; names are encoded too.
    public static func build(_ items: [(String, String?)]) -> String {
        var parts: [String] = []
        for (name, value) in items {
            guard let value else { continue }
            parts.append(encode(name) + "=" + encode(value))
        }
        return parts.joined(separator: "&")
    }

    /// `base` with `?query` appended (or `&query` when `base` has a query already); `base`
    /// alone when no item has a value.
    public static func url(_ base: String, _ items: [(String, String?)]) -> String {
        let query = build(items)
        guard !query.isEmpty else { return base }
        return base + (base.contains("?") ? "&" : "?") + query
    }

    /// Percent-encodes every byte of UTF-8 outside ALPHA / DIGIT / "-" / "." / "_" / "~".
    public static func encode(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
