import APIClientCore
import BrokerTesting
import Foundation
import GoogleAPIs
import Testing

/// The example agents, run as a user would run them: the built executables against the
/// bed's daemon (CREDBROKER_SOCKET), with no secret of their own.
@Suite("Example agents: daily-brief and assistant", .serialized)
struct ExampleAgentsTests {
    /// Tuesday of the current week: inside the sandbox's six weeks of data (they start on
    /// the Monday two weeks before this week), and a weekday, so the daily standup is on.
    static var tuesday: Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        calendar.firstWeekday = 2
        let monday = calendar.date(from: calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: Date()))!
        return calendar.date(byAdding: .day, value: 1, to: monday)!
    }

    static func ymd(_ date: Date, plus days: Int = 0) -> (text: String, month: Int, day: Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let d = calendar.date(byAdding: .day, value: days, to: date)!
        let c = calendar.dateComponents([.year, .month, .day], from: d)
        return (String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!), c.month!, c.day!)
    }

    func run(_ bed: ClientBed, _ product: String, _ arguments: [String], stdin: String? = nil) async throws -> ProcessResult {
        var environment = ProcessInfo.processInfo.environment
        environment["CREDBROKER_SOCKET"] = bed.socketPath
        environment["CREDBROKER_PROFILE"] = bed.profile
        environment["TZ"] = "UTC"
        let path = BuiltProducts.path(product), env = environment
        return try await offload { try Subprocess.run(path, arguments, stdin: stdin, environment: env) }
    }

    @Test("daily-brief merges both calendars in time order, counts unread mail per provider, lists the week's birthdays")
    func dailyBrief() async throws {
        try await ClientBed.with { bed in
            let day = Self.ymd(Self.tuesday)
            let birthday = Self.ymd(Self.tuesday, plus: 3)
            // A contact whose birthday falls in the brief's week, written through Google:
            // the sandbox shows it through Graph too, and the brief must list it once.
            let google = GoogleAPIs(tokens: bed.tokens(app: "google"), baseURLs: bed.googleBaseURLs, transport: bed.transport)
            var person = Person()
            person.names = [Person.Name(givenName: "Zelda", familyName: "Brief")]
            person.birthdays = [Person.Birthday(Person.PartialDate(month: birthday.month, day: birthday.day))]
            _ = try await google.people.create(person)

            let r = try await run(bed, "daily-brief", ["--date", day.text, "--time-zone", "UTC"])
            #expect(r.status == 0, "daily-brief failed: \(r.stderr)\n\(r.stdout)")
            let out = r.stdout
            #expect(out.contains("Daily brief for Tuesday"))
            #expect(out.contains("Today, Tuesday") && out.contains("Tomorrow, Wednesday"))
            // The standup is on both calendars (the sandbox mirrors them): one line, two sources.
            let standups = out.split(separator: "\n").filter { $0.contains("Daily standup") }
            #expect(standups.count == 2, "one standup line per day:\n\(out)")
            #expect(standups.allSatisfy { $0.contains("[google, outlook]") })
            // Time order within each day.
            let today = out.components(separatedBy: "Today,")[1].components(separatedBy: "Tomorrow,")[0]
            let times = today.split(separator: "\n").compactMap { line -> String? in
                let t = line.trimmingCharacters(in: .whitespaces)
                return t.first?.isNumber == true ? String(t.prefix(5)) : nil
            }
            #expect(times == times.sorted(), "events out of order:\n\(today)")
            #expect(out.range(of: #"google: \d+ unread"#, options: .regularExpression) != nil)
            #expect(out.range(of: #"outlook: \d+ unread"#, options: .regularExpression) != nil)
            let monthName = DateFormatter().standaloneMonthSymbols[birthday.month - 1]
            #expect(out.components(separatedBy: "Zelda Brief").count == 2, "the birthday once:\n\(out)")
            #expect(out.contains("  \(birthday.day) \(monthName): Zelda Brief"), "\(out)")
            #expect(!out.contains("Not available"))
            #expect(!out.contains("ya29") && !r.stderr.contains("ya29"), "no token in the output")
        }
    }

    @Test("daily-brief shows what it can when the policy denies one provider, names the denial, and exits 1")
    func dailyBriefDenied() async throws {
        let googleOnly = ClientBed.policy(name: "google-only", providers: ["google"])
        try await ClientBed.with(policy: googleOnly) { bed in
            let r = try await run(bed, "daily-brief", ["--date", Self.ymd(Self.tuesday).text, "--time-zone", "UTC"])
            #expect(r.status == 1)
            #expect(r.stdout.contains("[google]") && !r.stdout.contains("outlook]"))
            // A denied caller is not told the app exists: /v1/profiles leaves it out, so the
            // base URL lookup is what fails.
            #expect(r.stdout.contains("Not available") && r.stdout.contains("outlook: not_found"), "\(r.stdout)")
            #expect(r.stdout.contains("may not use it"))
        }
    }

    @Test("assistant creates an event, sends an email and finds a contact, on either provider")
    func assistant() async throws {
        try await ClientBed.with { bed in
            let day = Self.ymd(Self.tuesday).text
            var r = try await run(bed, "assistant", ["create-event", "--provider", "google", "--title", "Dentist",
                                                "--start", day + "T15:00", "--end", day + "T15:45", "--location", "Main St"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("created on Google Calendar: Dentist"))
            r = try await run(bed, "assistant", ["create-event", "--provider", "microsoft", "--title", "Ünïcode review 東京",
                                            "--start", day + "T16:00:00Z", "--end", day + "T16:30:00Z"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("created in Outlook: Ünïcode review 東京"))
            // Both show in the brief (the sandbox mirrors the calendars).
            r = try await run(bed, "daily-brief", ["--date", day, "--time-zone", "UTC"])
            #expect(r.stdout.contains("15:00–15:45  Dentist @ Main St"), "\(r.stdout)")
            #expect(r.stdout.contains("Ünïcode review 東京"))

            let sendsBefore = try await bed.apiCalls("POST /google/gmail/v1/users/me/messages/send")
            r = try await run(bed, "assistant", ["send-email", "--provider", "google", "--to", "bob@sandbox.test",
                                            "--subject", "Привет, 世界", "--body-file", "-"], stdin: "Hello from the assistant.\n")
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try await bed.apiCalls("POST /google/gmail/v1/users/me/messages/send") == sendsBefore + 1)
            r = try await run(bed, "assistant", ["send-email", "--provider", "microsoft", "--to", "bob@sandbox.test", "--subject", "Hi", "--body", "Hello."])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try await bed.apiCalls("POST /microsoft/graph/v1.0/me/sendMail") == 1)

            let google = GoogleAPIs(tokens: bed.tokens(app: "google"), baseURLs: bed.googleBaseURLs, transport: bed.transport)
            var person = Person()
            person.names = [Person.Name(givenName: "Quentin", familyName: "Findme")]
            person.emailAddresses = [Person.EmailAddress("quentin@example.test")]
            _ = try await google.people.create(person)
            r = try await run(bed, "assistant", ["find-contact", "findme"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("google:    Quentin Findme <quentin@example.test>"), "\(r.stdout)")
            #expect(r.stdout.contains("microsoft: Quentin Findme"), "\(r.stdout)")
            r = try await run(bed, "assistant", ["find-contact", "nobody-by-this-name"])
            #expect(r.status == 1 && r.stdout.contains("no contact matches"))
            r = try await run(bed, "assistant", ["send-email", "--provider", "google", "--to", "x@y.z", "--subject", "s"])
            #expect(r.status != 0 && r.stderr.contains("exactly one of --body and --body-file"))
        }
    }
}
