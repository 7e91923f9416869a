public import APIClientCore

/// People API v1: the user's contacts.
///
/// `connections` asks for `GoogleScopes.contactsRead` and is cached under
/// `CacheGroup.contacts`; create, update and delete ask for `contactsWrite` and drop that
/// cache.
public struct GooglePeople: Sendable {
    let client: APIClient
    let baseURL: String
    let scopes: GoogleScopes

    struct ConnectionsPage: Decodable {
        var connections: [Person]?
        var nextPageToken: String?
    }

    /// The user's contacts, a page at a time.
    ///
    /// - Parameters:
    ///   - personFields: the fields to return (required by Google; see `Person.defaultFields`).
    ///   - pageSize: contacts per request (1–1000; Google's default 100).
    ///   - sortOrder: `LAST_MODIFIED_ASCENDING` (Google's default), `LAST_MODIFIED_DESCENDING`,
    ///     `FIRST_NAME_ASCENDING` or `LAST_NAME_ASCENDING`.
    public func connections(personFields: [String] = Person.defaultFields, pageSize: Int? = nil, sortOrder: String? = nil) -> PagedSequence<Person> {
        let client = self.client
        let url = baseURL + "/people/me/connections"
        let scopes = self.scopes.contactsRead
        let fixed: [(String, String?)] = [
            ("personFields", personFields.joined(separator: ",")), ("pageSize", pageSize.map(String.init)), ("sortOrder", sortOrder),
        ]
        return PagedSequence { cursor in
            let query = QueryString.build(fixed + [("pageToken", cursor)])
            let request = APIRequest(method: "GET", url: url + "?" + query, scopes: scopes, cacheGroup: .contacts)
            let page = try await client.json(request, as: ConnectionsPage.self)
            return (page.connections ?? [], page.nextPageToken)
        }
    }

    /// Creates a contact; returns it with its `resourceName` and `etag`.
    public func create(_ person: Person, personFields: [String]? = nil) async throws -> Person {
        let query = QueryString.build([("personFields", personFields?.joined(separator: ","))])
        let request = try APIRequest.json(
            "POST", baseURL + "/people:createContact" + (query.isEmpty ? "" : "?" + query), body: person, scopes: scopes.contactsWrite,
            invalidates: [.contacts])
        return try await client.json(request, as: Person.self)
    }

    /// Replaces the fields named in `updatePersonFields` (`names`, `emailAddresses`,
    /// `phoneNumbers`, `birthdays`, `organizations`, ...) with `person`'s. `person` must
    /// carry the `resourceName` and the current `etag` Google returned; a stale etag fails
    /// with `.invalidRequest` (`failedPrecondition`): fetch the contact again.
    public func update(_ person: Person, updatePersonFields: [String]) async throws -> Person {
        let path = try Self.path(person.resourceName)
        guard let etag = person.etag, !etag.isEmpty else {
            throw APIError(.invalidRequest, message: "person \(person.resourceName ?? "") has no etag: update the value connections or create returned")
        }
        guard !updatePersonFields.isEmpty else {
            throw APIError(.invalidRequest, message: "updatePersonFields is empty: name the fields to replace, e.g. [\"names\"]")
        }
        let query = QueryString.build([("updatePersonFields", updatePersonFields.joined(separator: ","))])
        let request = try APIRequest.json(
            "PATCH", baseURL + "/" + path + ":updateContact?" + query, body: person, scopes: scopes.contactsWrite, invalidates: [.contacts])
        return try await client.json(request, as: Person.self)
    }

    /// Deletes a contact by its `resourceName` (`people/c123…`).
    public func delete(resourceName: String) async throws {
        let path = try Self.path(resourceName)
        _ = try await client.send(APIRequest(method: "DELETE", url: baseURL + "/" + path + ":deleteContact", scopes: scopes.contactsWrite, invalidates: [.contacts]))
    }

    /// `people/ID` with ID percent-encoded; refuses anything else.
    static func path(_ resourceName: String?) throws -> String {
        guard let resourceName, resourceName.hasPrefix("people/"), resourceName.count > "people/".count else {
            throw APIError(.invalidRequest, message: "person resource name \"\(resourceName ?? "")\" is not people/ID: use the resourceName Google returned")
        }
        return "people/" + PathSegment.encode(String(resourceName.dropFirst("people/".count)))
    }
}
