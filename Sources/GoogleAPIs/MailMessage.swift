import APIClientCore
public import Foundation

/// A mailbox: an address and an optional display name (any script).
public struct MailAddress: Sendable, Hashable {
    /// `local@domain`, ASCII (write an internationalized domain in its punycode form).
    public var email: String
    public var name: String?

    public init(_ email: String, name: String? = nil) {
        self.email = email
        self.name = name
    }
}

/// A plain-text email to send with `Gmail.send(_:)`, written out as an RFC 5322 (2822)
/// message with MIME headers by `rfc2822(date:)`.
///
/// Header values that are not printable ASCII (a subject in Cyrillic, a display name in
/// Japanese) become RFC 2047 encoded-words (UTF-8, base64), none longer than 75 characters
/// and no header line longer than 76; a body that is not 7-bit ASCII is sent base64 with
/// `charset=UTF-8`. A line break in any header value or address is refused
/// (`APIError.Code.invalidRequest`), so no caller-supplied text can add a header.
public struct MailMessage: Sendable, Hashable {
    /// The sender; Gmail uses the authenticated user when nil.
    public var from: MailAddress?
    public var to: [MailAddress]
    public var cc: [MailAddress]
    /// Delivered to, and removed from the copies others see by Gmail.
    public var bcc: [MailAddress]
    public var replyTo: [MailAddress]
    public var subject: String
    /// The text. Line breaks may be LF or CRLF; they are sent as CRLF.
    public var body: String
    /// `<id@domain>`; one is generated when nil.
    public var messageID: String?
    /// The Message-ID this one answers (`<id@domain>`).
    public var inReplyTo: String?
    public var references: [String]
    /// The Gmail thread a reply belongs to (sent beside the raw message).
    public var threadId: String?

    public init(
        to: [MailAddress], subject: String, body: String, from: MailAddress? = nil, cc: [MailAddress] = [], bcc: [MailAddress] = [],
        replyTo: [MailAddress] = [], messageID: String? = nil, inReplyTo: String? = nil, references: [String] = [], threadId: String? = nil
    ) {
        self.to = to
        self.subject = subject
        self.body = body
        self.from = from
        self.cc = cc
        self.bcc = bcc
        self.replyTo = replyTo
        self.messageID = messageID
        self.inReplyTo = inReplyTo
        self.references = references
        self.threadId = threadId
    }

    /// The message as RFC 5322 bytes with CRLF line endings: the headers (From, To, Cc, Bcc,
    /// Reply-To, Subject, Date, Message-ID, In-Reply-To, References, MIME-Version,
    /// Content-Type, Content-Transfer-Encoding), an empty line, the body.
    ///
    /// - Throws: `APIError` `.invalidRequest` for no recipient, an address that is not
    ///   `local@domain` ASCII, or a CR or LF (or another control character) in a header value.
    public func rfc2822(date: Date = Date()) throws -> [UInt8] {
        guard !(to.isEmpty && cc.isEmpty && bcc.isEmpty) else { throw Self.refuse("mail message has no recipient: set to, cc or bcc") }
        var head: [String] = []
        if let from { head.append(try MIMEHeader.addresses("From", [from])) }
        if !to.isEmpty { head.append(try MIMEHeader.addresses("To", to)) }
        if !cc.isEmpty { head.append(try MIMEHeader.addresses("Cc", cc)) }
        if !bcc.isEmpty { head.append(try MIMEHeader.addresses("Bcc", bcc)) }
        if !replyTo.isEmpty { head.append(try MIMEHeader.addresses("Reply-To", replyTo)) }
        head.append(try MIMEHeader.unstructured("Subject", subject))
        head.append("Date: " + MIMEHeader.date(date))
        let domain = from.map { String($0.email.split(separator: "@").last ?? "") } ?? ""
        let id = try messageID.map { try MIMEHeader.messageID($0, field: "messageID") } ?? MIMEHeader.newMessageID(domain: domain)
        head.append("Message-ID: " + id)
        if let inReplyTo { head.append("In-Reply-To: " + (try MIMEHeader.messageID(inReplyTo, field: "inReplyTo"))) }
        if !references.isEmpty {
            head.append(MIMEHeader.fold("References", try references.map { try MIMEHeader.messageID($0, field: "references") }))
        }
        head.append("MIME-Version: 1.0")
        head.append("Content-Type: text/plain; charset=UTF-8")
        let lines = MIMEBody.lines(body)
        let sevenBit = lines.allSatisfy { line in line.utf8.count <= 998 && line.utf8.allSatisfy { $0 < 0x80 && ($0 >= 0x20 || $0 == 9) } }
        var text = head.joined(separator: "\r\n")
        if sevenBit {
            text += "\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + lines.joined(separator: "\r\n") + "\r\n"
        } else {
            let encoded = Data(lines.joined(separator: "\r\n").utf8).base64EncodedString()
            text += "\r\nContent-Transfer-Encoding: base64\r\n\r\n" + MIMEBody.wrap(encoded, width: 76).joined(separator: "\r\n") + "\r\n"
        }
        return Array(text.utf8)
    }

    /// `rfc2822()` as Gmail's `raw`: base64url without padding.
    public func gmailRaw(date: Date = Date()) throws -> String {
        Base64URL.encode(try rfc2822(date: date))
    }

    static func refuse(_ message: String) -> APIError { APIError(.invalidRequest, message: message) }
}

/// Header field writing: encoded-words, folding, addresses, dates, message ids.
enum MIMEHeader {
    /// RFC 2047 §2: a line holding encoded-words is at most 76 characters.
    static let maxLine = 76
    /// RFC 2047 §2: an encoded-word is at most 75 characters.
    static let maxEncodedWord = 75

