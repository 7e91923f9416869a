public import Foundation

/// An OData `$filter` expression. Build clauses with the static functions (literals are
/// quoted and escaped for you: `O'Brien` becomes `'O''Brien'`) and join them with `and`;
/// or pass a raw expression you wrote yourself.
///
/// ```swift
/// let unreadFromBob = GraphFilter.eq("isRead", false).and(.eq("from/emailAddress/address", "bob@example.com"))
/// ```
public struct GraphFilter: Sendable, Hashable, CustomStringConvertible {
    /// The expression as sent in `$filter`.
    public let expression: String

    /// A raw expression, sent as it is. Quote string literals with `GraphFilter.literal(_:)`.
    public init(_ expression: String) { self.expression = expression }

    public var description: String { expression }

    /// `path eq value`.
    public static func eq(_ path: String, _ value: some GraphFilterLiteral) -> GraphFilter { compare(path, "eq", value) }
    /// `path ne value`.
    public static func ne(_ path: String, _ value: some GraphFilterLiteral) -> GraphFilter { compare(path, "ne", value) }
    /// `path gt value`.
    public static func gt(_ path: String, _ value: some GraphFilterLiteral) -> GraphFilter { compare(path, "gt", value) }
    /// `path ge value`.
    public static func ge(_ path: String, _ value: some GraphFilterLiteral) -> GraphFilter { compare(path, "ge", value) }
    /// `path lt value`.
    public static func lt(_ path: String, _ value: some GraphFilterLiteral) -> GraphFilter { compare(path, "lt", value) }
    /// `path le value`.
    public static func le(_ path: String, _ value: some GraphFilterLiteral) -> GraphFilter { compare(path, "le", value) }
    /// `startswith(path,'prefix')`.
    public static func startsWith(_ path: String, _ prefix: String) -> GraphFilter {
        GraphFilter("startswith(\(path),\(literal(prefix)))")
    }
    /// `contains(path,'text')`.
    public static func contains(_ path: String, _ text: String) -> GraphFilter {
        GraphFilter("contains(\(path),\(literal(text)))")
    }

    /// `self and other`.
    public func and(_ other: GraphFilter) -> GraphFilter { GraphFilter(expression + " and " + other.expression) }

    /// A string literal: in single quotes, each quote inside doubled (OData's escape).
    public static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    static func compare(_ path: String, _ op: String, _ value: some GraphFilterLiteral) -> GraphFilter {
        GraphFilter("\(path) \(op) \(value.odataLiteral)")
    }
}

/// A value that can stand on the right of a `$filter` comparison.
public protocol GraphFilterLiteral: Sendable {
    /// The value as OData writes it.
    var odataLiteral: String { get }
}

extension String: GraphFilterLiteral {
    /// Quoted, with quotes inside doubled.
    public var odataLiteral: String { GraphFilter.literal(self) }
}

extension Bool: GraphFilterLiteral {
    public var odataLiteral: String { self ? "true" : "false" }
}

extension Int: GraphFilterLiteral {
    public var odataLiteral: String { String(self) }
}

extension Double: GraphFilterLiteral {
    public var odataLiteral: String { String(self) }
}

extension Date: GraphFilterLiteral {
    /// A DateTimeOffset in UTC, unquoted: `2026-01-05T09:30:00Z`.
    public var odataLiteral: String { GraphTime.format(self) }
}
