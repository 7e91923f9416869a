import Foundation

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
