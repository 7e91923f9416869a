import Foundation

/// Gmail API v1 under `/google/gmail/v1/users/me/messages`.
extension SandboxState {
    static let gmailSystemLabels: Set<String> = [
        "INBOX", "UNREAD", "STARRED", "IMPORTANT", "SPAM", "TRASH", "SENT", "DRAFT", "CATEGORY_PERSONAL", "CATEGORY_SOCIAL",
        "CATEGORY_PROMOTIONS", "CATEGORY_UPDATES", "CATEGORY_FORUMS",
    ]

    static func gmailDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, d MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    /// The metadata-only scope forbids full bodies and search.
    func gmailMetadataOnly(_ context: APIContext) -> Bool {
        let full: [String] = ["gmail.readonly", "gmail.modify"].map { Self.googleScopePrefix + $0 } + ["https://mail.google.com/"]
        return !full.contains { context.token.scopes.contains($0) }
    }

    /// Splits a Gmail search into terms, keeping quoted phrases whole.
    static func searchTerms(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var quoted = false
        for character in text {
            if character == "\"" { quoted.toggle(); continue }
            if character == " " && !quoted {
                if !current.isEmpty { terms.append(current) }
                current = ""
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { terms.append(current) }
        return terms
    }

    /// Gmail search operators: is:, from:, to:, subject:, label:, in:, after:, before:,
    /// newer_than:, older_than:, a leading "-" to negate, and free text.
    func gmailMatches(_ message: MailMessage, query: String) -> Bool {
        for rawTerm in Self.searchTerms(query) {
            var term = rawTerm
            var negate = false
            if term.hasPrefix("-"), term.count > 1 {
                negate = true
                term.removeFirst()
            }
            if gmailTerm(message, term) == negate { return false }
        }
        return true
    }

    private func gmailTerm(_ message: MailMessage, _ term: String) -> Bool {
        let lower = term.lowercased()
        let parts = lower.split(separator: ":", maxSplits: 1)
        if parts.count == 2 {
            let value = String(parts[1])
            switch parts[0] {
            case "is":
                switch value {
                case "unread": return message.labels.contains("UNREAD")
                case "read": return !message.labels.contains("UNREAD")
                case "starred": return message.labels.contains("STARRED")
                case "important": return message.labels.contains("IMPORTANT")
                default: return false
                }
            case "from": return message.fromAddress.lowercased().contains(value) || message.fromName.lowercased().contains(value)
            case "to": return message.to.contains { $0.lowercased().contains(value) }
            case "subject": return message.subject.lowercased().contains(value)
            case "label", "in", "category":
                if value == "anywhere" { return true }
                let label = parts[0] == "category" ? "CATEGORY_" + value.uppercased() : value.uppercased()
                return message.labels.contains(label)
            case "after", "before":
                let day = value.replacingOccurrences(of: "/", with: "-")
                guard let date = Self.parseDay(day.count == 10 ? day : "") else { return false }
                return parts[0] == "after" ? message.date >= date : message.date < date
            case "newer_than", "older_than":
                guard let unit = value.last, let amount = Int(value.dropLast()) else { return false }
                let days: Double = unit == "d" ? 1 : unit == "m" ? 30 : unit == "y" ? 365 : 0
                let cutoff = now.addingTimeInterval(-Double(amount) * days * 86400)
                return parts[0] == "newer_than" ? message.date >= cutoff : message.date < cutoff
            case "has": return false
            default: break
            }
        }
        let haystack = (message.subject + " " + message.body + " " + message.fromName + " " + message.fromAddress).lowercased()
        return haystack.contains(lower)
    }

    func gmailMessagesList(_ context: APIContext) -> SandboxResponse {
        if let bad = googleUnknownParameter(context, allowed: ["q", "labelIds", "pageToken", "maxResults", "includeSpamTrash"]) { return bad }
        let q = context.query
        var maxResults = 100
        if let text = q["maxResults"] {
            guard let value = Int(text), value >= 1, value <= 500 else { return googleError(400, "Invalid maxResults: \(text)", reason: "invalidArgument") }
            maxResults = value
        }
        guard let offset = Self.pageOffset(q["pageToken"]) else { return googleError(400, "Invalid pageToken") }
        if q["q"] != nil, gmailMetadataOnly(context) {
            return googleError(403, "Metadata scope does not support 'q' parameter", "PERMISSION_DENIED", reason: "forbidden")
        }
        let labels: [String] = context.request.query.filter { $0.name == "labelIds" }.map(\.value)
        var messages = userData(context).messages
        if q["includeSpamTrash"] != "true" { messages = messages.filter { !$0.labels.contains("SPAM") && !$0.labels.contains("TRASH") } }
        messages = messages.filter { message in labels.allSatisfy { message.labels.contains($0) } }
        if let search = q["q"], !search.isEmpty { messages = messages.filter { gmailMatches($0, query: search) } }
        let page = Array(messages.dropFirst(offset).prefix(maxResults))
        var body: [String: Any] = ["resultSizeEstimate": messages.count]
        if !page.isEmpty { body["messages"] = page.map { ["id": $0.id, "threadId": $0.threadID] } }
        if offset + page.count < messages.count { body["nextPageToken"] = Self.pageToken(offset + page.count) }
        return .json(200, body)
    }

    func gmailHeaders(_ message: MailMessage) -> [[String: Any]] {
        [
            ["name": "From", "value": "\(message.fromName) <\(message.fromAddress)>"],
            ["name": "To", "value": message.to.joined(separator: ", ")],
            ["name": "Subject", "value": message.subject],
            ["name": "Date", "value": Self.gmailDate(message.date)],
            ["name": "Message-ID", "value": "<\(message.id)@sandbox.test>"],
        ]
    }

    /// The message as RFC 2822 text, the subject RFC 2047-encoded when not ASCII.
    func gmailRaw(_ message: MailMessage) -> String {
        let subject = message.subject.allSatisfy(\.isASCII)
            ? message.subject : "=?UTF-8?B?" + Data(message.subject.utf8).base64EncodedString() + "?="
        return "From: \(message.fromName) <\(message.fromAddress)>\r\nTo: \(message.to.joined(separator: ", "))\r\nSubject: \(subject)\r\nDate: \(Self.gmailDate(message.date))\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\(message.body)\r\n"
    }

    func gmailMessageJSON(_ message: MailMessage, format: String, metadataHeaders: [String]) -> [String: Any] {
        let raw = gmailRaw(message)
        var body: [String: Any] = [
            "id": message.id, "threadId": message.threadID, "labelIds": message.labels, "snippet": message.snippet,
            "historyId": String(100_000 + Int(Self.hash(message.id) % 100_000)),
            "internalDate": String(Int64(message.date.timeIntervalSince1970 * 1000)), "sizeEstimate": raw.utf8.count,
        ]
        switch format {
        case "metadata":
            var headers = gmailHeaders(message)
            if !metadataHeaders.isEmpty {
                let wanted = Set(metadataHeaders.map { $0.lowercased() })
                headers = headers.filter { wanted.contains(($0["name"] as? String ?? "").lowercased()) }
            }
            body["payload"] = ["mimeType": "text/plain", "headers": headers] as [String: Any]
        case "full":
            let text = Array(message.body.utf8)
            let part: [String: Any] = [
                "partId": "0", "mimeType": "text/plain", "filename": "",
                "headers": [["name": "Content-Type", "value": "text/plain; charset=UTF-8"]],
                "body": ["size": text.count, "data": Base64URL.encode(text)] as [String: Any],
            ]
            let html = Array(("<p>" + Self.htmlEscape(message.body).replacingOccurrences(of: "\n", with: "<br>") + "</p>").utf8)
            let htmlPart: [String: Any] = [
                "partId": "1", "mimeType": "text/html", "filename": "",
                "headers": [["name": "Content-Type", "value": "text/html; charset=UTF-8"]],
                "body": ["size": html.count, "data": Base64URL.encode(html)] as [String: Any],
            ]
            body["payload"] = [
                "partId": "", "mimeType": "multipart/alternative", "filename": "", "headers": gmailHeaders(message),
                "body": ["size": 0], "parts": [part, htmlPart],
            ] as [String: Any]
        case "raw":
            body["raw"] = Base64URL.encode(Array(raw.utf8))
        default:
            break
        }
        return body
    }

    func gmailMessageGet(_ context: APIContext) -> SandboxResponse {
        if let bad = googleUnknownParameter(context, allowed: ["format", "metadataHeaders"]) { return bad }
        let format = context.query["format"] ?? "full"
        guard ["minimal", "metadata", "full", "raw"].contains(format) else {
            return googleError(400, "Invalid value at 'format' (type.googleapis.com/google.apps.gmail.v1.Format), \"\(format)\"")
        }
        if gmailMetadataOnly(context), format == "full" || format == "raw" {
            return googleError(403, "Metadata scope doesn't allow format \(format.uppercased())", "PERMISSION_DENIED", reason: "forbidden")
        }
        guard let message = userData(context).messages.first(where: { $0.id == context.params["id"] }) else {
            return googleError(404, "Requested entity was not found.", "NOT_FOUND", reason: "notFound")
        }
        let headers: [String] = context.request.query.filter { $0.name == "metadataHeaders" }.map(\.value)
        return .json(200, gmailMessageJSON(message, format: format, metadataHeaders: headers))
    }

    /// Sends `raw` (base64url RFC 2822): it must parse and name a recipient.
    func gmailSend(_ context: APIContext) -> SandboxResponse {
        if let bad = googleUnknownParameter(context, allowed: ["uploadType"]) { return bad }
        guard let body = JSON.object(context.request.body) else { return googleError(400, "Invalid JSON payload received.") }
        guard let raw = body["raw"] as? String else { return googleError(400, "'raw' RFC822 payload message string or uploading message via /upload/* URL required", reason: "invalidArgument") }
        guard let bytes = Base64URL.decode(raw), let text = String(bytes: bytes, encoding: .utf8) else {
            return googleError(400, "Invalid value for ByteString: \(raw.prefix(20))", reason: "invalidArgument")
        }
        // As Gmail does: folded header lines are unfolded, RFC 2047 encoded-words decoded,
        // and a base64 or quoted-printable body decoded, so the stored message reads (and
        // searches) as its sender wrote it.
        var headers: [String: String] = [:]
        var bodyLines: [Substring] = []
        var inBody = false
        var lastHeader: String?
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let clean = line.hasSuffix("\r") ? line.dropLast() : line
            if inBody { bodyLines.append(clean); continue }
            if clean.isEmpty { inBody = true; continue }
            if let first = clean.first, first == " " || first == "\t", let name = lastHeader {
                headers[name, default: ""] += String(clean)
            } else if let colon = clean.firstIndex(of: ":") {
                let name = clean[..<colon].lowercased()
                headers[name] = clean[clean.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                lastHeader = name
            }
        }
        for (name, value) in headers { headers[name] = Self.decodeEncodedWords(value) }
        let bodyText = Self.decodeTransferEncoding(bodyLines.joined(separator: "\n"), encoding: headers["content-transfer-encoding"])
        let recipients = [headers["to"], headers["cc"], headers["bcc"]].compactMap { $0 }.flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !recipients.isEmpty else { return googleError(400, "Recipient address required", reason: "invalidArgument") }
        var id = ""
        data.update(context.user) { id = String(format: "1a%014x", Self.hash($0.newID("sent")) & 0xFF_FFFF_FFFF_FFFF) }
        let message = MailMessage(
            id: id, threadID: (body["threadId"] as? String) ?? id, labels: ["SENT"], fromName: context.user, fromAddress: context.user,
            to: recipients, subject: headers["subject"] ?? "", body: bodyText, date: now)
        data.update(context.user) { $0.messages.insert(message, at: 0) }
        return .json(200, ["id": message.id, "threadId": message.threadID, "labelIds": message.labels])
    }

    /// RFC 2047: `=?charset?B|Q?text?=` words (UTF-8 and US-ASCII) decoded; the
    /// whitespace between two adjacent encoded-words dropped. Anything else stays.
    static func decodeEncodedWords(_ value: String) -> String {
        guard value.contains("=?") else { return value }
        var output = ""
        var pendingSpace = ""
        var previousEncoded = false
        var index = value.startIndex
        while index < value.endIndex {
            if value[index] == " " || value[index] == "\t" {
                pendingSpace.append(value[index])
                index = value.index(after: index)
                continue
            }
            var end = index
            while end < value.endIndex, value[end] != " ", value[end] != "\t" { end = value.index(after: end) }
            let word = String(value[index..<end])
            index = end
            if let decoded = decodeEncodedWord(word) {
                if !previousEncoded { output += pendingSpace }
                output += decoded
                previousEncoded = true
            } else {
                output += pendingSpace + word
                previousEncoded = false
            }
            pendingSpace = ""
        }
        return output + pendingSpace
    }

    static func decodeEncodedWord(_ word: String) -> String? {
        guard word.hasPrefix("=?"), word.hasSuffix("?="), word.count > 4 else { return nil }
        let parts = word.dropFirst(2).dropLast(2).split(separator: "?", omittingEmptySubsequences: false)
        guard parts.count == 3, ["utf-8", "us-ascii"].contains(parts[0].lowercased()) else { return nil }
        var bytes: [UInt8] = []
        switch parts[1].uppercased() {
        case "B":
            guard let data = Data(base64Encoded: String(parts[2])) else { return nil }
            bytes = Array(data)
        case "Q":
            var rest = Array(parts[2].utf8)[...]
            while let byte = rest.popFirst() {
                if byte == UInt8(ascii: "_") {
                    bytes.append(32)
                } else if byte == UInt8(ascii: "="), rest.count >= 2, let value = UInt8(String(decoding: rest.prefix(2), as: UTF8.self), radix: 16) {
                    bytes.append(value)
                    rest = rest.dropFirst(2)
                } else {
                    bytes.append(byte)
                }
            }
        default:
            return nil
        }
        return String(bytes: bytes, encoding: .utf8)
    }

    /// A body in `base64` or `quoted-printable` decoded to text with LF line breaks;
    /// 7bit, 8bit and anything unreadable stay as they are.
    static func decodeTransferEncoding(_ body: String, encoding: String?) -> String {
        let bytes: [UInt8]
        switch encoding?.lowercased() {
        case "base64":
            guard let data = Data(base64Encoded: body.filter { !$0.isWhitespace }) else { return body }
            bytes = Array(data)
        case "quoted-printable":
            var out: [UInt8] = []
            var rest = Array(body.utf8)[...]
            while let byte = rest.popFirst() {
                if byte == UInt8(ascii: "=") {
                    if rest.first == 10 { rest = rest.dropFirst(); continue }  // soft line break
                    if rest.count >= 2, let value = UInt8(String(decoding: rest.prefix(2), as: UTF8.self), radix: 16) {
                        out.append(value)
                        rest = rest.dropFirst(2)
                        continue
                    }
                }
                out.append(byte)
            }
            bytes = out
        default:
            return body
        }
        guard let text = String(bytes: bytes, encoding: .utf8) else { return body }
        return text.replacingOccurrences(of: "\r\n", with: "\n")
    }

    func gmailModify(_ context: APIContext) -> SandboxResponse {
        if let bad = googleUnknownParameter(context, allowed: []) { return bad }
        guard let body = JSON.object(context.request.body) else { return googleError(400, "Invalid JSON payload received.") }
        let add = (body["addLabelIds"] as? [Any] ?? []).compactMap { $0 as? String }
        let remove = (body["removeLabelIds"] as? [Any] ?? []).compactMap { $0 as? String }
        for label in add + remove where !Self.gmailSystemLabels.contains(label) {
            return googleError(400, "Invalid label: \(label)", reason: "invalidArgument")
        }
        guard add.count + remove.count > 0 else { return googleError(400, "No label add or removes specified", reason: "invalidArgument") }
        let current = userData(context)
        guard let index = current.messages.firstIndex(where: { $0.id == context.params["id"] }) else {
            return googleError(404, "Requested entity was not found.", "NOT_FOUND", reason: "notFound")
        }
        var labels = current.messages[index].labels.filter { !remove.contains($0) }
        for label in add where !labels.contains(label) { labels.append(label) }
        let final = labels
        data.update(context.user) { $0.messages[index].labels = final }
        let message = current.messages[index]
        return .json(200, ["id": message.id, "threadId": message.threadID, "labelIds": final])
    }
}
