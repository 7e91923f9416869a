import BrokerCore
import BrokerHTTP
import BrokerOAuth
import Foundation
import Testing

@Suite("OAuth flows against a recording transport")
struct OAuthClientTests {
    static let tokenOK = json(200, #"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-2","scope":"https://www.googleapis.com/auth/calendar.readonly"}"#)
    static let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

    func client(_ config: ProviderConfig, _ credential: ClientCredential, _ transport: FakeTransport) -> OAuthClient {
        OAuthClient(config: config, credential: credential, transport: transport, now: { fixedNow })
    }

    func expectNoSecretInURL(_ request: HTTPRequest?, _ secrets: [String]) {
        guard let request else { Issue.record("no request"); return }
        for secret in secrets { #expect(!request.url.contains(secret), "\(secret) in \(request.url)") }
        #expect(!request.url.contains("?"))
    }

    @Test("Google code exchange: form body, secret in the form, JSON accepted")
    func googleExchange() async throws {
        let t = FakeTransport(Self.tokenOK)
        let g = try config(.google, clientID: "cid.apps.googleusercontent.com")
        let tokens = try await client(g, .secret("GOCSPX-secret"), t).exchangeCode("4/0code", codeVerifier: Self.verifier, redirectURI: "http://127.0.0.1:5000/cb", requestedScopes: [Scope.calendarRead])
        #expect(tokens.accessToken == "at-1" && tokens.refreshToken == "rt-2" && tokens.scopes == [Scope.calendarRead])
        let r = try #require(t.last)
        #expect(r.method == "POST")
        #expect(r.url == "https://oauth2.googleapis.com/token")
        #expect(r.header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(r.header("Accept") == "application/json")
        #expect(r.header("Authorization") == nil)
        #expect(r.formNames == ["grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret"])
        #expect(r.form == [
            "grant_type": "authorization_code", "code": "4/0code", "redirect_uri": "http://127.0.0.1:5000/cb", "code_verifier": Self.verifier,
            "client_id": "cid.apps.googleusercontent.com", "client_secret": "GOCSPX-secret",
        ])
        expectNoSecretInURL(r, ["GOCSPX-secret", "4/0code", Self.verifier])
        #expect(String(decoding: r.body, as: UTF8.self).contains("code=4%2F0code"))
    }

    @Test("local checks before any request: bad verifier, empty code, scopes with spaces")
    func localChecks() async throws {
        let t = FakeTransport(Self.tokenOK)
        let c = client(try config(.google), .secret("s3cret"), t)
        #expect(await oauthError { () async throws(OAuthError) in try await c.exchangeCode("code", codeVerifier: "short", redirectURI: "http://127.0.0.1/cb", requestedScopes: []) }?.kind == .invalidRequest)
        #expect(await oauthError { () async throws(OAuthError) in try await c.exchangeCode("", codeVerifier: Self.verifier, redirectURI: "http://127.0.0.1/cb", requestedScopes: []) }?.kind == .invalidRequest)
        #expect(await oauthError { () async throws(OAuthError) in try await c.refresh(refreshToken: "rt", scopes: ["a b"], grantScopes: []) }?.kind == .invalidScope)
        #expect(await oauthError { () async throws(OAuthError) in try await c.refresh(refreshToken: "rt", scopes: [Scope.gmailRead], grantScopes: [Scope.calendarRead]) }?.kind == .invalidScope)
        #expect(await oauthError { () async throws(OAuthError) in try await c.refresh(refreshToken: "", scopes: [], grantScopes: []) }?.kind == .invalidRequest)
        #expect(t.requests.isEmpty)
    }

