import BrokerOAuth
import Testing

@Suite("provider configuration and authorization URLs")
struct ProviderConfigTests {
    @Test("defaults are the real providers' URLs")
    func defaults() throws {
        let g = try config(.google)
        #expect(g.authorizationURL == "https://accounts.google.com/o/oauth2/v2/auth")
        #expect(g.tokenURL == "https://oauth2.googleapis.com/token")
        #expect(g.deviceAuthorizationURL == "https://oauth2.googleapis.com/device/code")
        #expect(g.revocationURL == "https://oauth2.googleapis.com/revoke")
        #expect(g.userinfoURL == "https://www.googleapis.com/oauth2/v3/userinfo")
        #expect(g.clientAuth == .clientSecretPost)
        #expect(!g.rotatesRefreshTokens)
        #expect(g.extraAuthorizationParameters == ["access_type": "offline", "prompt": "consent"])
        #expect(g.apiBaseURLs["calendar"] == "https://www.googleapis.com/calendar/v3")
        #expect(g.apiBaseURLs["gmail"] == "https://gmail.googleapis.com/gmail/v1")
        #expect(g.apiBaseURLs["people"] == "https://people.googleapis.com/v1")
        #expect(g.tenant == nil)

        let m = try config(.microsoft)
        #expect(m.tenant == "common")
        #expect(m.authorizationURL == "https://login.microsoftonline.com/common/oauth2/v2.0/authorize")
        #expect(m.tokenURL == "https://login.microsoftonline.com/common/oauth2/v2.0/token")
        #expect(m.deviceAuthorizationURL == "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode")
        #expect(m.revocationURL == nil)
        #expect(m.rotatesRefreshTokens)
        #expect(m.clientAuth == .clientSecretPost)
        #expect(m.apiBaseURLs["graph"] == "https://graph.microsoft.com/v1.0")

        let t = try config(.microsoft, tenant: "contoso.onmicrosoft.com")
        #expect(t.tokenURL == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
        let guid = try config(.microsoft, tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47")
        #expect(guid.authorizationURL == "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/authorize")
        for tenant in ["organizations", "consumers"] { #expect(try config(.microsoft, tenant: tenant).tenant == tenant) }

        let z = try config(.zoom)
        #expect(z.authorizationURL == "https://zoom.us/oauth/authorize")
        #expect(z.tokenURL == "https://zoom.us/oauth/token")
        #expect(z.deviceAuthorizationURL == nil)
        #expect(z.clientAuth == .clientSecretBasic)
        #expect(z.rotatesRefreshTokens)
        #expect(z.apiBaseURLs["zoom"] == "https://api.zoom.us/v2")
    }

    @Test("tenants that could change the URL are refused")
    func tenants() {
        for bad in ["a/b", "common?x=1", "common#", "../common", "a b", "common%2F", "-x", "x..y", ".x", String(repeating: "a", count: 64), "é"] {
            let error = oauthError { () throws(OAuthError) in try config(.microsoft, tenant: bad) }
            #expect(error?.kind == .configuration, "\(bad)")
        }
        #expect(oauthError { () throws(OAuthError) in try config(.google, tenant: "common") }?.kind == .configuration)
        #expect((try? config(.google, tenant: "")) != nil)
    }

    @Test("every URL can be overridden; authority moves Microsoft to a national cloud")
    func overrides() throws {
        let gov = try config(.microsoft, tenant: "organizations", endpoints: ["authority": "https://login.microsoftonline.us/"])
        #expect(gov.authorizationURL == "https://login.microsoftonline.us/organizations/oauth2/v2.0/authorize")
        #expect(gov.tokenURL == "https://login.microsoftonline.us/organizations/oauth2/v2.0/token")
        #expect(gov.deviceAuthorizationURL == "https://login.microsoftonline.us/organizations/oauth2/v2.0/devicecode")
        let explicit = try config(.microsoft, endpoints: ["authority": "https://login.microsoftonline.us", "token": "https://proxy.example/token"])
        #expect(explicit.tokenURL == "https://proxy.example/token")
        #expect(explicit.authorizationURL == "https://login.microsoftonline.us/common/oauth2/v2.0/authorize")

        let all = try config(.google, endpoints: [
            "authorization": "https://a.example/auth", "token": "https://a.example/token", "device": "https://a.example/device",
            "revocation": "https://a.example/revoke", "userinfo": "https://a.example/me", "api.calendar": "https://api.example/cal/",
            "api.extra": "https://api.example/extra",
        ])
        #expect(all.authorizationURL == "https://a.example/auth")
        #expect(all.tokenURL == "https://a.example/token")
        #expect(all.deviceAuthorizationURL == "https://a.example/device")
        #expect(all.revocationURL == "https://a.example/revoke")
        #expect(all.userinfoURL == "https://a.example/me")
        #expect(all.apiBaseURLs["calendar"] == "https://api.example/cal")
        #expect(all.apiBaseURLs["extra"] == "https://api.example/extra")
        #expect(all.apiBaseURLs["gmail"] == "https://gmail.googleapis.com/gmail/v1")

        let removed = try config(.google, endpoints: ["device": "", "revocation": "", "userinfo": "", "api.people": ""])
        #expect(removed.deviceAuthorizationURL == nil && removed.revocationURL == nil && removed.userinfoURL == nil)
        #expect(removed.apiBaseURLs["people"] == nil)
    }

    @Test("bad overrides: unknown names, empty required URLs, authority off Microsoft, http:// off loopback")
    func badOverrides() throws {
        let cases: [(ProviderType, [String: String])] = [
            (.google, ["tokens": "https://x.example/t"]),
            (.google, ["token": ""]),
            (.google, ["authority": "https://login.microsoftonline.us"]),
            (.microsoft, ["authority": "https://login.microsoftonline.us?x=1"]),
            (.google, ["api.Bad": "https://x.example"]),
            (.google, ["token": "http://oauth2.googleapis.com/token"]),
            (.google, ["token": "http://10.0.0.1/token"]),
            (.google, ["token": "ftp://x.example/token"]),
            (.google, ["token": "oauth2.googleapis.com/token"]),
            (.google, ["token": "https://user:pw@x.example/token"]),
            (.google, ["token": "https://x.example/token#frag"]),
            (.google, ["token": "https://x.example/to ken"]),
            (.google, ["token": "https://x.example:99999/token"]),
            (.google, ["token": "https://x.example:/token"]),
            (.google, ["token": "https:///token"]),
            (.google, ["token": "https://x_y.example/token"]),
            (.generic, ["authorization": "https://x.example/auth"]),
            (.generic, ["token": "https://x.example/token"]),
        ]
        for (type, endpoints) in cases {
            let error = oauthError { () throws(OAuthError) in try config(type, endpoints: endpoints) }
            #expect(error?.kind == .configuration, "\(type) \(endpoints)")
        }
        // Loopback may use http://.
        for host in ["127.0.0.1:8080", "127.1.2.3", "localhost:1", "[::1]:9000"] {
            #expect((try? config(.google, endpoints: ["token": "http://\(host)/google/token"])) != nil, "\(host)")
        }
        let generic = try config(.generic, endpoints: ["authorization": "https://idp.example/authorize?tenant=x", "token": "https://idp.example/token"])
        #expect(generic.clientAuth == .clientSecretBasic)
        #expect(!generic.rotatesRefreshTokens)
        #expect(oauthError { () throws(OAuthError) in try config(.google, clientID: "") }?.kind == .configuration)
        #expect(oauthError { () throws(OAuthError) in try config(.google, clientID: "a b") }?.kind == .configuration)
        #expect(oauthError { () throws(OAuthError) in try config(.zoom, clientAuth: .clientSecretPost) }?.kind == .configuration)
        #expect(oauthError { () throws(OAuthError) in try config(.google, clientAuth: .privateKeyJWT) }?.kind == .configuration)
        #expect(try config(.microsoft, clientAuth: .clientSecretBasic).clientAuth == .clientSecretBasic)
        let rotating = try ProviderConfig.resolve(type: .generic, clientID: "c", tenant: nil,
            endpoints: ["authorization": "https://i.example/a", "token": "https://i.example/t"], clientAuth: nil, rotatesRefreshTokens: true)
        #expect(rotating.rotatesRefreshTokens)
    }

    @Test("sandbox endpoints follow docs/sandbox.md and pass resolve")
    func sandbox() throws {
        let base = "http://127.0.0.1:4567/"
        let g = try config(.google, endpoints: ProviderConfig.sandboxEndpoints(type: .google, base: base, tenant: nil))
        #expect(g.authorizationURL == "http://127.0.0.1:4567/google/o/oauth2/v2/auth")
        #expect(g.tokenURL == "http://127.0.0.1:4567/google/token")
        #expect(g.deviceAuthorizationURL == "http://127.0.0.1:4567/google/device/code")
        #expect(g.revocationURL == "http://127.0.0.1:4567/google/revoke")
        #expect(g.userinfoURL == "http://127.0.0.1:4567/google/oauth2/v3/userinfo")
        #expect(g.apiBaseURLs == [
            "calendar": "http://127.0.0.1:4567/google/calendar/v3", "gmail": "http://127.0.0.1:4567/google/gmail/v1",
            "people": "http://127.0.0.1:4567/google/v1",
        ])
        let m = try config(.microsoft, tenant: "sandbox-tenant", endpoints: ProviderConfig.sandboxEndpoints(type: .microsoft, base: base, tenant: "sandbox-tenant"))
        #expect(m.authorizationURL == "http://127.0.0.1:4567/microsoft/sandbox-tenant/oauth2/v2.0/authorize")
        #expect(m.tokenURL == "http://127.0.0.1:4567/microsoft/sandbox-tenant/oauth2/v2.0/token")
        #expect(m.deviceAuthorizationURL == "http://127.0.0.1:4567/microsoft/sandbox-tenant/oauth2/v2.0/devicecode")
        #expect(m.userinfoURL == nil)
        #expect(m.apiBaseURLs == ["graph": "http://127.0.0.1:4567/microsoft/graph/v1.0"])
        let z = try config(.zoom, endpoints: ProviderConfig.sandboxEndpoints(type: .zoom, base: base, tenant: nil))
        #expect(z.authorizationURL == "http://127.0.0.1:4567/zoom/oauth/authorize")
        #expect(z.tokenURL == "http://127.0.0.1:4567/zoom/oauth/token")
        #expect(z.revocationURL == nil)
        #expect(z.apiBaseURLs == ["zoom": "http://127.0.0.1:4567/zoom/v2"])
        #expect(ProviderConfig.sandboxEndpoints(type: .generic, base: base, tenant: nil).isEmpty)
    }

