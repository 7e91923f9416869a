/// Every emulated API route, with the scopes that allow it (any one suffices).
extension SandboxState {
    static let g = googleScopePrefix
    static let m = graphResource

    static let routes: [APIRoute] = identityRoutes + calendarRoutes + gmailRoutes + peopleRoutes + graphRoutes

    static let identityRoutes: [APIRoute] = [
        APIRoute(method: "GET", template: "/google/oauth2/v3/userinfo", provider: .google,
            scopes: ["openid", "email", "profile", g + "userinfo.email", g + "userinfo.profile"]) { $0.googleUserinfo($1) },
        APIRoute(method: "GET", template: "/microsoft/graph/v1.0/me", provider: .microsoft,
            scopes: [m + "User.Read"]) { $0.graphMe($1) },
        APIRoute(method: "GET", template: "/zoom/v2/users/me", provider: .zoom,
            scopes: ["user:read", "user:read:admin"]) { $0.zoomMe($1) },
    ]

    static let calendarRead: [String] = [g + "calendar", g + "calendar.readonly", g + "calendar.events", g + "calendar.events.readonly"]
    static let calendarWrite: [String] = [g + "calendar", g + "calendar.events"]
    static let calendarRoutes: [APIRoute] = [
        APIRoute(method: "GET", template: "/google/calendar/v3/users/me/calendarList", provider: .google,
            scopes: [g + "calendar", g + "calendar.readonly"]) { $0.googleCalendarList($1) },
        APIRoute(method: "GET", template: "/google/calendar/v3/calendars/{calendarId}/events", provider: .google,
            scopes: calendarRead) { $0.googleEventsList($1) },
        APIRoute(method: "POST", template: "/google/calendar/v3/calendars/{calendarId}/events", provider: .google,
            scopes: calendarWrite) { $0.googleEventInsert($1) },
        APIRoute(method: "GET", template: "/google/calendar/v3/calendars/{calendarId}/events/{eventId}", provider: .google,
            scopes: calendarRead) { $0.googleEventGet($1) },
        APIRoute(method: "PATCH", template: "/google/calendar/v3/calendars/{calendarId}/events/{eventId}", provider: .google,
            scopes: calendarWrite) { $0.googleEventModify($1) },
        APIRoute(method: "PUT", template: "/google/calendar/v3/calendars/{calendarId}/events/{eventId}", provider: .google,
            scopes: calendarWrite) { $0.googleEventModify($1) },
        APIRoute(method: "DELETE", template: "/google/calendar/v3/calendars/{calendarId}/events/{eventId}", provider: .google,
            scopes: calendarWrite) { $0.googleEventDelete($1) },
        APIRoute(method: "POST", template: "/google/batch/calendar/v3", provider: .google, scopes: [], authenticated: false) { $0.googleBatch($1) },
    ]

    static let gmailRead: [String] = [g + "gmail.readonly", g + "gmail.modify", g + "gmail.metadata", "https://mail.google.com/"]
    static let gmailRoutes: [APIRoute] = [
        APIRoute(method: "GET", template: "/google/gmail/v1/users/me/messages", provider: .google, scopes: gmailRead) { $0.gmailMessagesList($1) },
        APIRoute(method: "GET", template: "/google/gmail/v1/users/me/messages/{id}", provider: .google, scopes: gmailRead) { $0.gmailMessageGet($1) },
        APIRoute(method: "POST", template: "/google/gmail/v1/users/me/messages/send", provider: .google,
            scopes: [g + "gmail.send", g + "gmail.compose", g + "gmail.modify", "https://mail.google.com/"]) { $0.gmailSend($1) },
        APIRoute(method: "POST", template: "/google/gmail/v1/users/me/messages/{id}/modify", provider: .google,
            scopes: [g + "gmail.modify", "https://mail.google.com/"]) { $0.gmailModify($1) },
    ]

