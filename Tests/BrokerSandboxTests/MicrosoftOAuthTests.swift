import BrokerTesting
import Foundation
import Testing

@Suite("Microsoft identity platform v2.0")
struct MicrosoftOAuthTests {
    @Test("auth code with PKCE; scopes normalized to Graph URIs; a refresh token only with offline_access")
    func codeFlow() async throws {
        try await TestSandbox.with { s in
            let code = try #require(try s.microsoftCode(scope: "offline_access https://graph.microsoft.com/Calendars.Read Mail.Read"))
            let tokens = try s.form(s.msToken, [
                ("grant_type", "authorization_code"), ("code", code), ("client_id", Clients.msPublic),
                ("redirect_uri", "http://localhost:4000/cb"), ("code_verifier", PKCE.verifier),
            ])
            #expect(tokens.status == 200, "\(tokens.body)")
            let scope: String = tokens.string("scope") ?? ""
            #expect(scope.contains("https://graph.microsoft.com/Calendars.Read"))
            #expect(scope.contains("https://graph.microsoft.com/Mail.Read"))
            #expect(tokens.json["ext_expires_in"] as? Int == 3600)
            #expect(tokens.string("refresh_token") != nil)
            let online = try #require(try s.microsoftCode(scope: "Calendars.Read"))
            let noRefresh = try s.form(s.msToken, [
                ("grant_type", "authorization_code"), ("code", online), ("client_id", Clients.msPublic),
                ("redirect_uri", "http://localhost:4000/cb"), ("code_verifier", PKCE.verifier),
            ])
            #expect(noRefresh.status == 200)
            #expect(noRefresh.string("refresh_token") == nil)
        }
    }

    @Test("errors carry AADSTS codes, error_codes, timestamp, trace_id and correlation_id")
    func errorShape() async throws {
        try await TestSandbox.with { s in
            let code = try #require(try s.microsoftCode())
            let wrong = try s.form(s.msToken, [
                ("grant_type", "authorization_code"), ("code", code), ("client_id", Clients.msPublic),
                ("redirect_uri", "http://localhost:4000/cb"), ("code_verifier", PKCE.otherVerifier),
            ])
            #expect(wrong.status == 400)
            #expect(wrong.string("error") == "invalid_grant")
            let description: String = wrong.string("error_description") ?? ""
            #expect(description.hasPrefix("AADSTS501481: "))
            #expect(wrong.json["error_codes"] as? [Int] == [501_481])
            #expect(wrong.string("trace_id") != nil && wrong.string("correlation_id") != nil && wrong.string("timestamp") != nil)
            let good = try s.form(s.msToken, [
                ("grant_type", "authorization_code"), ("code", code), ("client_id", Clients.msPublic),
                ("redirect_uri", "http://localhost:4000/cb"), ("code_verifier", PKCE.verifier),
            ])
            #expect(good.status == 200)
            let reused = try s.form(s.msToken, [
                ("grant_type", "authorization_code"), ("code", code), ("client_id", Clients.msPublic),
                ("redirect_uri", "http://localhost:4000/cb"), ("code_verifier", PKCE.verifier),
            ])
            let reusedText: String = reused.string("error_description") ?? ""
            #expect(reusedText.hasPrefix("AADSTS54005: "))
        }
    }

    @Test("the authorize endpoint refuses an unknown tenant, a wrong redirect and a missing PKCE challenge")
    func authorizeRefusals() async throws {
        try await TestSandbox.with { s in
            let tenant = try s.request("GET", "/microsoft/other-tenant/oauth2/v2.0/authorize?client_id=\(Clients.msPublic)")
            #expect(tenant.status == 400)
            let redirect = try s.microsoftCode(redirect: "https://evil.example/cb")
            #expect(redirect == nil)
            let noPKCE = try s.microsoftCode(challenge: nil)
            #expect(noPKCE == nil)
            let badScope = try s.request("GET", "/microsoft/common/oauth2/v2.0/authorize?" + TestSandbox.encodeForm([
                ("client_id", Clients.msPublic), ("redirect_uri", "http://localhost:1/cb"), ("response_type", "code"),
                ("scope", "Files.ReadWrite.All"), ("code_challenge", PKCE.challenge), ("code_challenge_method", "S256"),
            ]))
            #expect(badScope.locationParameter("error") == "invalid_scope")
        }
    }

    @Test("refresh returns a new refresh token each time and the old one stays valid by default")
    func rotationLenient() async throws {
        try await TestSandbox.with { s in
            let tokens = try s.microsoftTokens()
            let first = try s.microsoftRefresh(tokens.refresh)
            #expect(first.status == 200)
            let next = try #require(first.string("refresh_token"))
            #expect(next != tokens.refresh)
            let old = try s.microsoftRefresh(tokens.refresh)
            #expect(old.status == 200)
            let newer = try s.microsoftRefresh(next)
            #expect(newer.status == 200)
            let broader = try s.microsoftRefresh(next, scope: "Mail.Send")
            #expect(broader.status == 400)
            let broaderText: String = broader.string("error_description") ?? ""
            #expect(broaderText.hasPrefix("AADSTS65001: "))
        }
    }

