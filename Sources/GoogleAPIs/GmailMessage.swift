public import Foundation

/// A message as Gmail lists it: its id and thread (and labels, after send or modify).
public struct GmailMessageRef: Codable, Sendable, Hashable {
    public var id: String
    public var threadId: String?
    public var labelIds: [String]?

    public init(id: String, threadId: String? = nil, labelIds: [String]? = nil) {
        self.id = id
        self.threadId = threadId
        self.labelIds = labelIds
    }
}

/// How much of a message `Gmail.message(id:format:metadataHeaders:)` returns.
public struct GmailMessageFormat: RawRepresentable, Sendable, Hashable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Ids, labels, snippet, sizes.
    public static let minimal = GmailMessageFormat(rawValue: "minimal")
    /// Plus the headers (`metadataHeaders` narrows them).
    public static let metadata = GmailMessageFormat(rawValue: "metadata")
    /// Plus the parsed MIME parts with their bodies.
    public static let full = GmailMessageFormat(rawValue: "full")
    /// The whole RFC 2822 message in `raw`.
    public static let raw = GmailMessageFormat(rawValue: "raw")
}

/// A Gmail message (Gmail API v1 `Message`).
public struct GmailMessage: Codable, Sendable, Hashable {
    /// One header of a part, decoded by Gmail (not RFC 2047 encoded).
    public struct Header: Codable, Sendable, Hashable {
        public var name: String
        public var value: String
    }

    /// A part's body: `data` (base64url) inline, or an `attachmentId`.
    public struct PartBody: Codable, Sendable, Hashable {
        public var size: Int?
        public var data: String?
        public var attachmentId: String?

        /// `data` decoded.
        public var bytes: [UInt8]? { data.flatMap(Base64URL.decode) }
    }

    /// One MIME part; a multipart part has `parts`.
    public struct Part: Codable, Sendable, Hashable {
        public var partId: String?
        public var mimeType: String?
        public var filename: String?
        public var headers: [Header]?
        public var body: PartBody?
        public var parts: [Part]?

        /// The first part, depth first, of `mimeType` (this one included).
        public func first(mimeType wanted: String) -> Part? {
            if mimeType?.lowercased() == wanted.lowercased(), body?.data != nil { return self }
            for part in parts ?? [] {
                if let found = part.first(mimeType: wanted) { return found }
            }
            return nil
        }
    }

    public var id: String
    public var threadId: String?
    public var labelIds: [String]?
    /// A short plain-text excerpt.
    public var snippet: String?
    public var historyId: String?
    /// Milliseconds since 1970 as a decimal string (see `date`).
    public var internalDate: String?
    public var sizeEstimate: Int?
    /// Formats `metadata` and `full`.
    public var payload: Part?
    /// Format `raw`: the RFC 2822 message, base64url.
    public var raw: String?

    /// `internalDate` as a `Date`.
    public var date: Date? {
        internalDate.flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) }
    }

    /// The first top-level header with this name (case-insensitive).
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return payload?.headers?.first { $0.name.lowercased() == wanted }?.value
    }

    public var subject: String? { header("Subject") }
    public var from: String? { header("From") }
    public var isUnread: Bool { labelIds?.contains("UNREAD") ?? false }

    /// The first `text/plain` part's text (format `full`).
    public var plainText: String? {
        payload?.first(mimeType: "text/plain")?.body?.bytes.map { String(decoding: $0, as: UTF8.self) }
    }

    /// `raw` decoded (format `raw`).
    public var rawBytes: [UInt8]? { raw.flatMap(Base64URL.decode) }
}
