/// The order of an event list: `startTime` (needs `singleEvents`) or `updated`.
public struct EventOrder: RawRepresentable, Sendable, Hashable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// By start time, ascending; Google allows it only with `singleEvents: true`.
    public static let startTime = EventOrder(rawValue: "startTime")
    /// By last modification, ascending.
    public static let updated = EventOrder(rawValue: "updated")
}
