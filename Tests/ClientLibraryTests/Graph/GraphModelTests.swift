import Foundation
import Testing

@testable import MicrosoftGraph

@Suite("Graph models")
struct GraphModelTests {
    @Test func anEventAsGraphSendsItDecodes() throws {
        let json = """
            {"@odata.etag": "W/\\"1\\"", "id": "AAMkEv1", "subject": "Standup", "unknownField": {"x": [1, 2]},
             "body": {"contentType": "text", "content": "daily"}, "isAllDay": false, "type": "occurrence",
             "start": {"dateTime": "2026-01-05T09:30:00.0000000", "timeZone": "UTC"},
             "end": {"dateTime": "2026-01-05T09:45:00.0000000", "timeZone": "UTC"},
             "location": {"displayName": "Room 1"}, "seriesMasterId": "AAMkEv0", "recurrence": null,
             "attendees": [{"type": "required", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                            "emailAddress": {"name": "Bob", "address": "bob@sandbox.test"}}],
             "webLink": "https://outlook.example/owa/?itemid=AAMkEv1"}
            """
        let event = try JSONDecoder().decode(GraphEvent.self, from: Data(json.utf8))
        #expect(event.id == "AAMkEv1" && event.subject == "Standup" && event.type == "occurrence")
        #expect(event.seriesMasterId == "AAMkEv0" && event.recurrence == nil)
        #expect(event.location?.displayName == "Room 1")
        #expect(event.attendees?.first?.emailAddress?.address == "bob@sandbox.test")
        #expect(event.startDate == Date(timeIntervalSince1970: 1_767_605_400))
        #expect(event.endDate == Date(timeIntervalSince1970: 1_767_605_400 + 900))
    }

    @Test func aNewEventSendsOnlyWhatIsSet() throws {
        let start = Date(timeIntervalSince1970: 1_767_605_400)
        let event = GraphEvent(subject: "Lunch", start: GraphDateTime(start), end: GraphDateTime(start.addingTimeInterval(3600)), location: "Café")
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as? [String: Any]
        #expect(Set(object?.keys ?? [:].keys) == ["subject", "start", "end", "location"])
        let startObject = object?["start"] as? [String: Any]
        #expect(startObject?["dateTime"] as? String == "2026-01-05T09:30:00")
        #expect(startObject?["timeZone"] as? String == "UTC")
    }

    @Test func localTimesInAZoneNameTheRightInstant() throws {
        let paris = GraphDateTime(dateTime: "2026-07-01T10:00:00.0000000", timeZone: "Europe/Paris")
        #expect(paris.date == Date(timeIntervalSince1970: 1_782_892_800))  // 08:00Z in summer time
        #expect(GraphDateTime(dateTime: "2026-07-01T10:00:00", timeZone: "Pacific Standard Time").date == nil)
        #expect(GraphDateTime(dateTime: "not a date", timeZone: "UTC").date == nil)
        let zone = try #require(TimeZone(identifier: "Asia/Tokyo"))
        let tokyo = GraphDateTime(Date(timeIntervalSince1970: 1_767_605_400), timeZone: zone)
        #expect(tokyo.dateTime == "2026-01-05T18:30:00" && tokyo.timeZone == "Asia/Tokyo")
    }

    @Test func birthdaysWithAndWithoutAYear() throws {
        let json = #"[{"id": "c1", "birthday": "1990-05-17T00:00:00Z"}, {"id": "c2", "birthday": "1604-12-24T00:00:00Z"}, {"id": "c3", "birthday": null}, {"id": "c4", "birthday": "garbage"}]"#
        let contacts = try JSONDecoder().decode([GraphContact].self, from: Data(json.utf8))
        #expect(contacts[0].birthdayComponents == DateComponents(year: 1990, month: 5, day: 17))
        #expect(contacts[1].birthdayComponents == DateComponents(month: 12, day: 24))
        #expect(contacts[2].birthdayComponents == nil && contacts[3].birthdayComponents == nil)
        #expect(GraphContact(birthday: DateComponents(month: 2, day: 9)).birthday == "1604-02-09T00:00:00Z")
        #expect(GraphContact(birthday: DateComponents(year: 987, month: 2, day: 9)).birthday == "0987-02-09T00:00:00Z")
    }

    @Test func aMessageAndAPageDecode() throws {
        let json = """
            {"@odata.context": "x", "@odata.count": 41, "@odata.nextLink": "https://graph.example/v1.0/me/messages?$skip=10",
             "value": [{"id": "AAMk1", "subject": "Grüße", "isRead": false, "receivedDateTime": "2026-01-05T09:30:00Z",
                        "from": {"emailAddress": {"name": "Bob", "address": "bob@sandbox.test"}}, "flag": {"flagStatus": "flagged"}}]}
            """
        let page = try JSONDecoder().decode(GraphPage<GraphMessage>.self, from: Data(json.utf8))
        #expect(page.count == 41)
        #expect(page.nextLink == "https://graph.example/v1.0/me/messages?$skip=10")
        let message = try #require(page.value.first)
        #expect(message.subject == "Grüße" && message.isRead == false && message.from?.emailAddress?.name == "Bob")
        #expect(message.receivedDate == Date(timeIntervalSince1970: 1_767_605_400))
        let empty = try JSONDecoder().decode(GraphPage<GraphMessage>.self, from: Data(#"{"value": []}"#.utf8))
        #expect(empty.value.isEmpty && empty.nextLink == nil && empty.count == nil)
    }
}
