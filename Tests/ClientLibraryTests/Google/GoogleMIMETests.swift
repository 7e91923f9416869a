import APIClientCore
import Foundation
import GoogleAPIs
import Testing

@Suite("Google MIME")
struct GoogleMIMETests {
    static let samples: [(script: String, subject: String, body: String)] = [
        ("Cyrillic", "Встреча в пятницу: повестка дня и протокол прошлого собрания", "Привет!\nНе забудь про отчёт.\nСпасибо, Маша"),
        ("Japanese", "来週の会議の議題について（重要）ご確認をお願いいたします。よろしくお願いします", "こんにちは。\n資料を添付しました。\nよろしくお願いします。"),
        ("emoji", "Party time 🎉🎂 with the 👨‍👩‍👧‍👦 family and 🏳️‍🌈 flags, lots of them 🚀🚀🚀", "See you there 🥳\r\nBring 🍰"),
        ("Arabic", "اجتماع الفريق الأسبوعي: جدول الأعمال والملاحظات المهمة للمشروع", "مرحبا بكم\nشكرا جزيلا"),
        ("mixed", "Résumé — naïve café in Zürich, Ελληνικά and עברית together", "Ünïcödé\nlast line without newline"),
    ]

    static func build(_ message: MailMessage) throws -> GoogleMIMEReader.Message {
        let bytes = try message.rfc2822(date: Date(timeIntervalSince1970: 1_767_605_400))
        return try #require(GoogleMIMEReader.parse(bytes), "not CRLF-only or no header/body separator")
    }

    @Test("subject and body in several scripts round-trip", arguments: 0..<samples.count)
    func scriptsRoundTrip(index: Int) throws {
        let sample = Self.samples[index]
        let message = try Self.build(MailMessage(to: [MailAddress("bob@example.com")], subject: sample.subject, body: sample.body))
        let subject = try #require(message.header("Subject"))
        let words = GoogleMIMEReader.encodedWords(subject)
        #expect(!words.isEmpty, "\(sample.script): a non-ASCII subject must be encoded")
        #expect(words.allSatisfy { $0.count <= 75 }, "\(sample.script): an encoded-word longer than 75 characters")
        #expect(subject.unicodeScalars.allSatisfy { $0.isASCII })
        #expect(message.headerLines.allSatisfy { $0.count <= 76 }, "\(sample.script): a header line longer than 76: \(message.headerLines)")
        #expect(GoogleMIMEReader.decodeWords(subject) == sample.subject)

        #expect(message.header("MIME-Version") == "1.0")
        #expect(message.header("Content-Type") == "text/plain; charset=UTF-8")
        #expect(message.header("Content-Transfer-Encoding") == "base64")
        let base64 = String(decoding: message.body, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "")
        #expect(String(decoding: message.body, as: UTF8.self).components(separatedBy: "\r\n").allSatisfy { $0.count <= 76 })
        let decoded = try #require(Data(base64Encoded: base64))
        let expected = sample.body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        #expect(String(decoding: decoded, as: UTF8.self) == expected)
    }

    @Test("display names in other scripts are encoded-words, ASCII specials are quoted")
    func displayNames() throws {
        let message = try Self.build(MailMessage(
            to: [MailAddress("ivan@example.ru", name: "Иван Петров"), MailAddress("doe@example.com", name: "Doe, John \"JD\"")],
            subject: "Hi", body: "Hello",
            from: MailAddress("hanako@example.jp", name: "山田 花子 (東京オフィス) の長い長い表示名です本当に長いですね"),
            cc: [MailAddress("plain@example.com", name: "Plain Name")]))
        let to = try #require(message.header("To"))
        #expect(GoogleMIMEReader.decodeWords(to) == "Иван Петров <ivan@example.ru>, \"Doe, John \\\"JD\\\"\" <doe@example.com>")
        let from = try #require(message.header("From"))
        #expect(GoogleMIMEReader.decodeWords(from) == "山田 花子 (東京オフィス) の長い長い表示名です本当に長いですね <hanako@example.jp>")
        #expect(GoogleMIMEReader.encodedWords(from).allSatisfy { $0.count <= 75 })
        #expect(message.header("Cc") == "Plain Name <plain@example.com>")
        #expect(message.headerLines.allSatisfy { $0.count <= 76 })
    }

