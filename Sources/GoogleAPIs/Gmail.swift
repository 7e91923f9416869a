public import APIClientCore

/// Gmail API v1: list and search, get, send, label changes. Never cached.
///
/// Scopes: list, get and `unreadCount` ask for `GoogleScopes.gmailRead`, `send` for
/// `gmailSend`, `modify` for `gmailModify`.
public struct Gmail: Sendable {
    let client: APIClient
    let baseURL: String
    let scopes: GoogleScopes

    /// Gmail's page size cap for `users.messages.list`.
    static let maxPageSize = 500

    struct ListPage: Decodable {
        var messages: [GmailMessageRef]?
        var nextPageToken: String?
        var resultSizeEstimate: Int?
    }

    struct SendBody: Encodable {
        var raw: String
        var threadId: String?
    }

    struct ModifyBody: Encodable {
        var addLabelIds: [String]
        var removeLabelIds: [String]
    }

    var messagesURL: String { baseURL + "/users/me/messages" }

    /// The user's messages, newest first, a page at a time.
    ///
    /// - Parameters:
    ///   - q: Gmail search syntax (`is:unread from:bob newer_than:7d`).
    ///   - labelIds: only messages carrying all of these (`INBOX`, `UNREAD`, ...).
    ///   - pageSize: ids per request (Gmail's `maxResults`, 1–500; Gmail's default 100).
    ///   - includeSpamTrash: include SPAM and TRASH.
    public func messages(q: String? = nil, labelIds: [String] = [], pageSize: Int? = nil, includeSpamTrash: Bool = false) -> PagedSequence<GmailMessageRef> {
        let client = self.client
        let url = messagesURL
        let scopes = self.scopes.gmailRead
        let fixed: [(String, String?)] = [("q", q)] + labelIds.map { ("labelIds", $0) }
            + [("maxResults", pageSize.map(String.init)), ("includeSpamTrash", includeSpamTrash ? "true" : nil)]
        return PagedSequence { cursor in
            let query = QueryString.build(fixed + [("pageToken", cursor)])
            let request = APIRequest(method: "GET", url: url + (query.isEmpty ? "" : "?" + query), scopes: scopes)
            let page = try await client.json(request, as: ListPage.self)
            return (page.messages ?? [], page.nextPageToken)
        }
    }

    /// One message. `metadataHeaders` narrows the headers of format `.metadata`.
    public func message(id: String, format: GmailMessageFormat = .full, metadataHeaders: [String] = []) async throws -> GmailMessage {
        let query = QueryString.build([("format", format.rawValue)] + metadataHeaders.map { ("metadataHeaders", $0) })
        let request = APIRequest(method: "GET", url: messagesURL + "/" + PathSegment.encode(id) + "?" + query, scopes: scopes.gmailRead)
        return try await client.json(request, as: GmailMessage.self)
    }

    /// Sends `message` (built with `MailMessage.rfc2822()`, sent base64url as `raw`).
    /// Returns the sent message's id, thread and labels.
    ///
    /// - Throws: `APIError` `.invalidRequest` before anything is sent when the message
    ///   cannot be written safely (no recipient, a bad address, a line break in a header).
    public func send(_ message: MailMessage) async throws -> GmailMessageRef {
        let body = SendBody(raw: try message.gmailRaw(), threadId: message.threadId)
        let request = try APIRequest.json("POST", messagesURL + "/send", body: body, scopes: scopes.gmailSend)
        return try await client.json(request, as: GmailMessageRef.self)
    }

    /// Adds and removes labels (`UNREAD`, `STARRED`, `IMPORTANT`, `INBOX`, ... or a user
    /// label's id). Returns the message's labels afterwards.
    public func modify(id: String, add: [String] = [], remove: [String] = []) async throws -> GmailMessageRef {
        let request = try APIRequest.json(
            "POST", messagesURL + "/" + PathSegment.encode(id) + "/modify", body: ModifyBody(addLabelIds: add, removeLabelIds: remove),
            scopes: scopes.gmailModify)
        return try await client.json(request, as: GmailMessageRef.self)
    }

    /// The number of unread messages carrying `labelIds` (default the inbox), counted
    /// exactly across pages of 500 ids (Gmail's `resultSizeEstimate` is only an estimate).
    public func unreadCount(labelIds: [String] = ["INBOX"]) async throws -> Int {
        var count = 0
        let labels = labelIds.contains("UNREAD") ? labelIds : labelIds + ["UNREAD"]
        for try await _ in messages(labelIds: labels, pageSize: Self.maxPageSize) { count += 1 }
        return count
    }
}