    static let peopleRoutes: [APIRoute] = [
        APIRoute(method: "GET", template: "/google/v1/people/{personId}/connections", provider: .google,
            scopes: [g + "contacts", g + "contacts.readonly"]) { $0.peopleConnections($1) },
        APIRoute(method: "POST", template: "/google/v1/people:createContact", provider: .google, scopes: [g + "contacts"]) { $0.peopleCreate($1) },
        APIRoute(method: "PATCH", template: "/google/v1/people/{contactId}:updateContact", provider: .google, scopes: [g + "contacts"]) { $0.peopleUpdate($1) },
        APIRoute(method: "DELETE", template: "/google/v1/people/{contactId}:deleteContact", provider: .google, scopes: [g + "contacts"]) { $0.peopleDelete($1) },
    ]

    static let graphCalendarRead: [String] = [m + "Calendars.Read", m + "Calendars.ReadWrite"]
    static let graphContactsRead: [String] = [m + "Contacts.Read", m + "Contacts.ReadWrite"]
    static let graphRoutes: [APIRoute] = [
        APIRoute(method: "GET", template: "/microsoft/graph/v1.0/me/calendars", provider: .microsoft, scopes: graphCalendarRead) { $0.graphCalendars($1) },
        APIRoute(method: "GET", template: "/microsoft/graph/v1.0/me/events", provider: .microsoft, scopes: graphCalendarRead) { $0.graphEventsList($1) },
        APIRoute(method: "POST", template: "/microsoft/graph/v1.0/me/events", provider: .microsoft, scopes: [m + "Calendars.ReadWrite"]) { $0.graphEventCreate($1) },
        APIRoute(method: "GET", template: "/microsoft/graph/v1.0/me/events/{id}", provider: .microsoft, scopes: graphCalendarRead) { $0.graphEventGet($1) },
        APIRoute(method: "PATCH", template: "/microsoft/graph/v1.0/me/events/{id}", provider: .microsoft, scopes: [m + "Calendars.ReadWrite"]) { $0.graphEventUpdate($1) },
        APIRoute(method: "DELETE", template: "/microsoft/graph/v1.0/me/events/{id}", provider: .microsoft, scopes: [m + "Calendars.ReadWrite"]) { $0.graphEventDelete($1) },
        APIRoute(method: "GET", template: "/microsoft/graph/v1.0/me/calendarView", provider: .microsoft, scopes: graphCalendarRead) { $0.graphCalendarView($1) },
        APIRoute(method: "GET", template: "/microsoft/graph/v1.0/me/messages", provider: .microsoft,
            scopes: [m + "Mail.ReadBasic", m + "Mail.Read", m + "Mail.ReadWrite"]) { $0.graphMessagesList($1) },
        APIRoute(method: "GET", template: "/microsoft/graph/v1.0/me/messages/{id}", provider: .microsoft,
            scopes: [m + "Mail.ReadBasic", m + "Mail.Read", m + "Mail.ReadWrite"]) { $0.graphMessageGet($1) },
        APIRoute(method: "POST", template: "/microsoft/graph/v1.0/me/sendMail", provider: .microsoft, scopes: [m + "Mail.Send"]) { $0.graphSendMail($1) },
        APIRoute(method: "GET", template: "/microsoft/graph/v1.0/me/contacts", provider: .microsoft, scopes: graphContactsRead) { $0.graphContactsList($1) },
        APIRoute(method: "POST", template: "/microsoft/graph/v1.0/me/contacts", provider: .microsoft, scopes: [m + "Contacts.ReadWrite"]) { $0.graphContactCreate($1) },
        APIRoute(method: "GET", template: "/microsoft/graph/v1.0/me/contacts/{id}", provider: .microsoft, scopes: graphContactsRead) { $0.graphContactGet($1) },
        APIRoute(method: "PATCH", template: "/microsoft/graph/v1.0/me/contacts/{id}", provider: .microsoft, scopes: [m + "Contacts.ReadWrite"]) { $0.graphContactUpdate($1) },
        APIRoute(method: "DELETE", template: "/microsoft/graph/v1.0/me/contacts/{id}", provider: .microsoft, scopes: [m + "Contacts.ReadWrite"]) { $0.graphContactDelete($1) },
        // Graph checks the outer request's token (401 before any step runs); a step may
        // still carry its own Authorization header, as the sandbox allows.
        APIRoute(method: "POST", template: "/microsoft/graph/v1.0/$batch", provider: .microsoft, scopes: []) { $0.graphBatch($1) },
    ]
}
