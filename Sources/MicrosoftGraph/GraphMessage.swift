public import Foundation

/// An Outlook message (Graph's `message`): what a list or get answers, and the draft
/// `sendMail` takes. Every property is optional; nil ones are not sent, unknown fields in
/// answers are ignored.
public struct GraphMessage: Codable, Sendable, Hashable {
    /// Set by Graph; leave nil in a draft.
    public var id: String?
    public var subject: String?
    public var body: GraphItemBody?
    /// The first characters of the body as text (read-only; absent with only Mail.ReadBasic).
    public var bodyPreview: String?
    public var from: GraphRecipient?
    public var sender: GraphRecipient?
    public var toRecipients: [GraphRecipient]?
    public var ccRecipients: [GraphRecipient]?
    public var bccRecipients: [GraphRecipient]?
    public var replyTo: [GraphRecipient]?
    /// RFC 3339, UTC (read-only).
    public var receivedDateTime: String?
    public var sentDateTime: String?
    public var isRead: Bool?
    public var isDraft: Bool?
    /// `low`, `normal`, `high`.
    public var importance: String?
    public var hasAttachments: Bool?
    public var conversationId: String?
    public var parentFolderId: String?
    public var categories: [String]?
    public var webLink: String?

    /// A draft for `sendMail`.
    public init(
        subject: String? = nil, body: GraphItemBody? = nil, to: [GraphRecipient]? = nil, cc: [GraphRecipient]? = nil,
        bcc: [GraphRecipient]? = nil, importance: String? = nil
    ) {
        self.subject = subject
        self.body = body
        self.toRecipients = to
        self.ccRecipients = cc
        self.bccRecipients = bcc
        self.importance = importance
    }

    /// `receivedDateTime` as an instant.
    public var receivedDate: Date? { receivedDateTime.flatMap(GraphTime.parse) }
}

/// RFC 3339 instants as Graph writes them (`2026-01-05T09:30:00Z`, fractions optional).
enum GraphTime {
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    /// `2026-01-05T09:30:00Z`: what Graph takes in `startDateTime`, `$filter` and birthdays.
    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        return formatter.string(from: date)
    }
}
