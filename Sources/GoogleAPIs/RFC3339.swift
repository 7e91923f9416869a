import Foundation

/// RFC 3339 timestamps as Google writes and reads them. Format styles rather than
/// `ISO8601DateFormatter`s, which cost about 0.2 ms each to make on Linux.
enum RFC3339 {
    static let whole = Date.ISO8601FormatStyle()
    static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// `2026-01-05T09:30:00Z` (UTC, whole seconds).
    static func string(_ date: Date) -> String {
        date.formatted(whole)
    }

    /// Accepts fractional seconds and any offset; nil for anything else.
    static func date(_ text: String) -> Date? {
        (try? whole.parse(text)) ?? (try? fractional.parse(text))
    }

    /// A `yyyy-mm-dd` day at midnight in `timeZone` (an IANA name; UTC when nil or unknown).
    static func day(_ text: String, timeZone: String?) -> Date? {
        let parts = text.split(separator: "-")
        guard text.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone.flatMap { TimeZone(identifier: $0) } ?? TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: day)
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }
}

/// Percent-encoding of one URL path segment (RFC 3986 unreserved characters stay).
enum PathSegment {
    static let unreserved: CharacterSet = {
        var set = CharacterSet()
        set.insert(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return set
    }()

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }
}