    @Test("Google refresh narrows with scope; client_secret_basic puts the secret in the header only")
    func googleRefresh() async throws {
        let t = FakeTransport(Self.tokenOK, Self.tokenOK, Self.tokenOK)
        let g = try config(.google, clientID: "cid")
        let c = client(g, .secret("GOCSPX-secret"), t)
        let narrowed = try await c.refresh(refreshToken: "1//0g-rt", scopes: [Scope.calendarRead], grantScopes: [Scope.calendarRead, Scope.gmailRead])
        #expect(narrowed.scopes == [Scope.calendarRead])
        #expect(t.last?.form == ["grant_type": "refresh_token", "refresh_token": "1//0g-rt", "scope": Scope.calendarRead, "client_id": "cid", "client_secret": "GOCSPX-secret"])
        _ = try await c.refresh(refreshToken: "1//0g-rt", scopes: [], grantScopes: [Scope.calendarRead, Scope.gmailRead])
        #expect(t.last?.form["scope"] == nil)

        let basic = client(try config(.google, clientID: "c:id", clientAuth: .clientSecretBasic), .secret("p&ss:word"), t)
        _ = try await basic.refresh(refreshToken: "rt", scopes: [], grantScopes: [])
        let r = try #require(t.last)
        // RFC 6749 §2.3.1: both parts form-encoded, then base64.
        let expected = "Basic " + Data("c%3Aid:p%26ss%3Aword".utf8).base64EncodedString()
        #expect(r.header("Authorization") == expected)
        #expect(r.form["client_id"] == nil && r.form["client_secret"] == nil)
        #expect(!String(decoding: r.body, as: UTF8.self).contains("word"))
    }

