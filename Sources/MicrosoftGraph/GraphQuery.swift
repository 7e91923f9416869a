import APIClientCore

/// OData query options for a Graph collection or item. Empty by default; nil and empty
/// options are not sent.
struct GraphQuery: Sendable {
    /// The page size (`$top`); Graph's Outlook collections accept 1 to 1000.
    var top: Int?
    var select: [String] = []
    var filter: GraphFilter?
    /// KQL text for `$search`; sent in double quotes, quotes and backslashes inside escaped.
    var search: String?
    var orderBy: [String] = []
    var count = false
    /// Parameters that are not OData options (`startDateTime` for calendarView).
    var parameters: [(String, String)] = []

    /// The query string, without the leading `?`.
    var queryString: String {
        var items: [(String, String?)] = parameters.map { ($0.0, $0.1) }
        items.append(("$top", top.map(String.init)))
        items.append(("$select", select.isEmpty ? nil : select.joined(separator: ",")))
        items.append(("$filter", filter?.expression))
        items.append(("$search", search.map(Self.quotedSearch)))
        items.append(("$orderby", orderBy.isEmpty ? nil : orderBy.joined(separator: ",")))
        items.append(("$count", count ? "true" : nil))
        return QueryString.build(items)
    }

    /// `"text"`, with `\` and `"` inside escaped by a backslash (KQL's phrase syntax).
    static func quotedSearch(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
