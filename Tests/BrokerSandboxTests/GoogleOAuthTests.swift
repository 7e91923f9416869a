import BrokerTesting
import Foundation
import Testing

@Suite("Google OAuth 2.0")
struct GoogleOAuthTests {
    @Test("authorization code with PKCE gives tokens; the refresh token is not rotated")
    func codeFlow() async throws {
        try await TestSandbox.with { s in
            let authorize = try s.request("GET", "/google/o/oauth2/v2/auth?" + TestSandbox.encodeForm([
                ("client_id", Clients.googleDesktop), ("redirect_uri", "http://127.0.0.1:49152/cb"), ("response_type", "code"),
                ("scope", Scopes.calendarRead), ("state", "xyz"), ("access_type", "offline"),
                ("code_challenge", PKCE.challenge), ("code_challenge_method", "S256"),
            ]))
            #expect(authorize.status == 302)
            let location: String = authorize.headers["location"] ?? ""
            #expect(location.hasPrefix("http://127.0.0.1:49152/cb?"))
            #expect(authorize.locationParameter("state") == "xyz")
            let code = try #require(authorize.locationParameter("code"))
            let tokens = try s.googleExchange(code, redirect: "http://127.0.0.1:49152/cb")
            #expect(tokens.status == 200, "\(tokens.body)")
            #expect(tokens.json["token_type"] as? String == "Bearer")
            #expect(tokens.json["expires_in"] as? Int == 3600)
            #expect(tokens.string("scope") == Scopes.calendarRead)
            let refresh = try #require(tokens.string("refresh_token"))
            let first = try s.googleRefresh(refresh)
            let second = try s.googleRefresh(refresh)
            #expect(first.status == 200 && second.status == 200)
            #expect(first.string("refresh_token") == nil)
            #expect(first.string("access_token") != second.string("access_token"))
        }
    }

    @Test("a narrower scope on refresh limits the token; a broader one is invalid_scope")
    func refreshScopes() async throws {
        try await TestSandbox.with { s in
            let tokens = try s.googleTokens(scope: Scopes.calendarRead + " " + Scopes.gmailRead)
            let narrow = try s.googleRefresh(tokens.refresh, scope: Scopes.gmailRead)
            #expect(narrow.status == 200)
            #expect(narrow.string("scope") == Scopes.gmailRead)
            let narrowed: String = try #require(narrow.string("access_token"))
            let events = "/google/calendar/v3/calendars/primary/events?maxResults=1"
            let messages = "/google/gmail/v1/users/me/messages?maxResults=1"
            // The original token holds both scopes, so a 403 below is the narrowing's doing.
            let wideCalendar = try s.request("GET", events, bearer: tokens.access)
            #expect(wideCalendar.status == 200)
            let droppedScope = try s.request("GET", events, bearer: narrowed)
            #expect(droppedScope.status == 403)
            let droppedError = droppedScope.json["error"] as? [String: Any] ?? [:]
            #expect(droppedError["status"] as? String == "PERMISSION_DENIED")
            let keptScope = try s.request("GET", messages, bearer: narrowed)
            #expect(keptScope.status == 200, "\(keptScope.body)")
            let broad = try s.googleRefresh(tokens.refresh, scope: Scopes.gmailRead + " " + Scopes.contacts)
            #expect(broad.status == 400)
            #expect(broad.string("error") == "invalid_scope")
        }
    }

    @Test("refresh tokens only with access_type=offline")
    func onlineHasNoRefreshToken() async throws {
        try await TestSandbox.with { s in
            let code = try #require(try s.googleCode(offline: false))
            let tokens = try s.googleExchange(code)
            #expect(tokens.status == 200)
            #expect(tokens.string("access_token") != nil)
            #expect(tokens.string("refresh_token") == nil)
        }
    }

    @Test("a wrong PKCE verifier, or none, is invalid_grant")
    func wrongVerifier() async throws {
        try await TestSandbox.with { s in
            let code = try #require(try s.googleCode())
            let wrong = try s.googleExchange(code, verifier: PKCE.otherVerifier)
            #expect(wrong.status == 400)
            #expect(wrong.string("error") == "invalid_grant")
            let missing = try s.googleExchange(code, verifier: nil)
            #expect(missing.status == 400)
            #expect(missing.string("error") == "invalid_grant")
        }
    }

