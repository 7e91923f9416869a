// daily-brief: the seed's morning summary, as an agent that holds no secret. Today's and
// tomorrow's events from Google Calendar and Outlook merged in time order, unread mail per
// provider, and the birthdays of the coming week from both address books. Tokens come from
// credbrokerd (CredBrokerClient); the APIs through GoogleAPIs and MicrosoftGraph.
//
//   daily-brief [--profile P] [--socket PATH] [--google-app google] [--microsoft-app microsoft]
//               [--date YYYY-MM-DD] [--time-zone Europe/Paris]
//
// An app given as "" is skipped. A provider that fails (a dead grant, a denial) is reported
// with the broker's fix, the others are still shown, and the exit status is 1.
import ArgumentParser
import CredBrokerClient
import Foundation
import GoogleAPIs
import MicrosoftGraph

@main
struct DailyBrief: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daily-brief",
        abstract: "Today's and tomorrow's events, unread mail and this week's birthdays, from Google and Outlook.")

    @Option(help: "The credbroker profile (default: $CREDBROKER_PROFILE).")
    var profile: String?

    @Option(help: "credbrokerd's socket (default: $CREDBROKER_SOCKET, then the user and system paths).")
    var socket: String?

    @Option(name: .customLong("google-app"), help: "The Google app's name in the profile; \"\" to skip Google.")
    var googleApp = "google"

    @Option(name: .customLong("microsoft-app"), help: "The Microsoft app's name in the profile; \"\" to skip Outlook.")
    var microsoftApp = "microsoft"

    @Option(help: "The day of the brief, YYYY-MM-DD (default: today).")
    var date: String?

    @Option(name: .customLong("time-zone"), help: "IANA time zone for days and times (default: the system's).")
    var timeZone: String?

    mutating func run() async throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.locale = Locale(identifier: "en_US_POSIX")
        if let timeZone {
            guard let zone = TimeZone(identifier: timeZone) else { throw ValidationError("unknown time zone \"\(timeZone)\"") }
            calendar.timeZone = zone
        }
        let today = try Self.day(date, calendar: calendar)
        let broker = BrokerClient(socketPath: socket, profile: profile)
        var brief = Brief(calendar: calendar, today: today)
        let window = brief.window
        let (googleApp, microsoftApp, profile) = (googleApp, microsoftApp, profile)

        if !googleApp.isEmpty {
            await brief.collect(source: "google") { try await GoogleSource(broker: broker, app: googleApp, profile: profile).read(window) }
        }
        if !microsoftApp.isEmpty {
            await brief.collect(source: "outlook") { try await OutlookSource(broker: broker, app: microsoftApp, profile: profile).read(window) }
        }
        await broker.shutdown()
        print(brief.render(), terminator: "")
        if !brief.failures.isEmpty { throw ExitCode(1) }
    }

    static func day(_ text: String?, calendar: Calendar) throws -> Date {
        guard let text else { return calendar.startOfDay(for: Date()) }
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, let day = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])) else {
            throw ValidationError("--date must be YYYY-MM-DD, not \"\(text)\"")
        }
        return day
    }
}

/// The days a brief covers: events today and tomorrow, birthdays over the coming 7 days.
struct Window: Sendable {
    var start: Date
    var eventsEnd: Date
    var birthdayDays: [DateComponents]
}

/// What one provider contributes.
struct SourceReport: Sendable {
    var events: [BriefEvent] = []
    var unread: Int = 0
    var birthdays: [Birthday] = []
}

struct BriefEvent: Sendable {
    var start: Date
    var end: Date?
    var allDay: Bool
    var title: String
    var location: String?
    var sources: [String]
}

struct Birthday: Sendable, Hashable {
    var month: Int
    var day: Int
    var name: String
}

struct Brief {
    let calendar: Calendar
    let today: Date
    var events: [BriefEvent] = []
    var unread: [(String, Int)] = []
    var birthdays: Set<Birthday> = []
    var failures: [(String, String)] = []

    init(calendar: Calendar, today: Date) {
        self.calendar = calendar
        self.today = today
    }

    var window: Window {
        let days = (0..<7).map { calendar.dateComponents([.month, .day], from: calendar.date(byAdding: .day, value: $0, to: today)!) }
        return Window(start: today, eventsEnd: calendar.date(byAdding: .day, value: 2, to: today)!, birthdayDays: days)
    }

    mutating func collect(source: String, _ read: () async throws -> SourceReport) async {
        do {
            let report = try await read()
            merge(report.events)
            unread.append((source, report.unread))
            birthdays.formUnion(report.birthdays)
        } catch let error as BrokerError {
            failures.append((source, "\(error.code): \(error.message)" + (error.hint.map { "; fix: \($0)" } ?? "")))
        } catch {
            failures.append((source, "\(error)"))
        }
    }

    /// Adds events, folding an event both calendars hold (same start and title: an invite
    /// accepted in both) into one line that names both.
    mutating func merge(_ incoming: [BriefEvent]) {
        for event in incoming {
            if let i = events.firstIndex(where: { $0.start == event.start && $0.title == event.title && $0.allDay == event.allDay }) {
                for s in event.sources where !events[i].sources.contains(s) { events[i].sources.append(s) }
            } else {
                events.append(event)
            }
        }
    }