    @Test("with --strict, a rotated refresh token is refused (reuse detection)")
    func rotationStrict() async throws {
        try await TestSandbox.with(strict: true) { s in
            let tokens = try s.microsoftTokens()
            #expect((try s.counters()["strict_reuse_refusals"] as? [Any])?.isEmpty == true)
            let before = Date().timeIntervalSince1970
            let first = try s.microsoftRefresh(tokens.refresh)
            let after = Date().timeIntervalSince1970
            #expect(first.status == 200)
            let reuse = try s.microsoftRefresh(tokens.refresh)
            #expect(reuse.status == 400)
            #expect(reuse.string("error") == "invalid_grant")
            let next = try #require(first.string("refresh_token"))
            #expect(try s.microsoftRefresh(next).status == 200)
            // The refusal is counted with the time the refused token was rotated out (the
            // soak test compares it with its kill times).
            let refusals = try s.counters()["strict_reuse_refusals"] as? [[String: Any]] ?? []
            #expect(refusals.count == 1)
            let rotatedAt = try #require((refusals.first?["rotated_at"] as? NSNumber)?.doubleValue)
            #expect(rotatedAt >= before && rotatedAt <= after, "rotated_at \(rotatedAt) outside \(before)...\(after)")
            #expect((try s.control("DELETE", "counters").json["strict_reuse_refusals"] as? [Any])?.isEmpty == true)
        }
        // The same switch through the control API.
        try await TestSandbox.with { s in
            try s.control("POST", "settings", #"{"microsoft_strict_rotation": true}"#)
            let tokens = try s.microsoftTokens()
            #expect(try s.microsoftRefresh(tokens.refresh).status == 200)
            #expect(try s.microsoftRefresh(tokens.refresh).status == 400)
        }
    }

    @Test("client credentials with a secret need scope {resource}/.default and give app permissions")
    func clientCredentialsSecret() async throws {
        try await TestSandbox.with { s in
            let good = try s.form(s.msToken, [
                ("grant_type", "client_credentials"), ("client_id", Clients.msConfidential),
                ("client_secret", Clients.msConfidentialSecret), ("scope", "https://graph.microsoft.com/.default"),
            ])
            #expect(good.status == 200, "\(good.body)")
            #expect(good.string("refresh_token") == nil)
            let me = try s.request("GET", "/microsoft/graph/v1.0/me", bearer: good.string("access_token"))
            #expect(me.status == 400)
            let meError = me.json["error"] as? [String: Any] ?? [:]
            #expect(meError["code"] as? String == "BadRequest")
            #expect(meError["message"] as? String == "/me request is only valid with delegated authentication flow.")
            let wrongSecret = try s.form(s.msToken, [
                ("grant_type", "client_credentials"), ("client_id", Clients.msConfidential),
                ("client_secret", "nope"), ("scope", "https://graph.microsoft.com/.default"),
            ])
            #expect(wrongSecret.status == 401)
            #expect(wrongSecret.string("error") == "invalid_client")
            let wrongSecretText: String = wrongSecret.string("error_description") ?? ""
            #expect(wrongSecretText.hasPrefix("AADSTS7000215: "))
            let badScope = try s.form(s.msToken, [
                ("grant_type", "client_credentials"), ("client_id", Clients.msConfidential),
                ("client_secret", Clients.msConfidentialSecret), ("scope", "Calendars.Read"),
            ])
            #expect(badScope.status == 400)
            #expect(badScope.string("error") == "invalid_scope")
            let publicSecret = try s.form(s.msToken, [
                ("grant_type", "client_credentials"), ("client_id", Clients.msPublic),
                ("client_secret", "x"), ("scope", "https://graph.microsoft.com/.default"),
            ])
            #expect(publicSecret.status == 401)
        }
    }

    @Test("a confidential client may authenticate with HTTP Basic (client_secret_basic)")
    func clientSecretBasic() async throws {
        try await TestSandbox.with { s in
            let pairs: [(String, String)] = [("grant_type", "client_credentials"), ("scope", "https://graph.microsoft.com/.default")]
            let good = try s.form(s.msToken, pairs, basic: (Clients.msConfidential, Clients.msConfidentialSecret))
            #expect(good.status == 200, "\(good.body)")
            let access: String = good.string("access_token") ?? ""
            #expect(access.hasPrefix("EwA.sandbox-"))
            let wrong = try s.form(s.msToken, pairs, basic: (Clients.msConfidential, "nope"))
            #expect(wrong.status == 401)
            #expect(wrong.string("error") == "invalid_client")
            let wrongText: String = wrong.string("error_description") ?? ""
            #expect(wrongText.hasPrefix("AADSTS7000215: "))
            // A public client cannot present a secret this way either.
            let publicClient = try s.form(s.msToken, pairs, basic: (Clients.msPublic, "x"))
            #expect(publicClient.status == 401)
            let publicText: String = publicClient.string("error_description") ?? ""
            #expect(publicText.hasPrefix("AADSTS700025: "))
            let counts = try s.counters()["token_requests"] as? [String: [String: Int]] ?? [:]
            #expect(counts[Clients.msConfidential]?["client_credentials"] == 2)
        }
    }

    @Test("client credentials with a certificate assertion: RS256 checked, expiry checked")
    func clientCredentialsCertificate() async throws {
        try await TestSandbox.with { s in
            let pem = try TestKeys.publicPEM(TestKeys.first)
            let client: [String: Any] = [
                "provider": "microsoft", "type": "confidential", "client_id": "cert-app", "certificate_pem": pem,
                "permissions": ["Mail.Read"],
            ]
            #expect(try s.control("POST", "clients", jsonText(client)).status == 201)
            func assertion(key: String, exp: Int) throws -> String {
                let claims: [String: Any] = [
                    "iss": "cert-app", "sub": "cert-app", "aud": s.url + s.msToken, "jti": UUID().uuidString,
                    "nbf": JWT.now - 10, "exp": exp,
                ]
                return try JWT.sign(privatePEM: key, claims: claims, header: ["alg": "RS256", "typ": "JWT", "x5t": "abc"])
            }
            func redeem(_ jwt: String) throws -> HTTPResult {
                try s.form(s.msToken, [
                    ("grant_type", "client_credentials"), ("client_id", "cert-app"), ("scope", "https://graph.microsoft.com/.default"),
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), ("client_assertion", jwt),
                ])
            }
            let good = try redeem(try assertion(key: TestKeys.first, exp: JWT.now + 600))
            #expect(good.status == 200, "\(good.body)")
            let badSignature = try redeem(try assertion(key: TestKeys.second, exp: JWT.now + 600))
            #expect(badSignature.status == 401)
            let badText: String = badSignature.string("error_description") ?? ""
            #expect(badText.hasPrefix("AADSTS700027: "))
            let expired = try redeem(try assertion(key: TestKeys.first, exp: JWT.now - 60))
            #expect(expired.status == 401)
            let expiredText: String = expired.string("error_description") ?? ""
            #expect(expiredText.hasPrefix("AADSTS700024: "))
        }
    }

