// assistant: the seed's personal assistant's three chores, as an agent that holds no
// secret: create an event, send an email, find a contact, on Google or Microsoft.
//
//   assistant create-event --provider google|microsoft --title T --start 2026-12-01T10:00 --end 2026-12-01T10:30
//                          [--location L] [--attendee a@b.c ...]
//   assistant send-email --provider google|microsoft --to a@b.c [--to ...] --subject S (--body TEXT | --body-file F|-)
//   assistant find-contact QUERY [--provider google|microsoft|both]
//
// Every command takes --profile and --socket as the CLI does. Times without an offset are
// in the system's time zone.
import ArgumentParser
import CredBrokerClient
import Foundation
import GoogleAPIs
import MicrosoftGraph

@main
struct Assistant: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assistant",
        abstract: "Create an event, send an email or find a contact through credbroker.",
        subcommands: [CreateEvent.self, SendEmail.self, FindContact.self])
}

enum Provider: String, ExpressibleByArgument, CaseIterable {
    case google, microsoft
}

struct BrokerOptions: ParsableArguments {
    @Option(help: "The credbroker profile (default: $CREDBROKER_PROFILE).")
    var profile: String?

    @Option(help: "credbrokerd's socket (default: $CREDBROKER_SOCKET, then the user and system paths).")
    var socket: String?

    @Option(help: "The app's name in the profile (default: the provider's name).")
    var app: String?

    func broker() -> BrokerClient { BrokerClient(socketPath: socket, profile: profile) }
}

/// "2026-12-01T10:00", "2026-12-01T10:00:00", with or without an offset ("Z", "+01:00").
func parseTime(_ text: String, option: String) throws -> Date {
    if let date = try? Date(text, strategy: .iso8601) { return date }
    for format in ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm"] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = format
        if let date = formatter.date(from: text) { return date }
    }
    throw ValidationError("\(option) must be a time like 2026-12-01T10:00 (local) or 2026-12-01T10:00:00Z, not \"\(text)\"")
}

struct CreateEvent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create-event", abstract: "Create a calendar event.")

    @OptionGroup var broker: BrokerOptions
    @Option var provider: Provider
    @Option var title: String
    @Option var start: String
    @Option var end: String
    @Option var location: String?
    @Option(name: .customLong("attendee"), help: "An attendee's email; repeatable.")
    var attendees: [String] = []

    func run() async throws {
        let from = try parseTime(start, option: "--start"), to = try parseTime(end, option: "--end")
        guard to > from else { throw ValidationError("--end must be after --start") }
        let client = broker.broker()
        let zone = TimeZone.current.identifier
        switch provider {
        case .google:
            let google = try await GoogleAPIs(broker: client, profile: broker.profile, provider: broker.app ?? "google")
            var event = CalendarEvent()
            event.summary = title
            event.location = location
            event.start = EventDateTime(from, timeZone: zone)
            event.end = EventDateTime(to, timeZone: zone)
            event.attendees = attendees.isEmpty ? nil : attendees.map { EventAttendee(email: $0) }
            let created = try await google.calendar.insert(event)
            print("created on Google Calendar: \(created.summary ?? title) (id \(created.id ?? "?"))")
            if let link = created.htmlLink { print(link) }
        case .microsoft:
            let graph = try await MicrosoftGraph(broker: client, profile: broker.profile, provider: broker.app ?? "microsoft")
            var event = GraphEvent()
            event.subject = title
            event.start = GraphDateTime(from, timeZone: .current)
            event.end = GraphDateTime(to, timeZone: .current)
            event.location = location.map { GraphLocation(displayName: $0) }
            event.attendees = attendees.isEmpty ? nil : attendees.map { GraphAttendee($0) }
            let created = try await graph.createEvent(event)
            print("created in Outlook: \(created.subject ?? title) (id \(created.id ?? "?"))")
            if let link = created.webLink { print(link) }
        }
    }
}

struct SendEmail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "send-email", abstract: "Send a plain-text email.")

    @OptionGroup var broker: BrokerOptions
    @Option var provider: Provider
    @Option(name: .customLong("to"), help: "A recipient; repeatable.")
    var recipients: [String]
    @Option var subject: String
    @Option var body: String?
    @Option(name: .customLong("body-file"), help: "Read the body from a file, or - for standard input.")
    var bodyFile: String?

    func validate() throws {
        guard !recipients.isEmpty else { throw ValidationError("name at least one --to") }
        guard (body == nil) != (bodyFile == nil) else { throw ValidationError("give exactly one of --body and --body-file") }
    }

    func run() async throws {
        let text: String
        if let body {
            text = body
        } else if bodyFile == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            text = try String(contentsOfFile: bodyFile!, encoding: .utf8)
        }
        let client = broker.broker()
        switch provider {
        case .google:
            let google = try await GoogleAPIs(broker: client, profile: broker.profile, provider: broker.app ?? "google")
            let sent = try await google.gmail.send(MailMessage(to: recipients.map { MailAddress($0) }, subject: subject, body: text))
            print("sent through Gmail (message id \(sent.id))")
        case .microsoft:
            let graph = try await MicrosoftGraph(broker: client, profile: broker.profile, provider: broker.app ?? "microsoft")
            var message = GraphMessage()
            message.subject = subject
            message.body = GraphItemBody(contentType: "text", content: text)
            message.toRecipients = recipients.map { GraphRecipient($0) }
            try await graph.sendMail(message)
            print("sent through Outlook")
        }
    }
}

struct FindContact: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "find-contact", abstract: "Find contacts whose name or email contains QUERY.")

    @OptionGroup var broker: BrokerOptions
    @Argument var query: String
    @Option var provider: String = "both"

    func validate() throws {
        guard ["google", "microsoft", "both"].contains(provider) else { throw ValidationError("--provider is google, microsoft or both") }
        guard !query.isEmpty else { throw ValidationError("QUERY must not be empty") }
    }

    func run() async throws {
        let client = broker.broker()
        let needle = query.lowercased()
        var found = 0
        if provider != "microsoft" {
            let google = try await GoogleAPIs(broker: client, profile: broker.profile, provider: "google")
            for try await person in google.people.connections(personFields: ["names", "emailAddresses", "phoneNumbers"]) {
                let name = person.displayName ?? ""
                let emails = (person.emailAddresses ?? []).compactMap(\.value)
                guard name.lowercased().contains(needle) || emails.contains(where: { $0.lowercased().contains(needle) }) else { continue }
                let phone = person.phoneNumbers?.first?.value.map { ", \($0)" } ?? ""
                print("google:    \(name) <\(emails.first ?? "no email")>\(phone)")
                found += 1
            }
        }
        if provider != "google" {
            let graph = try await MicrosoftGraph(broker: client, profile: broker.profile, provider: "microsoft")
            for try await contact in graph.contacts() {
                let name = contact.displayName ?? ""
                let emails = (contact.emailAddresses ?? []).compactMap(\.address)
                guard name.lowercased().contains(needle) || emails.contains(where: { $0.lowercased().contains(needle) }) else { continue }
                let phone = contact.mobilePhone.map { ", \($0)" } ?? ""
                print("microsoft: \(name) <\(emails.first ?? "no email")>\(phone)")
                found += 1
            }
        }
        if found == 0 {
            print("no contact matches \"\(query)\"")
            throw ExitCode(1)
        }
    }
}