    func render() -> String {
        var out = ""
        let dayFormat = Date.FormatStyle(date: .complete, time: .omitted, locale: Locale(identifier: "en_US_POSIX"), calendar: calendar, timeZone: calendar.timeZone)
        let timeFormat = DateFormatter()
        timeFormat.locale = Locale(identifier: "en_US_POSIX")
        timeFormat.timeZone = calendar.timeZone
        timeFormat.dateFormat = "HH:mm"
        out += "Daily brief for \(today.formatted(dayFormat)) (\(calendar.timeZone.identifier))\n"
        let sorted = events.sorted { ($0.allDay ? 0 : 1, $0.start, $0.title) < ($1.allDay ? 0 : 1, $1.start, $1.title) }
        for (offset, label) in [(0, "Today"), (1, "Tomorrow")] {
            let dayStart = calendar.date(byAdding: .day, value: offset, to: today)!
            let dayEnd = calendar.date(byAdding: .day, value: 1, to: dayStart)!
            let inDay = sorted.filter { $0.start < dayEnd && ($0.end ?? $0.start) > dayStart || $0.start == dayStart }
            out += "\n\(label), \(dayStart.formatted(dayFormat))\n"
            if inDay.isEmpty { out += "  no events\n" }
            for e in inDay {
                let when = e.allDay ? "all day    " : "\(timeFormat.string(from: e.start))–\(timeFormat.string(from: e.end ?? e.start))"
                let place = e.location.map { " @ \($0)" } ?? ""
                out += "  \(when)  \(e.title)\(place)  [\(e.sources.joined(separator: ", "))]\n"
            }
        }
        out += "\nUnread mail\n"
        for (source, count) in unread { out += "  \(source): \(count) unread\n" }
        if unread.isEmpty { out += "  no mailbox read\n" }
        out += "\nBirthdays in the next 7 days\n"
        let order = Dictionary(uniqueKeysWithValues: window.birthdayDays.enumerated().map { ("\($1.month!)-\($1.day!)", $0) })
        let upcoming = birthdays.sorted { (order["\($0.month)-\($0.day)"] ?? 9, $0.name) < (order["\($1.month)-\($1.day)"] ?? 9, $1.name) }
        for b in upcoming {
            let monthName = calendar.monthSymbols[b.month - 1]
            out += "  \(b.day) \(monthName): \(b.name)\n"
        }
        if upcoming.isEmpty { out += "  none\n" }
        if !failures.isEmpty {
            out += "\nNot available\n"
            for (source, reason) in failures { out += "  \(source): \(reason)\n" }
        }
        return out
    }
}

/// Google Calendar (primary), Gmail's unread count, People's birthdays.
struct GoogleSource {
    let google: GoogleAPIs

    init(broker: BrokerClient, app: String, profile: String?) async throws {
        google = try await GoogleAPIs(broker: broker, profile: profile, provider: app)
    }

    func read(_ window: Window) async throws -> SourceReport {
        var report = SourceReport()
        for try await event in google.calendar.events(timeMin: window.start, timeMax: window.eventsEnd, singleEvents: true, orderBy: .startTime) {
            guard event.status != "cancelled", let start = event.start, let instant = start.instant else { continue }
            report.events.append(BriefEvent(start: instant, end: event.end?.instant, allDay: start.isAllDay,
                                            title: event.summary ?? "(no title)", location: event.location, sources: ["google"]))
        }
        report.unread = try await google.gmail.unreadCount()
        for try await person in google.people.connections(personFields: ["names", "birthdays"]) {
            guard let name = person.displayName else { continue }
            for birthday in person.birthdays ?? [] {
                guard let month = birthday.date?.month, let day = birthday.date?.day,
                      window.birthdayDays.contains(where: { $0.month == month && $0.day == day }) else { continue }
                report.birthdays.append(Birthday(month: month, day: day, name: name))
            }
        }
        return report
    }
}

/// Outlook's calendar view, unread mail count and contacts' birthdays through Graph.
struct OutlookSource {
    let graph: MicrosoftGraph

    init(broker: BrokerClient, app: String, profile: String?) async throws {
        graph = try await MicrosoftGraph(broker: broker, profile: profile, provider: app)
    }

    func read(_ window: Window) async throws -> SourceReport {
        var report = SourceReport()
        for try await event in graph.calendarView(start: window.start, end: window.eventsEnd) {
            guard event.isCancelled != true, let start = event.startDate else { continue }
            report.events.append(BriefEvent(start: start, end: event.endDate, allDay: event.isAllDay ?? false,
                                            title: event.subject ?? "(no title)", location: event.location?.displayName, sources: ["outlook"]))
        }
        report.unread = try await graph.unreadCount()
        for try await contact in graph.contacts(select: ["displayName", "birthday"]) {
            guard let name = contact.displayName, let b = contact.birthdayComponents, let month = b.month, let day = b.day,
                  window.birthdayDays.contains(where: { $0.month == month && $0.day == day }) else { continue }
            report.birthdays.append(Birthday(month: month, day: day, name: name))
        }
        return report
    }
}