    /// Refuses CR, LF and other control characters (tab is allowed) in a header value.
    static func checkLine(_ value: String, field: String) throws {
        if value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw MailMessage.refuse("mail header \(field) contains a line break; remove CR and LF from it")
        }
        if value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
            throw MailMessage.refuse("mail header \(field) contains a control character; remove it")
        }
    }

    /// True when `value` can be written as it is: printable ASCII, and nothing a reader
    /// would take for an encoded-word.
    static func isPlain(_ value: String) -> Bool {
        value.utf8.allSatisfy { ($0 >= 0x20 && $0 < 0x7F) || $0 == 9 } && !value.contains("=?")
    }

    /// Words joined by spaces, folded (CRLF SP) before a word that would pass `maxLine`.
    static func fold(_ name: String, _ words: [String]) -> String {
        var out = name + ":"
        var lineLength = out.count
        for word in words {
            if lineLength + 1 + word.count > maxLine, lineLength > name.count + 1, !word.isEmpty {
                out += "\r\n "
                lineLength = 1
            } else {
                out += " "
                lineLength += 1
            }
            out += word
            lineLength += word.count
        }
        return out
    }

    /// UTF-8 base64 encoded-words for `text`, split between Unicode scalars (never inside
    /// one), the first at most `firstLength` characters long and the others `maxEncodedWord`.
    static func encodedWords(_ text: String, firstLength: Int) -> [String] {
        var words: [String] = []
        var chunk: [UInt8] = []
        func capacity() -> Int {
            let length = words.isEmpty ? min(firstLength, maxEncodedWord) : maxEncodedWord
            return max((length - 12) / 4 * 3, 3)  // "=?UTF-8?B?" + "?=" is 12
        }
        func flush() {
            guard !chunk.isEmpty else { return }
            words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
            chunk = []
        }
        for scalar in text.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if chunk.count + bytes.count > capacity() { flush() }
            chunk += bytes
        }
        flush()
        return words.isEmpty ? ["=?UTF-8?B??="] : words
    }

    /// An unstructured field (Subject): as it is when plain, else encoded-words.
    static func unstructured(_ name: String, _ value: String) throws -> String {
        try checkLine(value, field: name)
        if isPlain(value) {
            // Split on single spaces only, so unfolding gives back the exact text.
            return fold(name, value.split(separator: " ", omittingEmptySubsequences: false).map(String.init))
        }
        return fold(name, encodedWords(value, firstLength: maxLine - name.count - 2))
    }

    /// RFC 5322 `atext` plus the space: a display name of only these needs no quotes.
    static let atext = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~ ".unicodeScalars)

    /// An address list field: `Name <a@b>, "Doe, J." <c@d>, =?UTF-8?B?...?= <e@f>`.
    static func addresses(_ name: String, _ list: [MailAddress]) throws -> String {
        var words: [String] = []
        for (index, address) in list.enumerated() {
            let email = try checkAddress(address.email, field: name)
            let separator = index < list.count - 1 ? "," : ""
            guard let display = address.name, !display.isEmpty else {
                words.append(email + separator)
                continue
            }
            try checkLine(display, field: name + " display name")
            if isPlain(display) {
                if display.unicodeScalars.allSatisfy({ atext.contains($0) }) && display.first != " " && display.last != " " {
                    words += display.split(separator: " ").map(String.init)
                } else {
                    let escaped = display.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                    words.append("\"" + escaped + "\"")
                }
            } else {
                // The first word of the field shares its line with "Name: ".
                words += encodedWords(display, firstLength: words.isEmpty ? maxLine - name.count - 2 : maxEncodedWord)
            }
            words.append("<" + email + ">" + separator)
        }
        return fold(name, words)
    }

    /// Checks `local@domain`: ASCII, no space, control character or specials that would
    /// let it end the field or the angle brackets.
    static func checkAddress(_ email: String, field: String) throws -> String {
        try checkLine(email, field: field)
        let forbidden = Set("<>()[]\\,;:\" \t".unicodeScalars)
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), !email.unicodeScalars.contains(where: { forbidden.contains($0) }),
            parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, email.utf8.count <= 254
        else {
            throw MailMessage.refuse("mail address \"\(email)\" in \(field) is not local@domain in ASCII; write an internationalized domain in punycode")
        }
        return email
    }

    /// `<id@domain>` from `<id@domain>` or `id@domain`.
    static func messageID(_ value: String, field: String) throws -> String {
        try checkLine(value, field: field)
        var id = value.trimmingCharacters(in: .whitespaces)
        if id.hasPrefix("<"), id.hasSuffix(">") { id = String(id.dropFirst().dropLast()) }
        guard id.contains("@"), !id.contains(where: { $0 == "<" || $0 == ">" || $0 == " " }), id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw MailMessage.refuse("mail \(field) \"\(value)\" is not a message id like <id@domain>")
        }
        return "<" + id + ">"
    }

    static func newMessageID(domain: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let host = domain.isEmpty || !domain.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) ? "credbroker.invalid" : domain
        return "<\(random)@\(host)>"
    }

    /// RFC 5322 date-time in UTC: `Mon, 05 Jan 2026 09:30:00 +0000`.
    static func date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}

enum MIMEBody {
    /// The body's lines, whatever line breaks it used (CRLF, LF or CR).
    static func lines(_ body: String) -> [String] {
        body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var index = text.startIndex
        while index < text.endIndex {
            let end = text.index(index, offsetBy: width, limitedBy: text.endIndex) ?? text.endIndex
            lines.append(String(text[index..<end]))
            index = end
        }
        return lines
    }
}

/// base64url without padding (RFC 4648 §5), as Gmail's `raw` and part bodies use it.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }
}
