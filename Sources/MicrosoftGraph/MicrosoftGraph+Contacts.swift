public import APIClientCore

/// Contacts: list, get, create, update, delete. Reads ask for `scopes.contactsRead` and are
/// cached (`.contacts`, 15 minutes by default); writes ask for `scopes.contactsWrite` and
/// drop the cached contacts.
extension MicrosoftGraph {
    /// The contacts of the default folder (`GET /me/contacts`), following `@odata.nextLink`.
    /// - Parameters:
    ///   - pageSize: `$top`, 1 to 1000 (Graph's default is 10).
    ///   - filter: for example `.startsWith("displayName", "Ann")`.
    public func contacts(pageSize: Int? = nil, select: [String] = [], filter: GraphFilter? = nil, orderBy: [String] = []) -> PagedSequence<GraphContact> {
        let query = GraphQuery(top: pageSize, select: select, filter: filter, orderBy: orderBy)
        return paged("/me/contacts", query, scope: configuration.scopes.contactsRead, group: .contacts)
    }

    /// One contact (`GET /me/contacts/{id}`); `.notFound` when there is none.
    public func contact(id: String, select: [String] = []) async throws -> GraphContact {
        try await get("/me/contacts/" + Self.segment(id), GraphQuery(select: select), scope: configuration.scopes.contactsRead, group: .contacts, as: GraphContact.self)
    }

    /// Creates a contact (`POST /me/contacts`); answers it with its `id`.
    public func createContact(_ contact: GraphContact) async throws -> GraphContact {
        try await write("POST", "/me/contacts", body: contact, scope: configuration.scopes.contactsWrite, invalidates: [.contacts], as: GraphContact.self)
    }

    /// Changes the properties set in `patch` (`PATCH /me/contacts/{id}`); answers the contact.
    public func updateContact(id: String, _ patch: GraphContact) async throws -> GraphContact {
        try await write("PATCH", "/me/contacts/" + Self.segment(id), body: patch, scope: configuration.scopes.contactsWrite, invalidates: [.contacts], as: GraphContact.self)
    }

    /// Deletes a contact (`DELETE /me/contacts/{id}`); `.notFound` when there is none.
    public func deleteContact(id: String) async throws {
        try await delete("/me/contacts/" + Self.segment(id), scope: configuration.scopes.contactsWrite, invalidates: [.contacts])
    }
}
