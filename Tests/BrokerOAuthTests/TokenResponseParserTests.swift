import BrokerHTTP
import BrokerCore
import BrokerOAuth
import Foundation
import Testing

@Suite("token response parser: valid responses, hostile responses, provider errors")
struct TokenResponseParserTests {
    let canary = "CANARY-ya29.c0Ab-secret-token-value"

    func parse(_ response: HTTPResponse, requested: [String] = [Scope.calendarRead], allowed: [String]? = [Scope.calendarRead, Scope.gmailRead]) throws(OAuthError) -> OAuthTokenSet {
        try TokenResponseParser.parse(response, requestedScopes: requested, allowedScopes: allowed, now: fixedNow)
    }

    func failure(_ response: HTTPResponse, requested: [String] = [Scope.calendarRead], allowed: [String]? = [Scope.calendarRead, Scope.gmailRead]) -> OAuthError? {
        oauthError { () throws(OAuthError) in try parse(response, requested: requested, allowed: allowed) }
    }

    @Test("Google, Microsoft and Zoom success shapes")
    func valid() throws {
        let google = try parse(json(200, #"{"access_token":"ya29.a0AfH6SM","expires_in":3599,"refresh_token":"1//0g-refresh","scope":"https://www.googleapis.com/auth/calendar.readonly","token_type":"Bearer"}"#))
        #expect(google.accessToken == "ya29.a0AfH6SM")
        #expect(google.expiresIn == 3599)
        #expect(google.refreshToken == "1//0g-refresh")
        #expect(google.scopes == [Scope.calendarRead])
        #expect(google.idToken == nil)

        // Google answers `email` with its userinfo scope and adds openid: identity scopes pass.
        let identity = try parse(json(200, #"{"access_token":"a","expires_in":"3600","scope":"openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/calendar.readonly","token_type":"bearer","id_token":"h.p.s"}"#))
        #expect(identity.expiresIn == 3600)
        #expect(identity.scopes == ["openid", "https://www.googleapis.com/auth/userinfo.email", Scope.calendarRead])
        #expect(identity.idToken == "h.p.s")

        // Microsoft: bare Graph names come back full; ext_expires_in and unknown members are ignored.
        let ms = try parse(json(200, #"{"token_type":"Bearer","scope":"Calendars.Read profile openid email offline_access","expires_in":4385,"ext_expires_in":4385,"access_token":"eyJ0eXAi.x.y","refresh_token":"0.AAAA-refresh"}"#),
            requested: [Scope.graphCalendarsRead], allowed: [Scope.graphCalendarsRead])
        #expect(ms.scopes == [Scope.graphCalendarsRead, "profile", "openid", "email", "offline_access"])
        #expect(ms.refreshToken == "0.AAAA-refresh")
        let msFull = try parse(json(200, #"{"token_type":"Bearer","scope":"https://graph.microsoft.com/calendars.read","expires_in":3600,"access_token":"t"}"#),
            requested: ["Calendars.Read"], allowed: ["Calendars.Read"])
        #expect(msFull.scopes == [Scope.graphCalendarsRead])

        // Zoom: lowercase bearer, api_url; with no allowed list, its scopes are taken as given.
        let zoom = try parse(json(200, #"{"access_token":"eyJzdiI6","token_type":"bearer","refresh_token":"eyJzdiI6-r","expires_in":3599,"scope":"user:read meeting:read","api_url":"https://api.zoom.us"}"#),
            requested: [], allowed: nil)
        #expect(zoom.scopes == ["user:read", "meeting:read"])

        // No scope member: the requested scopes.
        let noScope = try parse(json(200, #"{"access_token":"t","token_type":"Bearer","expires_in":60}"#), requested: [Scope.calendarRead, Scope.gmailRead])
        #expect(noScope.scopes == [Scope.calendarRead, Scope.gmailRead])
        #expect(noScope.refreshToken == nil)
        let nulls = try parse(json(200, #"{"access_token":"t","token_type":"Bearer","expires_in":1,"refresh_token":null,"scope":null,"id_token":null}"#))
        #expect(nulls.refreshToken == nil && nulls.expiresIn == 1 && nulls.scopes == [Scope.calendarRead])
        #expect(try parse(json(200, #"{"access_token":"t","token_type":"Bearer","expires_in":86400}"#)).expiresIn == 86_400)
    }

    @Test("hostile and malformed success responses are invalid_response, never stored")
    func hostile() {
        let big = String(repeating: "A", count: 16 * 1024 + 1)
        let bodies: [String] = [
            #"{"access_token":"\#(big)","token_type":"Bearer","expires_in":3600}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":3600"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","#,
            "not json \(canary)",
            "",
            #"["access_token","\#(canary)"]"#,
            #""\#(canary)""#,
            #"{"token_type":"Bearer","expires_in":3600}"#,
            #"{"access_token":"","token_type":"Bearer","expires_in":3600}"#,
            #"{"access_token":42,"token_type":"Bearer","expires_in":3600}"#,
            #"{"access_token":"\#(canary)","token_type":"mac","expires_in":3600}"#,
            #"{"access_token":"\#(canary)","expires_in":3600}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":0}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":-3600}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":1000000000000}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":86401}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":1.5}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":3.6e3}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":"3600.0"}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":"-1"}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":true}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer"}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":3600,"scope":"https://www.googleapis.com/auth/calendar.readonly https://mail.google.com/"}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":3600,"scope":["https://www.googleapis.com/auth/calendar.readonly"]}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":3600,"refresh_token":7}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":3600,"refresh_token":""}"#,
            #"{"access_token":"ya29 \#(canary)","token_type":"Bearer","expires_in":3600}"#,
            #"{"access_token":"ya29\r\nX-Injected: 1","token_type":"Bearer","expires_in":3600}"#,
            #"{"access_token":"tok\u00e9n","token_type":"Bearer","expires_in":3600}"#,
            #"{"access_token":"\#(canary)","access_token":"other","token_type":"Bearer","expires_in":3600}"#,
            #"{"access_token":"\#(canary)","token_type":"Bearer","expires_in":3600} trailing"#,
        ]
        for body in bodies {
            let error = failure(json(200, body))
            #expect(error?.kind == .invalidResponse, "\(body.prefix(120))")
            #expect(error?.message.contains("CANARY") == false, "\(error?.message ?? "")")
            #expect(error?.message.contains("ya29") == false)
            #expect(error?.retryAfterSeconds == nil)
        }
        // Oversized body (beyond 1 MiB) and non-200 successes.
        let padded = #"{"access_token":"t","token_type":"Bearer","expires_in":3600,"pad":""# + String(repeating: "x", count: 1 << 20) + #""}"#
        #expect(failure(json(200, padded))?.kind == .invalidResponse)
        #expect(failure(json(204, ""))?.kind == .invalidResponse)
        // A Microsoft-prefixed scope for a Google grant is still outside.
        #expect(failure(json(200, #"{"access_token":"t","token_type":"Bearer","expires_in":3600,"scope":"Calendars.Read"}"#))?.kind == .invalidResponse)
        // Extra scopes are named in the message (scopes are not secret).
        let extra = failure(json(200, #"{"access_token":"t","token_type":"Bearer","expires_in":3600,"scope":"https://mail.google.com/"}"#))
        #expect(extra?.message.contains("https://mail.google.com/") == true)
    }

    @Test("error bodies of each provider map to kinds, with AADSTS codes and no canary")
    func errors() {
        struct Case { var status: Int; var body: String; var kind: OAuthError.Kind; var code: String? }
        let cases: [Case] = [
            Case(status: 400, body: #"{"error":"invalid_grant","error_description":"Token has been expired or revoked.","trace":"\#(canary)"}"#, kind: .invalidGrant, code: "invalid_grant"),
            Case(status: 401, body: #"{"error":"invalid_client","error_description":"Unauthorized"}"#, kind: .invalidClient, code: "invalid_client"),
            Case(status: 400, body: #"{"error":"invalid_scope","error_description":"Some requested scopes were invalid."}"#, kind: .invalidScope, code: "invalid_scope"),
            Case(status: 401, body: #"{"error":"unauthorized_client"}"#, kind: .unauthorizedClient, code: "unauthorized_client"),
            Case(status: 428, body: #"{"error":"authorization_pending","error_description":"Precondition Required"}"#, kind: .authorizationPending, code: "authorization_pending"),
            Case(status: 403, body: #"{"error":"slow_down","error_description":"Forbidden"}"#, kind: .slowDown, code: "slow_down"),
            Case(status: 403, body: #"{"error":"access_denied"}"#, kind: .accessDenied, code: "access_denied"),
            Case(status: 400, body: #"{"error":"expired_token"}"#, kind: .expiredToken, code: "expired_token"),
            Case(status: 400, body: #"{"error":"unsupported_grant_type"}"#, kind: .invalidRequest, code: "unsupported_grant_type"),
            Case(status: 400, body: #"{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Trace ID: 1b0c Correlation ID: 2c1d Timestamp: 2026-01-05 00:00:00Z","error_codes":[70008],"timestamp":"2026-01-05 00:00:00Z","trace_id":"\#(canary)","correlation_id":"c","error_uri":"https://login.microsoftonline.com/error?code=70008"}"#, kind: .invalidGrant, code: "AADSTS70008"),
            Case(status: 400, body: #"{"error":"authorization_declined","error_description":"AADSTS70000: The user denied the request.","error_codes":[70000]}"#, kind: .accessDenied, code: "AADSTS70000"),
            Case(status: 400, body: #"{"error":"interaction_required","error_description":"AADSTS50076: MFA required.","error_codes":[50076]}"#, kind: .invalidGrant, code: "AADSTS50076"),
            Case(status: 401, body: #"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#, kind: .invalidClient, code: "AADSTS7000215"),
            Case(status: 400, body: #"{"reason":"Invalid Token!","error":"invalid_grant"}"#, kind: .invalidGrant, code: "invalid_grant"),
            Case(status: 401, body: #"{"reason":"Invalid client_id or client_secret","error":"invalid_client"}"#, kind: .invalidClient, code: "invalid_client"),
            Case(status: 400, body: "<html>\(canary)</html>", kind: .invalidRequest, code: nil),
            Case(status: 401, body: "", kind: .invalidClient, code: nil),
            Case(status: 403, body: "{}", kind: .accessDenied, code: nil),
            Case(status: 404, body: "Not Found \(canary)", kind: .configuration, code: nil),
            Case(status: 302, body: "", kind: .configuration, code: nil),
            Case(status: 500, body: #"{"error":"invalid_grant"}"#, kind: .serverError, code: "invalid_grant"),
            Case(status: 502, body: "<html>\(canary)</html>", kind: .serverError, code: nil),
            Case(status: 400, body: #"{"error":"weird code \#(canary)"}"#, kind: .invalidRequest, code: nil),
            Case(status: 200, body: #"{"error":"invalid_grant","error_description":"bad"}"#, kind: .invalidGrant, code: "invalid_grant"),
        ]
        for c in cases {
            let error = failure(json(c.status, c.body))
            #expect(error?.kind == c.kind, "\(c.status) \(c.body.prefix(80))")
            #expect(error?.providerCode == c.code, "\(c.body.prefix(80))")
            #expect(error?.httpStatus == c.status)
            #expect(error?.message.contains("CANARY") == false, "\(error?.message ?? "")")
            #expect(error?.isRetryable == (c.kind == .serverError))
        }
        let ms = failure(json(400, cases[9].body))
        #expect(ms?.message == "HTTP 400 invalid_grant (AADSTS70008): AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.")
        let google = failure(json(400, cases[0].body))
        #expect(google?.message == "HTTP 400 invalid_grant: Token has been expired or revoked.")
    }

    @Test("descriptions are printable ASCII, one line, bounded")
    func descriptions() {
        let long = String(repeating: "x", count: 5000)
        let error = failure(json(400, #"{"error":"invalid_request","error_description":"caf\u00e9 \u0007bell\nsecond line \#(canary)"}"#))
        #expect(error?.message == "HTTP 400 invalid_request: caf bell")
        let bounded = failure(json(400, #"{"error":"invalid_request","error_description":"\#(long)"}"#))
        #expect((bounded?.message.count ?? 9999) < 260)
    }

    @Test("a secret of the request echoed in a scope, a token_type, an error code or a description, even split by control characters, reaches no message")
    func echoedSecretsAreRedacted() {
        // What OAuthClient passes: the client secret, the refresh token, a device code. The
        // first case is the fuzzers' (Fuzz/regressions/token-response/).
        let secrets = ["GOCSPX-client/secret+9", "1//0g-refresh-token", "AH-device-code-0123"]
        let cases: [(Int, String)] = [
            (200, #"{"access_token":"x","token_type":"Bearer","expires_in":60,"scope":"htt1%2F%2F0g-refresh-token.googleapis.com/auth/x"}"#),
            (200, #"{"access_token":"x","token_type":"Bearer","expires_in":60,"scope":"1//0g-refresh-token"}"#),
            (200, #"{"access_token":"x","token_type":"GOCSPX-client/secret+9","expires_in":60}"#),
            (200, #"{"access_token":"x","token_type":"GOCSPX-client\u0001/secret+9","expires_in":60}"#),
            (400, #"{"error":"AH-device-code-0123"}"#),
            (400, #"{"error":"invalid_client","error_description":"GOCSPX-client\u0007/secret+9 is wrong"}"#),
            (400, #"{"error":"invalid_grant","error_description":"1%2F%2F0g-\u0000refresh-token expired"}"#),
            (401, #"{"reason":"bad 1//0g-\tref\u001Fresh-token","error":"invalid_client"}"#),
        ]
        let forbidden = secrets + secrets.map { $0.replacingOccurrences(of: "/", with: "%2F").replacingOccurrences(of: "+", with: "%2B") }
        for (status, body) in cases {
            let error = oauthError { () throws(OAuthError) in
                _ = try TokenResponseParser.parse(json(status, body), requestedScopes: [Scope.calendarRead], allowedScopes: [Scope.calendarRead],
                                                  now: fixedNow, redacting: secrets)
            }
            #expect(error != nil, "\(body)")
            let text = (error?.message ?? "") + " " + (error?.providerCode ?? "")
            for secret in forbidden { #expect(!text.contains(secret), "\(body) gave: \(text)") }
        }
        let described = TokenResponseParser.error(from: json(400, #"{"error":"invalid_client","error_description":"GOCSPX-client\u0007/secret+9 is wrong"}"#),
                                                  now: fixedNow, redacting: secrets)
        #expect(described.message == "HTTP 400 invalid_client: [redacted] is wrong")
    }

    @Test("429 and 503 carry Retry-After in seconds or as an HTTP date")
    func retryAfter() {
        let seconds = failure(json(429, #"{"error":"rate_limit_exceeded"}"#, headers: [HTTPHeaderField("Retry-After", "7")]))
        #expect(seconds?.kind == .rateLimited)
        #expect(seconds?.retryAfterSeconds == 7)
        #expect(seconds?.isRetryable == true)
        // fixedNow is Mon, 05 Jan 2026 00:00:00 GMT.
        let date = failure(json(503, "", headers: [HTTPHeaderField("retry-after", "Mon, 05 Jan 2026 00:02:00 GMT")]))
        #expect(date?.kind == .serverError)
        #expect(date?.retryAfterSeconds == 120)
        let obsolete = failure(json(429, "", headers: [HTTPHeaderField("Retry-After", "Monday, 05-Jan-26 00:00:30 GMT")]))
        #expect(obsolete?.retryAfterSeconds == 30)
        let asctime = failure(json(429, "", headers: [HTTPHeaderField("Retry-After", "Mon Jan  5 00:01:00 2026")]))
        #expect(asctime?.retryAfterSeconds == 60)
        let past = failure(json(503, "", headers: [HTTPHeaderField("Retry-After", "Sun, 04 Jan 2026 00:00:00 GMT")]))
        #expect(past?.retryAfterSeconds == 0)
        let junk = failure(json(429, "", headers: [HTTPHeaderField("Retry-After", "soon")]))
        #expect(junk?.retryAfterSeconds == nil && junk?.kind == .rateLimited)
        let huge = failure(json(429, "", headers: [HTTPHeaderField("Retry-After", "99999999999")]))
        #expect(huge?.retryAfterSeconds == 86_400)
        let plain500 = failure(json(500, ""))
        #expect(plain500?.kind == .serverError && plain500?.retryAfterSeconds == nil)
        // Retry-After on a 400 is not a retry instruction.
        #expect(failure(json(400, #"{"error":"invalid_grant"}"#, headers: [HTTPHeaderField("Retry-After", "5")]))?.retryAfterSeconds == nil)
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:49:37 GMT", now: Date(timeIntervalSince1970: 784_111_777 - 10)) == 10)
    }
}