    @Test("Google authorization URL: PKCE S256, offline access with consent, encoded scopes")
    func googleURL() throws {
        let g = try config(.google, clientID: "sandbox-desktop.apps.googleusercontent.com")
        let url = AuthorizationRequest.url(
            config: g, redirectURI: "http://127.0.0.1:5000/cb", scopes: [Scope.calendarRead, Scope.gmailRead, Scope.calendarRead],
            state: "st&ate=1", codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", loginHint: "bob@sandbox.test")
        #expect(url.hasPrefix("https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id="))
        let q = queryParameters(url)
        #expect(q == [
            "response_type": "code", "client_id": "sandbox-desktop.apps.googleusercontent.com", "redirect_uri": "http://127.0.0.1:5000/cb",
            "scope": "\(Scope.calendarRead) \(Scope.gmailRead)", "state": "st&ate=1",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
            "login_hint": "bob@sandbox.test", "access_type": "offline", "prompt": "consent",
        ])
        #expect(!url.contains(" "))
        #expect(url.contains("state=st%26ate%3D1"))
        #expect(!url.contains("include_granted_scopes"))
    }

    @Test("Microsoft adds offline_access; Zoom sends no scope; extras never replace core parameters")
    func otherURLs() throws {
        let m = try config(.microsoft, clientID: "00000000-0000-4000-8000-00000000a001", tenant: "sandbox-tenant",
            endpoints: ProviderConfig.sandboxEndpoints(type: .microsoft, base: "http://127.0.0.1:9", tenant: nil))
        let mu = AuthorizationRequest.url(config: m, redirectURI: "http://localhost:7/cb", scopes: [Scope.graphCalendarsRead, "openid"], state: "s", codeChallenge: "c", loginHint: nil)
        #expect(mu.hasPrefix("http://127.0.0.1:9/microsoft/sandbox-tenant/oauth2/v2.0/authorize?"))
        let mq = queryParameters(mu)
        #expect(mq["scope"] == "\(Scope.graphCalendarsRead) openid offline_access")
        #expect(mq["login_hint"] == nil)
        #expect(mq["code_challenge_method"] == "S256")
        let already = AuthorizationRequest.url(config: m, redirectURI: "http://localhost/cb", scopes: ["offline_access", Scope.graphMailRead], state: "s", codeChallenge: "c", loginHint: "")
        #expect(queryParameters(already)["scope"] == "offline_access \(Scope.graphMailRead)")

        let z = try config(.zoom, clientID: "sandboxZoomOAuthClient")
        let zq = queryParameters(AuthorizationRequest.url(config: z, redirectURI: "http://127.0.0.1/cb", scopes: ["meeting:read"], state: "s", codeChallenge: "c", loginHint: nil))
        #expect(zq["scope"] == nil)
        #expect(zq["response_type"] == "code" && zq["client_id"] == "sandboxZoomOAuthClient" && zq["code_challenge"] == "c")

        var generic = try config(.generic, endpoints: ["authorization": "https://idp.example/authorize?tenant=x", "token": "https://idp.example/token"])
        generic.extraAuthorizationParameters = ["audience": "api://x", "state": "evil", "client_id": "evil"]
        let gu = AuthorizationRequest.url(config: generic, redirectURI: "http://127.0.0.1/cb", scopes: ["read"], state: "good", codeChallenge: "c", loginHint: nil)
        #expect(gu.hasPrefix("https://idp.example/authorize?tenant=x&response_type=code"))
        let gq = queryParameters(gu)
        #expect(gq["state"] == "good" && gq["client_id"] == "client-1" && gq["audience"] == "api://x" && gq["tenant"] == "x")
    }

    @Test("provider listing: four types, presets are full scope strings")
    func listing() {
        #expect(Providers.all.map(\.type) == ProviderType.allCases)
        let google = Providers.info(.google).scopePresets
        #expect(google["calendar.readonly"] == [Scope.calendarRead])
        #expect(google["gmail.send"] == ["https://www.googleapis.com/auth/gmail.send"])
        #expect(Set(google.keys) == ["calendar", "calendar.readonly", "gmail.readonly", "gmail.send", "contacts", "contacts.readonly"])
        let ms = Providers.info(.microsoft).scopePresets
        #expect(ms["calendar.readonly"] == [Scope.graphCalendarsRead])
        #expect(ms["contacts"] == ["https://graph.microsoft.com/Contacts.ReadWrite"])
        #expect(ms["mail.send"] == ["https://graph.microsoft.com/Mail.Send"])
        #expect(Providers.info(.zoom).scopePresets["meeting"] == ["meeting:read", "meeting:write"])
        #expect(Providers.info(.generic).scopePresets.isEmpty)
        for info in Providers.all { #expect(!info.summary.isEmpty) }
    }
}