    @Test("Microsoft refresh: the requested resource's scopes plus offline_access")
    func microsoftRefresh() async throws {
        let body = #"{"token_type":"Bearer","scope":"https://graph.microsoft.com/Calendars.Read","expires_in":3600,"access_token":"at","refresh_token":"rt-new"}"#
        let t = FakeTransport(json(200, body), json(200, body))
        let m = try config(.microsoft, clientID: "00000000-0000-4000-8000-00000000a001", tenant: "sandbox-tenant")
        let c = client(m, .none, t)
        let grant = [Scope.graphCalendarsRead, Scope.graphMailRead, "openid", "offline_access"]
        let tokens = try await c.refresh(refreshToken: "0.AAA-rt", scopes: [Scope.graphCalendarsRead], grantScopes: grant)
        #expect(tokens.refreshToken == "rt-new")
        #expect(t.last?.url == "https://login.microsoftonline.com/sandbox-tenant/oauth2/v2.0/token")
        #expect(t.last?.form == [
            "grant_type": "refresh_token", "refresh_token": "0.AAA-rt", "scope": "\(Scope.graphCalendarsRead) offline_access",
            "client_id": "00000000-0000-4000-8000-00000000a001",
        ])
        _ = try await c.refresh(refreshToken: "0.AAA-rt", scopes: [], grantScopes: grant)
        #expect(t.last?.form["scope"] == "\(Scope.graphCalendarsRead) \(Scope.graphMailRead) openid offline_access")
        // A token beyond the grant is refused.
        let wide = FakeTransport(json(200, #"{"token_type":"Bearer","scope":"Calendars.Read Mail.Send","expires_in":3600,"access_token":"at"}"#))
        let error = await oauthError { () async throws(OAuthError) in try await client(m, .none, wide).refresh(refreshToken: "rt", scopes: [], grantScopes: grant) }
        #expect(error?.kind == .invalidResponse)
    }

    @Test("Zoom: Basic only, no scope parameter, rotation; account credentials")
    func zoom() async throws {
        let body = #"{"access_token":"zt","token_type":"bearer","refresh_token":"zr-2","expires_in":3599,"scope":"user:read meeting:read"}"#
        let t = FakeTransport(json(200, body), json(200, body), json(200, #"{"access_token":"zs","token_type":"bearer","expires_in":3599,"scope":"user:read:admin"}"#))
        let z = try config(.zoom, clientID: "sandboxZoomOAuthClient")
        let c = client(z, .secret("zoom-secret"), t)
        let exchanged = try await c.exchangeCode("zc", codeVerifier: Self.verifier, redirectURI: "http://127.0.0.1/cb", requestedScopes: [])
        #expect(exchanged.scopes == ["user:read", "meeting:read"])
        #expect(t.last?.header("Authorization") == "Basic " + Data("sandboxZoomOAuthClient:zoom-secret".utf8).base64EncodedString())
        #expect(t.last?.formNames == ["grant_type", "code", "redirect_uri", "code_verifier"])
        let refreshed = try await c.refresh(refreshToken: "zr-1", scopes: ["user:read"], grantScopes: ["user:read", "meeting:read"])
        #expect(refreshed.refreshToken == "zr-2")
        #expect(t.last?.form == ["grant_type": "refresh_token", "refresh_token": "zr-1"])
        let s2s = try await c.zoomAccountCredentials(accountID: "sandbox-account")
        #expect(s2s.scopes == ["user:read:admin"] && s2s.refreshToken == nil)
        #expect(t.last?.form == ["grant_type": "account_credentials", "account_id": "sandbox-account"])
        #expect(t.last?.url == "https://zoom.us/oauth/token")
        // Zoom never works without its secret.
        #expect(await oauthError { () async throws(OAuthError) in try await client(z, .none, t).refresh(refreshToken: "r", scopes: [], grantScopes: []) }?.kind == .configuration)
    }

    @Test("device flow: start with client id and scope, polls map provider errors to kinds")
    func device() async throws {
        let start = json(200, #"{"device_code":"AH-dev","user_code":"BCDF-GHJK","verification_url":"https://www.google.com/device","expires_in":1800,"interval":5}"#)
        let t = FakeTransport(
            start,
            json(428, #"{"error":"authorization_pending","error_description":"Precondition Required"}"#),
            json(403, #"{"error":"slow_down","error_description":"Forbidden"}"#),
            json(403, #"{"error":"access_denied","error_description":"Forbidden"}"#),
            json(400, #"{"error":"expired_token","error_description":"Bad Request"}"#),
            Self.tokenOK)
        let g = try config(.google, clientID: "tv-client")
        let c = client(g, .secret("GOCSPX-tv"), t)
        let device = try await c.startDeviceAuthorization(scopes: [Scope.calendarRead])
        #expect(device.deviceCode == "AH-dev" && device.userCode == "BCDF-GHJK" && device.verificationURI == "https://www.google.com/device")
        #expect(device.expiresIn == 1800 && device.interval == 5 && device.verificationURIComplete == nil)
        #expect(t.last?.url == "https://oauth2.googleapis.com/device/code")
        #expect(t.last?.form == ["client_id": "tv-client", "scope": Scope.calendarRead])
        for kind: OAuthError.Kind in [.authorizationPending, .slowDown, .accessDenied, .expiredToken] {
            let error = await oauthError { () async throws(OAuthError) in try await c.pollDevice(device, requestedScopes: [Scope.calendarRead]) }
            #expect(error?.kind == kind)
            #expect(error?.message.contains("AH-dev") == false)
        }
        let tokens = try await c.pollDevice(device, requestedScopes: [Scope.calendarRead])
        #expect(tokens.accessToken == "at-1")
        #expect(t.last?.form == [
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "AH-dev", "client_id": "tv-client", "client_secret": "GOCSPX-tv",
        ])

        // Microsoft: verification_uri, offline_access added, authorization_declined is access_denied.
        let mt = FakeTransport(
            json(200, #"{"device_code":"DAQ","user_code":"ABC","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":5,"message":"To sign in..."}"#),
            json(400, #"{"error":"authorization_declined","error_description":"AADSTS70000: denied","error_codes":[70000]}"#))
        let m = client(try config(.microsoft, clientID: "pub"), .none, mt)
        let md = try await m.startDeviceAuthorization(scopes: [Scope.graphCalendarsRead])
        #expect(mt.last?.form == ["client_id": "pub", "scope": "\(Scope.graphCalendarsRead) offline_access"])
        #expect(md.verificationURI == "https://microsoft.com/devicelogin")
        let declined = await oauthError { () async throws(OAuthError) in try await m.pollDevice(md, requestedScopes: [Scope.graphCalendarsRead]) }
        #expect(declined?.kind == .accessDenied && declined?.providerCode == "AADSTS70000")

        // Hostile device answers.
        for body in [
            #"{"device_code":"d","user_code":"u","verification_uri":"http://evil.example/device","expires_in":900}"#,
            #"{"device_code":"d","user_code":"u","verification_uri":"https://x.example","expires_in":0}"#,
            #"{"device_code":"","user_code":"u","verification_uri":"https://x.example","expires_in":900}"#,
            #"{"device_code":"d","user_code":"u","expires_in":900}"#,
            #"{"device_code":"d","user_code":"u","verification_uri":"https://x.example","expires_in":900,"interval":-1}"#,
        ] {
            let bad = FakeTransport(json(200, body))
            let error = await oauthError { () async throws(OAuthError) in try await client(try config(.google), .secret("s"), bad).startDeviceAuthorization(scopes: ["openid"]) }
            #expect(error?.kind == .invalidResponse, "\(body)")
        }
        // No device endpoint.
        let zoom = client(try config(.zoom), .secret("s"), t)
        #expect(await oauthError { () async throws(OAuthError) in try await zoom.startDeviceAuthorization(scopes: ["user:read"]) }?.kind == .configuration)
    }

    @Test("client credentials: Microsoft .default with a secret; Google and Zoom refuse")
    func clientCredentials() async throws {
        let t = FakeTransport(json(200, #"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"app"}"#))
        let m = try config(.microsoft, clientID: "conf", tenant: "sandbox-tenant")
        let tokens = try await client(m, .secret("ms-secret"), t).clientCredentials(scopes: [])
        #expect(tokens.scopes == [Scope.graphDefault])
        #expect(t.last?.form == ["grant_type": "client_credentials", "scope": Scope.graphDefault, "client_id": "conf", "client_secret": "ms-secret"])
        #expect(await oauthError { () async throws(OAuthError) in try await client(m, .none, t).clientCredentials(scopes: []) }?.kind == .configuration)
        #expect(await oauthError { () async throws(OAuthError) in try await client(try config(.google), .secret("s"), t).clientCredentials(scopes: []) }?.kind == .configuration)
        #expect(await oauthError { () async throws(OAuthError) in try await client(try config(.zoom), .secret("s"), t).clientCredentials(scopes: []) }?.kind == .configuration)
        #expect(await oauthError { () async throws(OAuthError) in try await client(try config(.google), .secret("s"), t).zoomAccountCredentials(accountID: "a") }?.kind == .configuration)
        #expect(await oauthError { () async throws(OAuthError) in try await client(try config(.microsoft, clientAuth: .privateKeyJWT), .secret("s"), t).clientCredentials(scopes: []) }?.kind == .configuration)
    }

    @Test("private_key_jwt: an RS256 client assertion for the token URL that verifies, with x5t from the thumbprint")
    func clientAssertion() async throws {
        let pem = TestKeys.first
        let publicPEM = try TestKeys.publicPEM(pem)
        let t = FakeTransport(json(200, #"{"token_type":"Bearer","expires_in":3599,"access_token":"app"}"#))
        let m = try config(.microsoft, clientID: "cert-app", tenant: "contoso.onmicrosoft.com")
        let thumbprint = "0123456789ABCDEF0123456789ABCDEF01234567"
        _ = try await client(m, .privateKey(pem: pem, keyID: thumbprint), t).clientCredentials(scopes: [Scope.graphDefault])
        let form = try #require(t.last?.form)
        #expect(form["client_id"] == "cert-app")
        #expect(form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        #expect(form["client_secret"] == nil)
        let jwt = try decodeJWT(form["client_assertion"], publicPEM)
        #expect(jwt.verified)
        #expect(jwt.header["alg"]?.string == "RS256")
        #expect(jwt.header["typ"]?.string == "JWT")
        #expect(jwt.header["x5t"]?.string == Base64URL.encode([0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67]))
        let now = Int(fixedNow.timeIntervalSince1970)
        #expect(jwt.claims["iss"]?.string == "cert-app")
        #expect(jwt.claims["sub"]?.string == "cert-app")
        #expect(jwt.claims["aud"]?.string == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
        #expect(jwt.claims["iat"]?.int == now && jwt.claims["nbf"]?.int == now && jwt.claims["exp"]?.int == now + 300)
        let jti = try #require(jwt.claims["jti"]?.string)
        #expect(jti.count >= 22)
        // Each assertion has a fresh jti; a wrong public key does not verify it.
        _ = try? await client(m, .privateKey(pem: pem, keyID: nil), t).clientCredentials(scopes: [])
        let second = try decodeJWT(t.last?.form["client_assertion"], publicPEM)
        #expect(second.claims["jti"]?.string != jti)
        #expect(second.header["x5t"] == nil && second.header["kid"] == nil)
        let other = try decodeJWT(form["client_assertion"], try TestKeys.publicPEM(TestKeys.second))
        #expect(!other.verified)
        // SHA-256 thumbprint → x5t#S256; generic apps get kid.
        _ = try? await client(m, .privateKey(pem: pem, keyID: String(repeating: "ab", count: 32)), t).clientCredentials(scopes: [])
        let s256 = try decodeJWT(t.last?.form["client_assertion"], publicPEM)
        #expect(s256.header["x5t#S256"]?.string == Base64URL.encode([UInt8](repeating: 0xAB, count: 32)))
        let generic = try config(.generic, clientID: "g", endpoints: ["authorization": "https://idp.example/a", "token": "https://idp.example/t"])
        _ = try? await client(generic, .privateKey(pem: pem, keyID: "key-1"), t).clientCredentials(scopes: ["api"])
        let kid = try decodeJWT(t.last?.form["client_assertion"], publicPEM)
        #expect(kid.header["kid"]?.string == "key-1" && kid.claims["aud"]?.string == "https://idp.example/t")
        // A bad key is a configuration error that names no key material.
        let bad = await oauthError { () async throws(OAuthError) in try await client(m, .privateKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", keyID: nil), t).clientCredentials(scopes: []) }
        #expect(bad?.kind == .configuration && bad?.message.contains("AAAA") == false)
        #expect(await oauthError { () async throws(OAuthError) in try await client(try config(.zoom), .privateKey(pem: pem, keyID: nil), t).zoomAccountCredentials(accountID: "a") }?.kind == .configuration)
    }

    @Test("Google service account: RS256 assertion with iss, scope, aud, iat, exp = iat + 3600, optional sub")
    func jwtBearer() async throws {
        let pem = TestKeys.first
        let publicPEM = try TestKeys.publicPEM(pem)
        let t = FakeTransport(json(200, #"{"access_token":"ya29.sa","expires_in":3599,"token_type":"Bearer"}"#), json(200, #"{"access_token":"ya29.sa","expires_in":3599,"token_type":"Bearer"}"#))
        let g = try config(.google)
        let c = client(g, .none, t)
        let tokens = try await c.jwtBearer(serviceAccountEmail: "robot@p.iam.gserviceaccount.com", privateKeyPEM: pem, keyID: "k1", scopes: [Scope.calendarRead, Scope.gmailRead], subject: "alice@sandbox.test")
        #expect(tokens.scopes == [Scope.calendarRead, Scope.gmailRead])
        let r = try #require(t.last)
        #expect(r.formNames == ["grant_type", "assertion"])
        #expect(r.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer")
        #expect(r.header("Authorization") == nil)
        let jwt = try decodeJWT(r.form["assertion"], publicPEM)
        #expect(jwt.verified)
        #expect(jwt.header["alg"]?.string == "RS256" && jwt.header["kid"]?.string == "k1")
        let now = Int(fixedNow.timeIntervalSince1970)
        #expect(jwt.claims["iss"]?.string == "robot@p.iam.gserviceaccount.com")
        #expect(jwt.claims["scope"]?.string == "\(Scope.calendarRead) \(Scope.gmailRead)")
        #expect(jwt.claims["aud"]?.string == "https://oauth2.googleapis.com/token")
        #expect(jwt.claims["iat"]?.int == now && jwt.claims["exp"]?.int == now + 3600)
        #expect(jwt.claims["sub"]?.string == "alice@sandbox.test")
        _ = try await c.jwtBearer(serviceAccountEmail: "robot@p.iam.gserviceaccount.com", privateKeyPEM: pem, keyID: nil, scopes: [Scope.calendarRead], subject: nil)
        let plain = try decodeJWT(t.last?.form["assertion"], publicPEM)
        #expect(plain.claims["sub"] == nil && plain.header["kid"] == nil)
        #expect(await oauthError { () async throws(OAuthError) in try await c.jwtBearer(serviceAccountEmail: "r@x", privateKeyPEM: pem, keyID: nil, scopes: [], subject: nil) }?.kind == .invalidScope)
        #expect(await oauthError { () async throws(OAuthError) in try await client(try config(.microsoft), .none, t).jwtBearer(serviceAccountEmail: "r@x", privateKeyPEM: pem, keyID: nil, scopes: ["a"], subject: nil) }?.kind == .configuration)
    }

    @Test("revoke: Google posts the token alone; Zoom authenticates; Microsoft has no endpoint")
    func revoke() async throws {
        let t = FakeTransport(json(200, "{}"), json(400, #"{"error":"invalid_token","error_description":"Token expired or revoked"}"#), json(200, #"{"status":"success"}"#))
        let g = client(try config(.google), .secret("GOCSPX-s"), t)
        try await g.revoke(token: "1//0g-rt")
        #expect(t.last?.url == "https://oauth2.googleapis.com/revoke")
        #expect(t.last?.form == ["token": "1//0g-rt"])
        #expect(t.last?.header("Content-Type") == "application/x-www-form-urlencoded")
        expectNoSecretInURL(t.last, ["1//0g-rt", "GOCSPX-s"])
        let again = await oauthError { () async throws(OAuthError) in try await g.revoke(token: "1//0g-rt") }
        #expect(again?.kind == .invalidGrant)
        let z = client(try config(.zoom, clientID: "zc"), .secret("zs"), t)
        try await z.revoke(token: "zr")
        #expect(t.last?.url == "https://zoom.us/oauth/revoke")
        #expect(t.last?.form == ["token": "zr"])
        #expect(t.last?.header("Authorization") == "Basic " + Data("zc:zs".utf8).base64EncodedString())
        #expect(await oauthError { () async throws(OAuthError) in try await client(try config(.microsoft), .none, t).revoke(token: "x") }?.kind == .configuration)
    }

    @Test("transport failures: network kinds are retryable; bad URLs are configuration; nothing secret in messages")
    func transport() async throws {
        let t = FakeTransport([
            .failure(HTTPTransportError(.connect, "could not connect to oauth2.googleapis.com")),
            .failure(HTTPTransportError(.timeout, "oauth2.googleapis.com timed out")),
            .failure(HTTPTransportError(.insecureURL, "plain http to a remote host")),
            .failure(HTTPTransportError(.responseTooLarge, "response over 1048576 bytes")),
            .success(json(400, #"{"error":"invalid_grant","error_description":"bad token 1//0g-very-secret-rt or 1%2F%2F0g-very-secret-rt for client GOCSPX-long-secret"}"#)),
        ])
        let c = client(try config(.google), .secret("GOCSPX-long-secret"), t)
        let kinds: [OAuthError.Kind] = [.network, .network, .configuration, .invalidResponse, .invalidGrant]
        for kind in kinds {
            let error = await oauthError { () async throws(OAuthError) in try await c.refresh(refreshToken: "1//0g-very-secret-rt", scopes: [], grantScopes: []) }
            #expect(error?.kind == kind)
            #expect(error?.isRetryable == (kind == .network))
            let message = error?.message ?? ""
            #expect(message.hasPrefix("token refresh at oauth2.googleapis.com: "), "\(message)")
            #expect(!message.contains("very-secret") && !message.contains("GOCSPX-long"), "\(message)")
        }
    }
}