    @Test("device code: pending, declined, expired, approved")
    func deviceCode() async throws {
        try await TestSandbox.with { s in
            try s.control("POST", "settings", #"{"device_poll_interval": 0}"#)
            func start() throws -> (String, String) {
                let result = try s.form("/microsoft/sandbox-tenant/oauth2/v2.0/devicecode", [("client_id", Clients.msPublic), ("scope", "offline_access Mail.Read")])
                #expect(result.status == 200)
                let message: String = result.string("message") ?? ""
                #expect(message.contains(result.string("user_code") ?? "missing"))
                return (result.string("device_code") ?? "", result.string("user_code") ?? "")
            }
            func poll(_ device: String) throws -> HTTPResult {
                try s.form(s.msToken, [("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", device), ("client_id", Clients.msPublic)])
            }
            let (device, user) = try start()
            let pending = try poll(device)
            #expect(pending.status == 400)
            #expect(pending.string("error") == "authorization_pending")
            try s.control("POST", "device", jsonText(["user_code": user, "action": "approve", "user": "bob@sandbox.test"]))
            let tokens = try poll(device)
            #expect(tokens.status == 200)
            #expect(tokens.string("refresh_token") != nil)
            let (declinedDevice, declinedUser) = try start()
            try s.control("POST", "device", jsonText(["user_code": declinedUser, "action": "deny"]))
            #expect(try poll(declinedDevice).string("error") == "authorization_declined")
            let (expiring, _) = try start()
            try s.control("POST", "clock", #"{"advance": 1801}"#)
            #expect(try poll(expiring).string("error") == "expired_token")
        }
    }
}

@Suite("Zoom OAuth")
struct ZoomOAuthTests {
    func code(_ s: TestSandbox) throws -> String? {
        let result = try s.request("GET", "/zoom/oauth/authorize?" + TestSandbox.encodeForm([
            ("response_type", "code"), ("client_id", Clients.zoom), ("redirect_uri", "http://127.0.0.1:7000/zoom"), ("state", "z"),
        ]))
        return result.locationParameter("code")
    }

    @Test("authorization code needs client_secret_basic; refresh tokens rotate and the old one is refused")
    func codeAndRotation() async throws {
        try await TestSandbox.with { s in
            let first = try #require(try code(s))
            let pairs: [(String, String)] = [("grant_type", "authorization_code"), ("code", first), ("redirect_uri", "http://127.0.0.1:7000/zoom")]
            let noBasic = try s.form("/zoom/oauth/token", pairs + [("client_id", Clients.zoom), ("client_secret", Clients.zoomSecret)])
            #expect(noBasic.status == 401)
            #expect(noBasic.string("error") == "invalid_client")
            let tokens = try s.form("/zoom/oauth/token", pairs, basic: (Clients.zoom, Clients.zoomSecret))
            #expect(tokens.status == 200, "\(tokens.body)")
            #expect(tokens.string("token_type") == "bearer")
            let refresh = try #require(tokens.string("refresh_token"))
            let rotated = try s.form("/zoom/oauth/token", [("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: (Clients.zoom, Clients.zoomSecret))
            #expect(rotated.status == 200)
            let next = try #require(rotated.string("refresh_token"))
            #expect(next != refresh)
            let reuse = try s.form("/zoom/oauth/token", [("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: (Clients.zoom, Clients.zoomSecret))
            #expect(reuse.status == 400)
            #expect(reuse.string("error") == "invalid_grant")
            let me = try s.request("GET", "/zoom/v2/users/me", bearer: rotated.string("access_token"))
            #expect(me.status == 200)
        }
    }

    @Test("account credentials for server-to-server apps, with the right account_id only")
    func accountCredentials() async throws {
        try await TestSandbox.with { s in
            let good = try s.form("/zoom/oauth/token", [("grant_type", "account_credentials"), ("account_id", "sandbox-account")], basic: (Clients.zoomS2S, Clients.zoomS2SSecret))
            #expect(good.status == 200, "\(good.body)")
            #expect(good.string("refresh_token") == nil)
            let wrongAccount = try s.form("/zoom/oauth/token", [("grant_type", "account_credentials"), ("account_id", "other")], basic: (Clients.zoomS2S, Clients.zoomS2SSecret))
            #expect(wrongAccount.status == 400)
            let oauthApp = try s.form("/zoom/oauth/token", [("grant_type", "account_credentials"), ("account_id", "sandbox-account")], basic: (Clients.zoom, Clients.zoomSecret))
            #expect(oauthApp.status == 400)
            #expect(oauthApp.string("error") == "unsupported_grant_type")
            let wrongSecret = try s.form("/zoom/oauth/token", [("grant_type", "account_credentials"), ("account_id", "sandbox-account")], basic: (Clients.zoomS2S, "nope"))
            #expect(wrongSecret.status == 401)
        }
    }

    @Test("the Zoom token endpoint takes its parameters in the query string, as Zoom documents")
    func accountCredentialsInQuery() async throws {
        try await TestSandbox.with { s in
            let path = "/zoom/oauth/token?grant_type=account_credentials&account_id=sandbox-account"
            let bodiless = try s.request("POST", path, basic: (Clients.zoomS2S, Clients.zoomS2SSecret))
            #expect(bodiless.status == 200, "\(bodiless.body)")
            let access: String = bodiless.string("access_token") ?? ""
            #expect(access.hasPrefix("zm.sandbox-"))
            let me = try s.request("GET", "/zoom/v2/users/me", bearer: access)
            #expect(me.status == 200)
            let emptyForm = try s.form(path, [], basic: (Clients.zoomS2S, Clients.zoomS2SSecret))
            #expect(emptyForm.status == 200, "\(emptyForm.body)")
            // A body parameter wins over the same one in the query.
            let mixed = try s.form("/zoom/oauth/token?grant_type=account_credentials&account_id=other", [("account_id", "sandbox-account")],
                basic: (Clients.zoomS2S, Clients.zoomS2SSecret))
            #expect(mixed.status == 200, "\(mixed.body)")
            let wrong = try s.request("POST", "/zoom/oauth/token?grant_type=account_credentials&account_id=other", basic: (Clients.zoomS2S, Clients.zoomS2SSecret))
            #expect(wrong.status == 400)
            let counts = try s.counters()["token_requests"] as? [String: [String: Int]] ?? [:]
            #expect(counts[Clients.zoomS2S]?["account_credentials"] == 4)
            // Google and Microsoft still read only the body.
            let google = try s.request("POST", "/google/token?grant_type=refresh_token&refresh_token=x", basic: (Clients.googleWeb, Clients.googleWebSecret))
            #expect(google.status == 400)
            #expect(google.string("error") == "invalid_request")
        }
    }
}
