import Foundation

/// People API v1 under `/google/v1/people`: connections.list, createContact,
/// updateContact and deleteContact.
extension SandboxState {
    static let personFieldNames: Set<String> = [
        "addresses", "ageRanges", "biographies", "birthdays", "calendarUrls", "clientData", "coverPhotos", "emailAddresses",
        "events", "externalIds", "genders", "imClients", "interests", "locales", "locations", "memberships", "metadata",
        "miscKeywords", "names", "nicknames", "occupations", "organizations", "phoneNumbers", "photos", "relations",
        "sipAddresses", "skills", "urls", "userDefined",
    ]
    static let updatablePersonFields: Set<String> = ["names", "emailAddresses", "phoneNumbers", "birthdays", "organizations"]

    /// Parses a field mask; nil with the error response when it is missing or invalid.
    func personFields(_ text: String?, name: String, allowed: Set<String>) -> Result<Set<String>, SandboxResponse> {
        guard let text, !text.isEmpty else {
            return .failure(googleError(400, "\(name) mask is required. Please specify one or more valid paths. Valid paths are documented at https://developers.google.com/people/api/rest/v1/people.connections/list."))
        }
        var fields = Set<String>()
        for field in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let bare = field.hasPrefix("person.") ? String(field.dropFirst(7)) : field
            guard allowed.contains(bare) else { return .failure(googleError(400, "Invalid \(name) mask path: \"\(field)\". Valid paths are documented at https://developers.google.com/people/api/rest/v1/people.connections/list.")) }
            fields.insert(bare)
        }
        return .success(fields)
    }

    func personJSON(_ contact: Contact, fields: Set<String>) -> [String: Any] {
        let source: [String: Any] = ["type": "CONTACT", "id": contact.id, "etag": contact.etag, "updateTime": Self.rfc3339(contact.updated)]
        let primary: [String: Any] = ["primary": true, "source": source]
        let secondary: [String: Any] = ["source": source]
        var body: [String: Any] = ["resourceName": "people/" + contact.id, "etag": contact.etag]
        if fields.contains("names") {
            body["names"] = [[
                "displayName": contact.displayName, "givenName": contact.givenName, "familyName": contact.familyName,
                "displayNameLastFirst": contact.familyName + ", " + contact.givenName, "metadata": primary,
            ] as [String: Any]]
        }
        if fields.contains("emailAddresses"), !contact.emails.isEmpty {
            body["emailAddresses"] = contact.emails.enumerated().map { index, email in
                ["value": email, "type": index == 0 ? "home" : "work", "metadata": index == 0 ? primary : secondary] as [String: Any]
            }
        }
        if fields.contains("phoneNumbers"), !contact.phones.isEmpty {
            body["phoneNumbers"] = contact.phones.enumerated().map { index, phone in
                ["value": phone.value, "type": phone.type, "canonicalForm": phone.value.replacingOccurrences(of: " ", with: ""),
                 "metadata": index == 0 ? primary : secondary] as [String: Any]
            }
        }
        if fields.contains("birthdays"), let birthday = contact.birthday {
            var date: [String: Any] = ["month": birthday.month, "day": birthday.day]
            if let year = birthday.year { date["year"] = year }
            body["birthdays"] = [["date": date, "metadata": primary] as [String: Any]]
        }
        if fields.contains("organizations"), let organization = contact.organization {
            body["organizations"] = [["name": organization, "metadata": primary] as [String: Any]]
        }
        if fields.contains("metadata") {
            body["metadata"] = ["sources": [source], "objectType": "PERSON"] as [String: Any]
        }
        return body
    }

    func peopleConnections(_ context: APIContext) -> SandboxResponse {
        let allowed: Set<String> = ["personFields", "pageSize", "pageToken", "sortOrder", "requestSyncToken", "syncToken", "sources", "requestMask.includeField"]
        if let bad = googleUnknownParameter(context, allowed: allowed) { return bad }
        guard context.params["personId"] == "me" else { return googleError(400, "Must be a G+ id or \"me\".") }
        let q = context.query
        let fields: Set<String>
        switch personFields(q["personFields"] ?? q["requestMask.includeField"], name: "personFields", allowed: Self.personFieldNames) {
        case .failure(let response): return response
        case .success(let value): fields = value
        }
        var pageSize = 100
        if let text = q["pageSize"] {
            guard let value = Int(text), value >= 1, value <= 1000 else { return googleError(400, "Invalid pageSize: \(text)") }
            pageSize = value
        }
        guard let offset = Self.pageOffset(q["pageToken"]) else { return googleError(400, "Invalid pageToken") }
        var contacts = userData(context).contacts
        switch q["sortOrder"] ?? "LAST_MODIFIED_ASCENDING" {
        case "LAST_MODIFIED_ASCENDING": contacts.sort { ($0.updated, $0.id) < ($1.updated, $1.id) }
        case "LAST_MODIFIED_DESCENDING": contacts.sort { ($0.updated, $0.id) > ($1.updated, $1.id) }
        case "FIRST_NAME_ASCENDING": contacts.sort { ($0.givenName, $0.id) < ($1.givenName, $1.id) }
        case "LAST_NAME_ASCENDING": contacts.sort { ($0.familyName, $0.id) < ($1.familyName, $1.id) }
        default: return googleError(400, "Invalid sortOrder")
        }
        let page = Array(contacts.dropFirst(offset).prefix(pageSize))
        var body: [String: Any] = [
            "connections": page.map { personJSON($0, fields: fields) }, "totalPeople": contacts.count, "totalItems": contacts.count,
        ]
        if offset + page.count < contacts.count { body["nextPageToken"] = Self.pageToken(offset + page.count) }
        return .json(200, body)
    }

    /// Applies the fields of a Person body named in `fields` to `contact`.
    func applyPerson(_ body: [String: Any], fields: Set<String>, to contact: inout Contact) {
        if fields.contains("names") {
            let name = (body["names"] as? [Any])?.first as? [String: Any]
            contact.givenName = name?["givenName"] as? String ?? ""
            contact.familyName = name?["familyName"] as? String ?? ""
            if contact.givenName.isEmpty, contact.familyName.isEmpty, let display = name?["unstructuredName"] as? String ?? name?["displayName"] as? String {
                contact.givenName = display
            }
        }
        if fields.contains("emailAddresses") {
            contact.emails = (body["emailAddresses"] as? [Any] ?? []).compactMap { ($0 as? [String: Any])?["value"] as? String }
        }
        if fields.contains("phoneNumbers") {
            contact.phones = (body["phoneNumbers"] as? [Any] ?? []).compactMap { item in
                guard let object = item as? [String: Any], let value = object["value"] as? String else { return nil }
                return ((object["type"] as? String) ?? "other", value)
            }
        }
        if fields.contains("birthdays") {
            let date = ((body["birthdays"] as? [Any])?.first as? [String: Any])?["date"] as? [String: Any]
            if let month = (date?["month"] as? NSNumber)?.intValue, let day = (date?["day"] as? NSNumber)?.intValue {
                contact.birthday = ((date?["year"] as? NSNumber)?.intValue, month, day)
            } else {
                contact.birthday = nil
            }
        }
        if fields.contains("organizations") {
            contact.organization = ((body["organizations"] as? [Any])?.first as? [String: Any])?["name"] as? String
        }
    }

    func peopleCreate(_ context: APIContext) -> SandboxResponse {
        if let bad = googleUnknownParameter(context, allowed: ["personFields", "sources"]) { return bad }
        guard let body = JSON.object(context.request.body) else { return googleError(400, "Invalid JSON payload received.") }
        var returned: Set<String> = ["names", "emailAddresses", "phoneNumbers", "birthdays", "organizations"]
        if let text = context.query["personFields"] {
            switch personFields(text, name: "personFields", allowed: Self.personFieldNames) {
            case .failure(let response): return response
            case .success(let value): returned = value
            }
        }
        var id = ""
        data.update(context.user) { id = "c" + String(Self.hash($0.newID("contact")) % 10_000_000_000_000) }
        var contact = Contact(id: id, givenName: "", familyName: "", emails: [], phones: [], birthday: nil, organization: nil, created: now, updated: now)
        applyPerson(body, fields: Self.updatablePersonFields, to: &contact)
        guard !contact.displayName.isEmpty || !contact.emails.isEmpty || !contact.phones.isEmpty else {
            return googleError(400, "Request person must have at least one field set.")
        }
        data.update(context.user) { $0.contacts.append(contact) }
        return .json(200, personJSON(contact, fields: returned))
    }

    func peopleUpdate(_ context: APIContext) -> SandboxResponse {
        if let bad = googleUnknownParameter(context, allowed: ["updatePersonFields", "personFields", "sources"]) { return bad }
        let fields: Set<String>
        switch personFields(context.query["updatePersonFields"], name: "updatePersonFields", allowed: Self.updatablePersonFields) {
        case .failure(let response): return response
        case .success(let value): fields = value
        }
        guard let body = JSON.object(context.request.body) else { return googleError(400, "Invalid JSON payload received.") }
        let current = userData(context)
        guard let index = current.contacts.firstIndex(where: { $0.id == context.params["contactId"] }) else {
            return googleError(404, "Requested entity was not found.", "NOT_FOUND", reason: "notFound")
        }
        guard let etag = body["etag"] as? String else { return googleError(400, "Request person.etag must be set.") }
        var contact = current.contacts[index]
        guard etag == contact.etag else {
            return googleError(400, "Request person.etag is different than the current person.etag. Clear local cache and get the latest person.", "FAILED_PRECONDITION", reason: "failedPrecondition")
        }
        applyPerson(body, fields: fields, to: &contact)
        contact.version += 1
        contact.updated = now
        let updated = contact
        data.update(context.user) { $0.contacts[index] = updated }
        return .json(200, personJSON(contact, fields: Self.updatablePersonFields))
    }

    func peopleDelete(_ context: APIContext) -> SandboxResponse {
        if let bad = googleUnknownParameter(context, allowed: []) { return bad }
        let current = userData(context)
        guard let index = current.contacts.firstIndex(where: { $0.id == context.params["contactId"] }) else {
            return googleError(404, "Requested entity was not found.", "NOT_FOUND", reason: "notFound")
        }
        data.update(context.user) { $0.contacts.remove(at: index) }
        return .json(200, [String: Any]())
    }
}
