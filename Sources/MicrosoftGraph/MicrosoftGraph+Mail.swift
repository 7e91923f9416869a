public import APIClientCore

/// Mail: list and search, get, send, unread count. Never cached. Reads ask for
/// `scopes.mailRead`, sending for `scopes.mailSend`.
extension MicrosoftGraph {
    /// Messages, newest first unless `orderBy` says otherwise, following `@odata.nextLink`
    /// (`GET /me/messages`, or `/me/mailFolders/{folder}/messages`).
    /// - Parameters:
    ///   - pageSize: `$top`, 1 to 1000 (Graph's default is 10).
    ///   - select: properties to return; all when empty.
    ///   - filter: for example `.eq("isRead", false)`.
    ///   - search: KQL text such as `from:bob` or `pizza`; quoted for you. Graph refuses
    ///     `$search` together with `orderBy`.
    ///   - folder: a folder id or well-known name (`inbox`, `sentitems`, ...); all folders
    ///     when nil.
    public func messages(
        pageSize: Int? = nil, select: [String] = [], filter: GraphFilter? = nil, search: String? = nil, orderBy: [String] = [],
        folder: String? = nil
    ) -> PagedSequence<GraphMessage> {
        let query = GraphQuery(top: pageSize, select: select, filter: filter, search: search, orderBy: orderBy)
        return paged(Self.messagesPath(folder: folder), query, scope: configuration.scopes.mailRead, group: nil)
    }

    /// One message (`GET /me/messages/{id}`); `.notFound` when there is none.
    public func message(id: String, select: [String] = []) async throws -> GraphMessage {
        try await get("/me/messages/" + Self.segment(id), GraphQuery(select: select), scope: configuration.scopes.mailRead, group: nil, as: GraphMessage.self)
    }

    /// Sends `draft` (`POST /me/sendMail`; Graph answers 202). It needs at least one of
    /// `toRecipients`, `ccRecipients`, `bccRecipients`; a copy goes to Sent Items unless
    /// `saveToSentItems` is false.
    public func sendMail(_ draft: GraphMessage, saveToSentItems: Bool = true) async throws {
        let request = try APIRequest.json(
            "POST", url("/me/sendMail"), body: SendMail(message: draft, saveToSentItems: saveToSentItems), scopes: [configuration.scopes.mailSend])
        _ = try await client.send(request)
    }

    /// How many unread messages there are (in `folder`, or in all folders when nil), from
    /// `$filter=isRead eq false` with `$count=true`; when Graph leaves `@odata.count` out,
    /// the pages are counted instead.
    public func unreadCount(folder: String? = nil) async throws -> Int {
        let path = Self.messagesPath(folder: folder)
        let unread = GraphFilter.eq("isRead", false)
        let request = APIRequest(
            method: "GET", url: url(path, GraphQuery(top: 1, select: ["id"], filter: unread, count: true)), scopes: [configuration.scopes.mailRead])
        let first = try await client.json(request, as: GraphPage<Identified>.self)
        if let count = first.count { return count }
        var total = 0
        for try await _ in paged(path, GraphQuery(top: 1000, select: ["id"], filter: unread), scope: configuration.scopes.mailRead, group: nil) as PagedSequence<Identified> {
            total += 1
        }
        return total
    }

    static func messagesPath(folder: String?) -> String {
        folder.map { "/me/mailFolders/" + segment($0) + "/messages" } ?? "/me/messages"
    }
}

/// `POST /me/sendMail`'s body.
struct SendMail: Encodable {
    var message: GraphMessage
    var saveToSentItems: Bool
}

/// An item of which only the id was selected.
struct Identified: Decodable, Sendable {
    var id: String?
}
