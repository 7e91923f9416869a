import Foundation

/// SplitMix64: a tiny deterministic generator, so the same seed gives the same data.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
    mutating func chance(_ percent: Int) -> Bool { int(1...100) <= percent }
}

struct CalendarInfo {
    var id: String
    var summary: String
    var primary: Bool
    var writable: Bool
    var color: String
}

/// A simple recurrence: daily or weekly on some weekdays, for a number of occurrences.
struct Recurrence {
    var frequency: String  // DAILY or WEEKLY
    var weekdays: [Int]  // 1 = Monday ... 7 = Sunday; empty = the start's weekday
    var count: Int

    static let dayCodes = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
    static let dayNames = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

    var rrule: String {
        var text = "RRULE:FREQ=\(frequency)"
        if !weekdays.isEmpty { text += ";BYDAY=" + weekdays.map { Self.dayCodes[$0 - 1] }.joined(separator: ",") }
        return text + ";COUNT=\(count)"
    }

    /// Parses the RRULE subset above (FREQ=DAILY|WEEKLY, BYDAY, COUNT); nil otherwise.
    init?(rrule: String) {
        guard rrule.hasPrefix("RRULE:") else { return nil }
        var frequency = "", weekdays: [Int] = [], count = 10
        for part in rrule.dropFirst(6).split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return nil }
            switch pair[0] {
            case "FREQ": frequency = String(pair[1])
            case "COUNT": count = Int(pair[1]) ?? 10
            case "BYDAY":
                weekdays = pair[1].split(separator: ",").compactMap { code in Self.dayCodes.firstIndex(of: String(code)).map { $0 + 1 } }
            case "INTERVAL", "UNTIL", "WKST": continue
            default: return nil
            }
        }
        guard frequency == "DAILY" || frequency == "WEEKLY", count > 0, count <= 730 else { return nil }
        self.init(frequency: frequency, weekdays: weekdays, count: count)
    }

    init(frequency: String, weekdays: [Int], count: Int) {
        self.frequency = frequency
        self.weekdays = weekdays
        self.count = count
    }

    /// The start times of every occurrence.
    func occurrences(from start: Date) -> [Date] {
        var result: [Date] = []
        var day = start
        var guardDays = 0
        let startWeekday = SeedData.weekday(start)
        let days = weekdays.isEmpty ? [startWeekday] : weekdays
        while result.count < count, guardDays < 3000 {
            if frequency == "DAILY" || days.contains(SeedData.weekday(day)) { result.append(day) }
            day = day.addingTimeInterval(86400)
            guardDays += 1
        }
        return result
    }
}

struct CalendarEvent {
    var id: String
    var calendarID: String
    var summary: String
    var description: String?
    var location: String?
    var start: Date
    var end: Date
    var allDay: Bool
    var recurrence: Recurrence?
    var attendees: [String]
    var created: Date
    var updated: Date
    var sequence = 0
    var deleted = false
}

/// One occurrence as listed: the event, or one instance of a recurring event.
struct EventInstance {
    var event: CalendarEvent
    var start: Date
    var end: Date
    /// Nil for a single event or a recurring master; the master's id for an instance.
    var masterID: String?

    var id: String { masterID.map { $0 + "_" + SeedData.compactStamp(start, allDay: event.allDay) } ?? event.id }
}

struct MailMessage {
    var id: String
    var threadID: String
    var labels: [String]
    var fromName: String
    var fromAddress: String
    var to: [String]
    var subject: String
    var body: String
    var date: Date

    var snippet: String { String(body.replacingOccurrences(of: "\n", with: " ").prefix(100)) }
    var isUnread: Bool { labels.contains("UNREAD") }
}

struct Contact {
    var id: String
    var givenName: String
    var familyName: String
    var emails: [String]
    var phones: [(type: String, value: String)]
    var birthday: (year: Int?, month: Int, day: Int)?
    var organization: String?
    var version = 1
    var created: Date
    var updated: Date

    var displayName: String { [givenName, familyName].filter { !$0.isEmpty }.joined(separator: " ") }
    var etag: String { "%EgU" + Base64URL.encode(Array("\(id)-\(version)".utf8)) }
}

/// One user's calendars, events, mail and contacts, seen through Google's APIs and Graph.
struct UserData {
    var calendars: [CalendarInfo] = []
    var events: [CalendarEvent] = []
    var messages: [MailMessage] = []
    var contacts: [Contact] = []
    var nextID = 1

    mutating func newID(_ prefix: String) -> String {
        defer { nextID += 1 }
        return prefix + String(format: "%06d", nextID)
    }
}

/// The deterministic in-memory data behind the APIs: the same seed and anchor give the
/// same calendars, events, messages and contacts, byte for byte.
struct SeedData {
    var seed: UInt64
    /// Midnight UTC of the first day of the seeded range (a Monday); the data spans six weeks.
    var anchor: Date
    var users: [String: UserData] = [:]