    @Test("a code is single-use")
    func reusedCode() async throws {
        try await TestSandbox.with { s in
            let code = try #require(try s.googleCode())
            #expect(try s.googleExchange(code).status == 200)
            let again = try s.googleExchange(code)
            #expect(again.status == 400)
            #expect(again.string("error") == "invalid_grant")
        }
    }

    @Test("an expired code is invalid_grant")
    func expiredCode() async throws {
        try await TestSandbox.with { s in
            try s.control("POST", "settings", #"{"authorization_code_lifetime": 30}"#)
            let code = try #require(try s.googleCode())
            try s.control("POST", "clock", #"{"advance": 31}"#)
            let result = try s.googleExchange(code)
            #expect(result.status == 400)
            #expect(result.string("error") == "invalid_grant")
        }
    }

    @Test("an unregistered redirect URI gets an error page, never a redirect")
    func wrongRedirect() async throws {
        try await TestSandbox.with { s in
            let web = try s.request("GET", "/google/o/oauth2/v2/auth?" + TestSandbox.encodeForm([
                ("client_id", Clients.googleWeb), ("redirect_uri", "http://127.0.0.1:9999/oauth/callback"), ("response_type", "code"),
                ("scope", Scopes.calendarRead),
            ]))
            #expect(web.status == 400)
            #expect(web.headers["location"] == nil)
            #expect(web.headers["x-sandbox-error"] == "redirect_uri_mismatch")
            let desktopOtherHost = try s.request("GET", "/google/o/oauth2/v2/auth?" + TestSandbox.encodeForm([
                ("client_id", Clients.googleDesktop), ("redirect_uri", "http://evil.example:80/cb"), ("response_type", "code"),
                ("scope", Scopes.calendarRead), ("code_challenge", PKCE.challenge), ("code_challenge_method", "S256"),
            ]))
            #expect(desktopOtherHost.status == 400)
            #expect(desktopOtherHost.headers["location"] == nil)
            // The web client's registered URI matches exactly, port included.
            let exact = try s.googleCode(client: Clients.googleWeb, redirect: "http://127.0.0.1:8765/oauth/callback", challenge: nil)
            #expect(exact != nil)
            // Loopback on any port for the desktop client, IPv6 and localhost included.
            let v6 = try s.googleCode(redirect: "http://[::1]:61000/x")
            let localhost = try s.googleCode(redirect: "http://localhost:1234/")
            #expect(v6 != nil && localhost != nil)
            // At the token endpoint, the redirect_uri must be the one the code was issued for.
            let code = try #require(try s.googleCode(redirect: "http://127.0.0.1:5555/callback"))
            let mismatch = try s.googleExchange(code, redirect: "http://127.0.0.1:5556/callback")
            #expect(mismatch.status == 400)
            #expect(mismatch.string("error") == "redirect_uri_mismatch")
        }
    }

    @Test("the authorization endpoint refuses response_type token, a public client without PKCE, and a denying user")
    func authorizeRefusals() async throws {
        try await TestSandbox.with { s in
            let base: [(String, String)] = [
                ("client_id", Clients.googleDesktop), ("redirect_uri", "http://127.0.0.1:5555/callback"), ("scope", Scopes.calendarRead), ("state", "k"),
            ]
            let token = try s.request("GET", "/google/o/oauth2/v2/auth?" + TestSandbox.encodeForm(base + [("response_type", "token"), ("code_challenge", PKCE.challenge), ("code_challenge_method", "S256")]))
            #expect(token.status == 302)
            #expect(token.locationParameter("error") == "unsupported_response_type")
            #expect(token.locationParameter("state") == "k")
            let noPKCE = try s.request("GET", "/google/o/oauth2/v2/auth?" + TestSandbox.encodeForm(base + [("response_type", "code")]))
            #expect(noPKCE.locationParameter("error") == "invalid_request")
            #expect(noPKCE.locationParameter("code") == nil)
            let denied = try s.googleCode(user: "denied@sandbox.test")
            #expect(denied == nil)
            let unknownClient = try s.request("GET", "/google/o/oauth2/v2/auth?client_id=nope&redirect_uri=http://127.0.0.1/&response_type=code&scope=openid")
            #expect(unknownClient.status == 401)
            #expect(unknownClient.headers["x-sandbox-error"] == "invalid_client")
            let badScope = try s.request("GET", "/google/o/oauth2/v2/auth?" + TestSandbox.encodeForm([
                ("client_id", Clients.googleDesktop), ("redirect_uri", "http://127.0.0.1:5555/callback"), ("scope", "https://www.googleapis.com/auth/nonsense"),
                ("response_type", "code"), ("code_challenge", PKCE.challenge), ("code_challenge_method", "S256"),
            ]))
            #expect(badScope.locationParameter("error") == "invalid_scope")
        }
    }

    @Test("a wrong client secret is invalid_client with 401")
    func wrongSecret() async throws {
        try await TestSandbox.with { s in
            let code = try #require(try s.googleCode())
            let result = try s.googleExchange(code, secret: "GOCSPX-wrong")
            #expect(result.status == 401)
            #expect(result.string("error") == "invalid_client")
            // A web (confidential) client must send its secret.
            let webCode = try #require(try s.googleCode(client: Clients.googleWeb, redirect: "http://127.0.0.1:8765/oauth/callback", challenge: nil))
            let noSecret = try s.googleExchange(webCode, client: Clients.googleWeb, secret: nil, redirect: "http://127.0.0.1:8765/oauth/callback", verifier: nil)
            #expect(noSecret.status == 400)
            #expect(noSecret.string("error") == "invalid_request")
            let good = try s.googleExchange(webCode, client: Clients.googleWeb, secret: Clients.googleWebSecret, redirect: "http://127.0.0.1:8765/oauth/callback", verifier: nil)
            #expect(good.status == 200)
            // Basic authentication works as well as form fields.
            let unknownGrant = try s.form("/google/token", [("grant_type", "password")], basic: (Clients.googleWeb, Clients.googleWebSecret))
            #expect(unknownGrant.string("error") == "unsupported_grant_type")
        }
    }

    @Test("a desktop client must send its secret, to redeem a code and to refresh: 400 client_secret is missing")
    func desktopNeedsSecret() async throws {
        try await TestSandbox.with { s in
            let code = try #require(try s.googleCode())
            let missing = try s.googleExchange(code, secret: nil)
            #expect(missing.status == 400)
            #expect(missing.string("error") == "invalid_request")
            #expect(missing.string("error_description") == "client_secret is missing.")
            let empty = try s.googleExchange(code, secret: "")
            #expect(empty.status == 400)
            #expect(empty.string("error") == "invalid_request")
            // The refused attempts did not use up the code.
            let good = try s.googleExchange(code)
            #expect(good.status == 200, "\(good.body)")
            let refresh: String = try #require(good.string("refresh_token"))
            let refreshWithout = try s.form("/google/token", [
                ("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", Clients.googleDesktop),
            ])
            #expect(refreshWithout.status == 400)
            #expect(refreshWithout.string("error") == "invalid_request")
            #expect(try s.googleRefresh(refresh).status == 200)
            // The TV client's device-code polls need it too.
            let poll = try s.form("/google/token", [
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", "AH-whatever"), ("client_id", Clients.googleTV),
            ])
            #expect(poll.status == 400)
            #expect(poll.string("error") == "invalid_request")
        }
    }

    @Test("a Google client registered as public without a secret redeems with PKCE alone; without public: true it is refused")
    func explicitPublicClient() async throws {
        try await TestSandbox.with { s in
            let implicit: [String: Any] = [
                "provider": "google", "type": "desktop", "client_id": "nosecret.apps.googleusercontent.com", "redirect_uris": ["http://127.0.0.1"],
            ]
            let refused = try s.control("POST", "clients", jsonText(implicit))
            #expect(refused.status == 400)
            let refusedText: String = refused.string("error") ?? ""
            #expect(refusedText.contains("\"public\": true"))
            var explicit = implicit
            explicit["public"] = true
            #expect(try s.control("POST", "clients", jsonText(explicit)).status == 201)
            let client = "nosecret.apps.googleusercontent.com"
            let noPKCE = try s.googleCode(client: client, challenge: nil)
            #expect(noPKCE == nil)
            let code = try #require(try s.googleCode(client: client))
            let tokens = try s.googleExchange(code, client: client, secret: nil)
            #expect(tokens.status == 200, "\(tokens.body)")
            let code2 = try #require(try s.googleCode(client: client))
            let withSecret = try s.googleExchange(code2, client: client, secret: "made-up")
            #expect(withSecret.status == 401)
            #expect(withSecret.string("error") == "invalid_client")
        }
    }

    @Test("revocation ends the grant: its refresh and access tokens stop working")
    func revoke() async throws {
        try await TestSandbox.with { s in
            let tokens = try s.googleTokens(scope: "openid email")
            #expect(try s.request("GET", "/google/oauth2/v3/userinfo", bearer: tokens.access).status == 200)
            let revoke = try s.form("/google/revoke", [("token", tokens.refresh)])
            #expect(revoke.status == 200)
            let refresh = try s.googleRefresh(tokens.refresh)
            #expect(refresh.status == 400)
            #expect(refresh.string("error") == "invalid_grant")
            let api = try s.request("GET", "/google/oauth2/v3/userinfo", bearer: tokens.access)
            #expect(api.status == 401)
            let again = try s.form("/google/revoke", [("token", tokens.refresh)])
            #expect(again.status == 400)
            #expect(again.string("error") == "invalid_token")
        }
    }

    @Test("userinfo answers with the consenting user's identity")
    func userinfo() async throws {
        try await TestSandbox.with { s in
            let code = try #require(try s.googleCode(scope: "openid email profile", user: "bob@sandbox.test"))
            let access = try #require(try s.googleExchange(code).string("access_token"))
            let info = try s.request("GET", "/google/oauth2/v3/userinfo", bearer: access)
            #expect(info.status == 200)
            #expect(info.string("email") == "bob@sandbox.test")
            #expect(info.string("name") == "Bob Example")
        }
    }
}

@Suite("Google service accounts (JWT bearer)")
struct GoogleServiceAccountTests {
    static let email = "robot@sandbox-project.iam.gserviceaccount.com"

    func register(_ s: TestSandbox, delegation: Bool = true) throws {
        let pem = try TestKeys.publicPEM(TestKeys.first)
        let body: [String: Any] = ["email": Self.email, "public_key_pem": pem, "delegation": delegation, "key_id": "k1"]
        let result = try s.control("POST", "service-accounts", jsonText(body))
        #expect(result.status == 201, "\(result.body)")
    }

    func assertion(_ s: TestSandbox, key: String = TestKeys.first, iat: Int = JWT.now, exp: Int? = nil, aud: String? = nil, sub: String? = nil) throws -> String {
        var claims: [String: Any] = [
            "iss": Self.email, "scope": Scopes.calendarRead, "aud": aud ?? (s.url + "/google/token"),
            "iat": iat, "exp": exp ?? (iat + 3600),
        ]
        if let sub { claims["sub"] = sub }
        return try JWT.sign(privatePEM: key, claims: claims, header: ["alg": "RS256", "typ": "JWT", "kid": "k1"])
    }

    func grant(_ s: TestSandbox, _ jwt: String) throws -> HTTPResult {
        try s.form("/google/token", [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", jwt)])
    }

    @Test("a valid assertion gets an access token and no refresh token")
    func valid() async throws {
        try await TestSandbox.with { s in
            try register(s)
            let result = try grant(s, try assertion(s))
            #expect(result.status == 200, "\(result.body)")
            #expect(result.string("access_token") != nil)
            #expect(result.string("refresh_token") == nil)
            let google = try grant(s, try assertion(s, aud: "https://oauth2.googleapis.com/token"))
            #expect(google.status == 200)
            let delegated = try grant(s, try assertion(s, sub: "alice@sandbox.test"))
            #expect(delegated.status == 200)
            let counters = try s.counters()
            let byClient = counters["token_requests"] as? [String: Any]
            let grants = byClient?[Self.email] as? [String: Any]
            #expect(grants?["urn:ietf:params:oauth:grant-type:jwt-bearer"] as? Int == 3)
        }
    }

    @Test("a bad signature, an expired or too long-lived assertion, a wrong audience are invalid_grant")
    func invalid() async throws {
        try await TestSandbox.with { s in
            try register(s, delegation: false)
            let badSignature = try grant(s, try assertion(s, key: TestKeys.second))
            #expect(badSignature.status == 400)
            #expect(badSignature.string("error") == "invalid_grant")
            #expect(badSignature.string("error_description") == "Invalid JWT Signature.")
            let expired = try grant(s, try assertion(s, iat: JWT.now - 7200, exp: JWT.now - 3600))
            #expect(expired.status == 400)
            #expect(expired.string("error") == "invalid_grant")
            let tooLong = try grant(s, try assertion(s, iat: JWT.now, exp: JWT.now + 7200))
            #expect(tooLong.string("error") == "invalid_grant")
            let audience = try grant(s, try assertion(s, aud: "https://example.com/token"))
            #expect(audience.string("error") == "invalid_grant")
            let noDelegation = try grant(s, try assertion(s, sub: "alice@sandbox.test"))
            #expect(noDelegation.status == 401)
            #expect(noDelegation.string("error") == "unauthorized_client")
            let garbage = try grant(s, "not.a.jwt")
            #expect(garbage.string("error") == "invalid_grant")
        }
    }
}

@Suite("Google device flow")
struct GoogleDeviceTests {
    func start(_ s: TestSandbox) throws -> (device: String, user: String) {
        let result = try s.form("/google/device/code", [("client_id", Clients.googleTV), ("scope", Scopes.calendarRead)])
        #expect(result.status == 200, "\(result.body)")
        #expect(result.string("verification_url") == s.url + "/google/device")
        return (result.string("device_code") ?? "", result.string("user_code") ?? "")
    }

    func poll(_ s: TestSandbox, _ device: String) throws -> HTTPResult {
        try s.form("/google/token", [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", device),
            ("client_id", Clients.googleTV), ("client_secret", Clients.googleTVSecret),
        ])
    }

    @Test("pending, slow_down when polled too fast, then tokens once approved")
    func approve() async throws {
        try await TestSandbox.with { s in
            let codes = try start(s)
            let pending = try poll(s, codes.device)
            #expect(pending.status == 428)
            #expect(pending.string("error") == "authorization_pending")
            let fast = try poll(s, codes.device)
            #expect(fast.status == 403)
            #expect(fast.string("error") == "slow_down")
            try s.control("POST", "clock", #"{"advance": 11}"#)
            let approve = try s.control("POST", "device", jsonText(["user_code": codes.user, "action": "approve"]))
            #expect(approve.status == 200)
            let tokens = try poll(s, codes.device)
            #expect(tokens.status == 200, "\(tokens.body)")
            #expect(tokens.string("refresh_token") != nil)
            try s.control("POST", "clock", #"{"advance": 11}"#)
            let again = try poll(s, codes.device)
            #expect(again.string("error") == "invalid_grant")
        }
    }

    @Test("a denied code is access_denied; an expired one expired_token")
    func denyAndExpire() async throws {
        try await TestSandbox.with { s in
            let denied = try start(s)
            try s.control("POST", "device", jsonText(["user_code": denied.user, "action": "deny"]))
            let result = try poll(s, denied.device)
            #expect(result.status == 403)
            #expect(result.string("error") == "access_denied")
            let expiring = try start(s)
            try s.control("POST", "clock", #"{"advance": 1801}"#)
            let expired = try poll(s, expiring.device)
            #expect(expired.status == 400)
            #expect(expired.string("error") == "expired_token")
        }
    }

    @Test("only TV and limited-input clients may start a device flow")
    func clientType() async throws {
        try await TestSandbox.with { s in
            let result = try s.form("/google/device/code", [("client_id", Clients.googleDesktop), ("scope", Scopes.calendarRead)])
            #expect(result.status == 401)
            #expect(result.string("error") == "invalid_client")
        }
    }
}
