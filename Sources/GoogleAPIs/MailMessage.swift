import APIClientCore
public import Foundation

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