    init(seed: UInt64, anchor: Date) {
        self.seed = seed
        self.anchor = anchor
    }

    static let days = 42

    /// Monday two weeks before the week of `now`, at midnight UTC.
    static func defaultAnchor(now: Date) -> Date {
        let today = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 86400).rounded(.down) * 86400)
        return today.addingTimeInterval(-86400 * Double(weekday(today) - 1 + 14))
    }

    /// 1 = Monday ... 7 = Sunday, in UTC.
    static func weekday(_ date: Date) -> Int {
        let days = Int((date.timeIntervalSince1970 / 86400).rounded(.down))
        return ((days + 3) % 7 + 7) % 7 + 1  // 1970-01-01 was a Thursday
    }

    static func compactStamp(_ date: Date, allDay: Bool) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = allDay ? "yyyyMMdd" : "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    /// The user's data, generated on first use.
    mutating func data(for user: String) -> UserData {
        if let existing = users[user] { return existing }
        let made = Self.generate(user: user, seed: seed, anchor: anchor)
        users[user] = made
        return made
    }

    mutating func update(_ user: String, _ body: (inout UserData) -> Void) {
        var value = data(for: user)
        body(&value)
        users[user] = value
    }

    /// FNV-1a, so a user's data does not depend on the order users appear in.
    static func hash(_ text: String) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return value
    }

    static let eventTitles = [
        "Planning", "Design review", "Café with Zoë", "Überprüfung Q3", "会議: ロードマップ", "Customer call", "Lunch",
        "Interview", "Budget sync", "Retro", "Offsite prep", "Dentist", "Reunión de equipo", "1:1", "Demo",
    ]
    static let people = [
        ("Bob Example", "bob@sandbox.test"), ("Chloé Dupont", "chloe@example.fr"), ("Jürgen Weiß", "juergen@example.de"),
        ("佐藤 花子", "hanako@example.jp"), ("María García", "maria@example.es"), ("Newsletter", "news@example.com"),
        ("GitHub", "noreply@github.example"), ("Ops Alerts", "alerts@ops.example"),
    ]
    static let subjects = [
        "Quarterly report", "Réunion de l'équipe demain", "Grüße aus München", "日本語の件名のテスト", "Your invoice #%d",
        "🎉 Launch party on Friday", "Re: design review notes", "Weekly digest", "Action required: renew token",
        "Coffee? ☕", "Ñandú sighting at the zoo", "Build #%d failed", "Lunch plans", "Travel itinerary",
    ]
    static let givenNames = ["Ada", "Bjørn", "Chloé", "Dmitri", "Émile", "Fatima", "Grace", "Hiro", "Ingrid", "José", "Kwame", "Lena", "Mei", "Noor", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tomás"]
    static let familyNames = ["Lovelace", "Østergaard", "Dupont", "Ivanov", "Zola", "Khan", "Hopper", "Tanaka", "Berg", "Núñez", "Mensah", "Fischer", "Wang", "Haddad", "Petrova"]

    static func generate(user: String, seed: UInt64, anchor: Date) -> UserData {
        var random = SeededGenerator(state: seed ^ hash(user))
        var data = UserData()
        let created = anchor.addingTimeInterval(-86400 * 30)
        let team = "team-\(hash(user) % 100_000)@group.calendar.google.com"
        data.calendars = [
            CalendarInfo(id: user, summary: user, primary: true, writable: true, color: "#9fe1e7"),
            CalendarInfo(id: team, summary: "Team", primary: false, writable: true, color: "#f83a22"),
            CalendarInfo(id: "en.usa#holiday@group.v.calendar.google.com", summary: "Holidays", primary: false, writable: false, color: "#16a765"),
        ]
        func add(_ calendar: String, _ title: String, start: Date, minutes: Int, allDay: Bool = false, recurrence: Recurrence? = nil) {
            let id = data.newID("ev")
            let end = allDay ? start.addingTimeInterval(86400 * Double(max(1, minutes / 1440))) : start.addingTimeInterval(Double(minutes) * 60)
            var attendees: [String] = []
            if !allDay { for _ in 0..<random.int(0...3) { attendees.append(random.pick(people).1) } }
            let location: String? = random.chance(30) ? random.pick(["Room 1", "Salle Étoile", "Zoom", "会議室 3"]) : nil
            data.events.append(CalendarEvent(
                id: id, calendarID: calendar, summary: title, description: random.chance(40) ? "Agenda for \(title)." : nil,
                location: location, start: start, end: end, allDay: allDay, recurrence: recurrence,
                attendees: Array(Set(attendees)).sorted(), created: created, updated: created.addingTimeInterval(Double(random.int(0...86400)))))
        }
        for day in 0..<days {
            let date = anchor.addingTimeInterval(Double(day) * 86400)
            let weekday = weekday(date)
            guard weekday <= 5 else { continue }
            for _ in 0..<random.int(3...6) {
                let start = date.addingTimeInterval(Double(random.int(16...34)) * 1800)
                add(user, random.pick(eventTitles), start: start, minutes: random.pick([30, 45, 60, 90]))
            }
            for _ in 0..<random.int(1...2) {
                let start = date.addingTimeInterval(Double(random.int(16...34)) * 1800)
                add(team, "Team: " + random.pick(eventTitles), start: start, minutes: random.pick([30, 60]))
            }
            if day % 9 == 4 { add(user, random.pick(["Out of office", "Conference", "Vacation 🌴"]), start: date, minutes: 1440, allDay: true) }
        }
        add(user, "Offsite (3 days)", start: anchor.addingTimeInterval(86400 * 16), minutes: 1440 * 3, allDay: true)
        add(user, "Daily standup", start: anchor.addingTimeInterval(9.5 * 3600), minutes: 15,
            recurrence: Recurrence(frequency: "WEEKLY", weekdays: [1, 2, 3, 4, 5], count: 30))
        add(user, "1:1 with Bob", start: anchor.addingTimeInterval(86400 + 14 * 3600), minutes: 30,
            recurrence: Recurrence(frequency: "WEEKLY", weekdays: [2], count: 6))
        add(team, "Team retro", start: anchor.addingTimeInterval(86400 * 4 + 15 * 3600), minutes: 60,
            recurrence: Recurrence(frequency: "WEEKLY", weekdays: [], count: 6))
        for (offset, name) in [(0, "New Year's Day (observed)"), (17, "Founders' Day"), (38, "Spring Holiday")] {
            add("en.usa#holiday@group.v.calendar.google.com", name, start: anchor.addingTimeInterval(86400 * Double(offset)), minutes: 1440, allDay: true)
        }

        for index in 0..<120 {
            let when = anchor.addingTimeInterval(Double(index) * 86400 * Double(days) / 120 + Double(random.int(0...36000)))
            let sender = random.pick(people)
            var subject = random.pick(subjects)
            if subject.contains("%d") { subject = subject.replacingOccurrences(of: "%d", with: String(1000 + index)) }
            var labels = ["INBOX"]
            if random.chance(30) { labels.append("UNREAD") }
            if random.chance(15) { labels.append("IMPORTANT") }
            if random.chance(10) { labels.append("STARRED") }
            labels.append(random.pick(["CATEGORY_PERSONAL", "CATEGORY_UPDATES", "CATEGORY_PROMOTIONS"]))
            let body = "Hello,\n\n\(subject) — message \(index + 1) for \(user).\nBest,\n\(sender.0)"
            let id = String(format: "18%014x", hash(user + String(index)) & 0xFF_FFFF_FFFF_FFFF)
            data.messages.append(MailMessage(
                id: id, threadID: id, labels: labels, fromName: sender.0, fromAddress: sender.1, to: [user],
                subject: subject, body: body, date: when))
        }
        for index in 0..<10 {
            let id = String(format: "19%014x", hash(user + "sent" + String(index)) & 0xFF_FFFF_FFFF_FFFF)
            let to = random.pick(people)
            data.messages.append(MailMessage(
                id: id, threadID: id, labels: ["SENT"], fromName: user, fromAddress: user, to: [to.1],
                subject: "Re: " + random.pick(subjects).replacingOccurrences(of: "%d", with: "7"), body: "Thanks, \(to.0)!",
                date: anchor.addingTimeInterval(Double(index) * 86400 * 4 + 40000)))
        }
        data.messages.sort { $0.date > $1.date }

        for index in 0..<40 {
            let given = givenNames[index % givenNames.count]
            let family = familyNames[(index * 7) % familyNames.count]
            let base = (given + "." + family).lowercased().folding(options: .diacriticInsensitive, locale: nil)
                .filter { $0.isASCII && ($0.isLetter || $0 == ".") }
            var emails = [base + "@example.com"]
            if random.chance(30) { emails.append(base + "@work.example") }
            var phones: [(type: String, value: String)] = []
            for _ in 0..<random.int(0...2) {
                phones.append((random.pick(["mobile", "work", "home"]), "+1 555 01\(random.int(10...99)) \(random.int(1000...9999))"))
            }
            var birthday: (year: Int?, month: Int, day: Int)?
            if random.chance(50) { birthday = (random.chance(70) ? random.int(1950...2005) : nil, random.int(1...12), random.int(1...28)) }
            data.contacts.append(Contact(
                id: "c" + String(hash(user + "contact" + String(index)) % 10_000_000_000_000), givenName: given, familyName: family,
                emails: emails, phones: phones, birthday: birthday, organization: random.chance(40) ? random.pick(["Acme", "Initech", "Ünïcode GmbH"]) : nil,
                created: created, updated: created))
        }
        return data
    }
}