    @Test("an ASCII message is 7bit, its text unchanged, with Date and Message-ID")
    func asciiMessage() throws {
        let long = Array(repeating: "word", count: 40).joined(separator: " ")
        let message = try Self.build(MailMessage(
            to: [MailAddress("bob@example.com")], subject: long, body: "line one\nline two\r\nline three", from: MailAddress("alice@example.org")))
        #expect(message.header("Content-Transfer-Encoding") == "7bit")
        #expect(String(decoding: message.body, as: UTF8.self) == "line one\r\nline two\r\nline three\r\n")
        #expect(message.header("Subject") == long)  // folded at spaces, unfolds to the same text
        #expect(message.headerLines.filter { $0.hasPrefix(" ") }.count >= 1)
        #expect(message.header("Date") == "Mon, 05 Jan 2026 09:30:00 +0000")
        let id = try #require(message.header("Message-ID"))
        #expect(id.hasPrefix("<") && id.hasSuffix("@example.org>"))
    }

    @Test("text that looks like an encoded-word is encoded itself")
    func literalEncodedWord() throws {
        let subject = "re: =?UTF-8?B?SGk=?= is not a greeting"
        let message = try Self.build(MailMessage(to: [MailAddress("bob@example.com")], subject: subject, body: "x"))
        #expect(GoogleMIMEReader.decodeWords(try #require(message.header("Subject"))) == subject)
    }

    @Test("gmailRaw is base64url without padding of the RFC 2822 bytes")
    func gmailRaw() throws {
        let message = MailMessage(to: [MailAddress("bob@example.com")], subject: "Ünïcödé ?>>", body: "ÿÿÿ???>>>")
        let date = Date(timeIntervalSince1970: 1_767_605_400)
        let raw = try message.gmailRaw(date: date)
        #expect(!raw.contains("=") && !raw.contains("+") && !raw.contains("/"))
        var base64 = raw.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        let decoded = try #require(Data(base64Encoded: base64))
        let parsed = try #require(GoogleMIMEReader.parse(Array(decoded)))
        #expect(GoogleMIMEReader.decodeWords(parsed.header("Subject") ?? "") == "Ünïcödé ?>>")
    }

    static let injections: [(String, MailMessage)] = [
        ("subject CRLF", MailMessage(to: [MailAddress("bob@example.com")], subject: "Hi\r\nBcc: eve@evil.test", body: "x")),
        ("subject LF", MailMessage(to: [MailAddress("bob@example.com")], subject: "Hi\nBcc: eve@evil.test", body: "x")),
        ("subject CR", MailMessage(to: [MailAddress("bob@example.com")], subject: "Hi\rBcc: eve@evil.test", body: "x")),
        ("non-ASCII subject with LF", MailMessage(to: [MailAddress("bob@example.com")], subject: "Привет\nBcc: eve@evil.test", body: "x")),
        ("display name", MailMessage(to: [MailAddress("bob@example.com", name: "Bob\r\nBcc: eve@evil.test")], subject: "Hi", body: "x")),
        ("address", MailMessage(to: [MailAddress("bob@example.com\r\nBcc: eve@evil.test")], subject: "Hi", body: "x")),
        ("address with brackets", MailMessage(to: [MailAddress("bob@example.com>, <eve@evil.test")], subject: "Hi", body: "x")),
        ("from", MailMessage(to: [MailAddress("bob@example.com")], subject: "Hi", body: "x", from: MailAddress("a@b.c\nX: y"))),
        ("message id", MailMessage(to: [MailAddress("bob@example.com")], subject: "Hi", body: "x", messageID: "<a@b>\r\nBcc: eve@evil.test")),
        ("in-reply-to", MailMessage(to: [MailAddress("bob@example.com")], subject: "Hi", body: "x", inReplyTo: "<a@b>\nX: y")),
        ("references", MailMessage(to: [MailAddress("bob@example.com")], subject: "Hi", body: "x", references: ["<a@b>", "<c@d>\r\nX: y"])),
        ("control character", MailMessage(to: [MailAddress("bob@example.com")], subject: "Hi\u{0}there", body: "x")),
        ("no recipient", MailMessage(to: [], subject: "Hi", body: "x")),
        ("non-ASCII address", MailMessage(to: [MailAddress("боб@пример.рф")], subject: "Hi", body: "x")),
    ]

    @Test("header injection and unusable addresses are refused", arguments: 0..<injections.count)
    func injectionRefused(index: Int) throws {
        let (name, message) = Self.injections[index]
        let error = try #require(throws: APIError.self, "\(name)") { try message.rfc2822() }
        #expect(error.code == .invalidRequest, "\(name)")
        #expect(error.message.hasPrefix("mail "), "\(name): \(error.message)")
    }
}
