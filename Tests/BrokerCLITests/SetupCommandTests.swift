import BrokerCLI
import BrokerTesting
import Foundation
import Testing

/// The real binary with no daemon anywhere: argument checks must fail before one is needed.
func credbrokerWithoutDaemon(_ arguments: [String], stdin: String? = nil) throws -> ProcessResult {
    try credbroker(arguments + ["--socket", "/nonexistent/credbroker-test.sock"], stdin: stdin)
}

/// `setup` and `providers` without a terminal, as scripts run them: usage errors exit 64
/// and name the flag, before any daemon is asked.
@Suite("setup and providers: arguments")
struct SetupArgumentTests {
    @Test("setup without --client-id and without a terminal names the flag")
    func setupNeedsClientID() throws {
        let r = try credbrokerWithoutDaemon(["setup", "google", "--client-secret-file", "-"], stdin: "s\n")
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("missing --client-id"))
    }

    @Test("setup without a secret source and without a terminal names --client-secret-file; a public client may say none")
    func setupNeedsSecret() throws {
        let google = try credbrokerWithoutDaemon(["setup", "google", "--client-id", "cid"])
        #expect(google.status == 64 && google.stderr.contains("--client-secret-file"), "\(google.stderr)")
        #expect(!google.stderr.contains("--client-auth none"))
        let microsoft = try credbrokerWithoutDaemon(["setup", "microsoft", "--client-id", "cid"])
        #expect(microsoft.status == 64 && microsoft.stderr.contains("--client-auth none"))
        // With --client-auth none the arguments are complete: the failure is the missing daemon.
        let public_ = try credbrokerWithoutDaemon(["setup", "microsoft", "--client-id", "cid", "--client-auth", "none"])
        #expect(public_.status == 1 && public_.stderr.contains("cannot reach credbrokerd"), "\(public_.stderr)")
    }

    @Test("there is no --client-secret flag: secrets never come from argv")
    func noSecretInArgv() throws {
        let r = try credbrokerWithoutDaemon(["setup", "google", "--client-id", "cid", "--client-secret", "hunter2"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--client-secret"))
    }

    @Test("flags that belong to other provider types or to each other are refused")
    func flagCombinations() throws {
        let cases: [([String], String)] = [
            (["setup", "google", "--tenant", "contoso.com", "--client-id", "c", "--client-auth", "none"], "--tenant applies to microsoft"),
            (["setup", "microsoft", "--service-account-file", "k.json"], "--service-account-file applies to google"),
            (["setup", "google", "--app-only", "--client-id", "c"], "--app-only applies to microsoft"),
            (["setup", "google", "--account-id", "acc", "--client-id", "c"], "--account-id applies to zoom"),
            (["setup", "google", "--rotating-refresh-tokens"], "--rotating-refresh-tokens applies to generic"),
            (["setup", "generic", "--sandbox", "http://127.0.0.1:1"], "--sandbox applies to google, microsoft and zoom"),
            (["setup", "google", "--subject", "a@b.c"], "--subject needs --service-account-file"),
            (["setup", "microsoft", "--key-id", "abc"], "--key-id needs --private-key-file"),
            (["setup", "google", "--service-account-file", "k.json", "--client-id", "c"], "does not go with --service-account-file"),
            (["setup", "microsoft", "--client-auth", "magic"], "--client-auth must be one of"),
            (["setup", "microsoft", "--client-auth", "private_key_jwt", "--client-id", "c"], "needs --private-key-file"),
            (["setup", "microsoft", "--app-only", "--client-id", "c", "--client-secret-file", "f"], "--app-only needs your tenant"),
            (["setup", "microsoft", "--app-only", "--tenant", "common", "--client-id", "c", "--client-secret-file", "f"], "--app-only needs your tenant"),
            (["setup", "google", "--sandbox", "http://example.com:8080", "--client-id", "c"], "loopback"),
            (["setup", "google", "--sandbox", "http://127.0.0.1:1/google", "--client-id", "c"], "base URL alone"),
            (["setup", "google", "--token-url", "http://example.com/token"], "--token-url \"http://example.com/token\" must be an https:// URL"),
            (["setup", "google", "--api", "calendar"], "must be NAME=URL"),
            (["setup", "generic", "--client-id", "c", "--client-auth", "none", "--token-url", "https://p.example/token"], "a generic app needs"),
            (["setup", "google", "--name", "../etc", "--client-id", "c"], "app name \"../etc\""),
            (["setup", "github"], "github"),
            (["setup", "google", "--service-account-file", "k.json"], "--scope"),
        ]
        for (arguments, expected) in cases {
            let r = try credbrokerWithoutDaemon(arguments)
            #expect(r.status == 64, "\(arguments): exit \(r.status): \(r.stderr)")
            #expect(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
        }
    }

    @Test("providers lists every type and its presets without a daemon")
    func providersWithoutDaemon() throws {
        let r = try credbrokerWithoutDaemon(["providers"])
        #expect(r.status == 0, "\(r.stderr)")
        for type in ["google", "microsoft", "zoom", "generic"] { #expect(r.stdout.contains(type)) }
        #expect(r.stdout.contains("calendar.readonly") && r.stdout.contains("Calendars.ReadWrite") && r.stdout.contains("meeting:write"))
        #expect(r.stdout.contains("configured apps: unknown"))
        let json = try credbrokerWithoutDaemon(["providers", "--json"])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let providers = try #require(object["providers"] as? [[String: Any]])
        #expect(providers.compactMap { $0["type"] as? String } == ["google", "microsoft", "zoom", "generic"])
        let presets = try #require(providers[0]["scope_presets"] as? [[String: Any]])
        #expect(presets.first?["scope"] as? String == "https://www.googleapis.com/auth/calendar")
        #expect(object["configured"] == nil)
    }

    @Test("the scope menu takes numbers and names, expands aliases, refuses unknown numbers")
    func scopeMenu() throws {
        let presets = ProviderType.google.scopePresets
        #expect(try ScopeMenu.choose("2 3", presets: presets) == [
            "https://www.googleapis.com/auth/calendar.readonly", "https://www.googleapis.com/auth/gmail.readonly"])
        #expect(try ScopeMenu.choose("1, gmail.send,openid", presets: presets) == [
            "https://www.googleapis.com/auth/calendar", "https://www.googleapis.com/auth/gmail.send", "openid"])
        #expect(try ScopeMenu.choose("", presets: presets) == [])
        #expect(throws: CLIError.self) { try ScopeMenu.choose("7", presets: presets) }
        #expect(try ScopeMenu.choose("3", presets: ProviderType.zoom.scopePresets) == ["meeting:write"])
        #expect(try ScopeMenu.choose("7", presets: ProviderType.microsoft.scopePresets) == ["https://graph.microsoft.com/User.Read"])
    }
}

/// `setup` and `providers` against a fake daemon (Tests/python/fake_daemon.py): what they
/// send, what they print, and that no secret reaches the output.
@Suite("setup and providers against a fake daemon", .serialized)
struct SetupCommandTests {
    @Test("setup google: creates the profile, stores the app with the sandbox's endpoints; the secret is sent but never printed")
    func setupGoogle() throws {
        let d = try FakeDaemon()
        let r = try d.cli(["setup", "google", "--profile", "dev", "--client-id", "cid.apps.googleusercontent.com", "--client-secret-file", "-",
                           "--scope", "calendar.readonly,gmail.send", "--sandbox", "http://127.0.0.1:4567"], stdin: "GOCSPX-secret-canary\n")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(d.requests("/v1/admin/profiles/dev").first?["method"] as? String == "PUT")
        let put = try #require(d.requests("/v1/admin/profiles/dev/apps/google").first?["body"] as? [String: Any])
        #expect(put["type"] as? String == "google" && put["client_id"] as? String == "cid.apps.googleusercontent.com")
        #expect(put["client_secret"] as? String == "GOCSPX-secret-canary")
        #expect(put["scopes"] as? [String] == ["https://www.googleapis.com/auth/calendar.readonly", "https://www.googleapis.com/auth/gmail.send"])
        let endpoints = try #require(put["endpoints"] as? [String: String])
        #expect(endpoints["token"] == "http://127.0.0.1:4567/google/token" && endpoints.count == 8)
        #expect(!r.stderr.contains("canary") && !r.stdout.contains("canary"))
        #expect(r.stderr.contains("created profile \"dev\""))
        #expect(r.stderr.contains("stored provider app \"google\" (google) in profile \"dev\""))
        #expect(r.stderr.contains("next: credbroker login google --profile dev"))

        // The same again: the app exists, so it is not replaced without --force.
        let again = try d.cli(["setup", "google", "--profile", "dev", "--client-id", "other", "--client-secret-file", "-"], stdin: "x\n")
        #expect(again.status == 1 && again.stderr.contains("already exists") && again.stderr.contains("--force"), "\(again.stderr)")
        #expect(d.requests("/v1/admin/profiles/dev/apps/google").count == 1)
        let forced = try d.cli(["setup", "google", "--profile", "dev", "--client-id", "other", "--client-secret-file", "-", "--force"], stdin: "x\n")
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(d.requests("/v1/admin/profiles/dev/apps/google").count == 2)
        #expect(d.requests("/v1/admin/profiles/dev").count == 1, "the profile exists now: not created twice")
    }

    @Test("setup with a generic app, endpoint overrides, a private key and the profile from CREDBROKER_PROFILE")
    func setupGenericAndMicrosoft() throws {
        let d = try FakeDaemon(scenario: ["profiles": ["staging"]])
        let dir = try TemporaryDirectory()
        let key = try dir.write("key.pem", "-----BEGIN PRIVATE KEY-----\nPEM-KEY-CANARY\n-----END PRIVATE KEY-----\n")
        let ms = try d.cli(["setup", "microsoft", "--name", "outlook", "--tenant", "contoso.onmicrosoft.com", "--client-id", "00000000-aaaa",
                            "--private-key-file", key, "--key-id", "THUMBPRINT", "--app-only", "--authority", "https://login.microsoftonline.us"],
                           environment: ["CREDBROKER_PROFILE": "staging"])
        #expect(ms.status == 0, "\(ms.stderr)")
        #expect(d.requests("/v1/admin/profiles/staging").isEmpty, "an existing profile is not created again")
        let app = try #require(d.requests("/v1/admin/profiles/staging/apps/outlook").first?["body"] as? [String: Any])
        #expect(app["client_auth"] as? String == "private_key_jwt" && app["key_id"] as? String == "THUMBPRINT")
        #expect((app["private_key"] as? String)?.contains("PEM-KEY-CANARY") == true && app["client_secret"] == nil)
        #expect(app["tenant"] as? String == "contoso.onmicrosoft.com")
        #expect((app["endpoints"] as? [String: String])?["authority"] == "https://login.microsoftonline.us")
        let grant = try #require(d.requests("/v1/admin/profiles/staging/grants/outlook/app").first?["body"] as? [String: Any])
        #expect(grant["flow"] as? String == "client_credentials" && grant["scopes"] as? [String] == ["https://graph.microsoft.com/.default"])
        #expect(ms.stderr.contains("next: credbroker token outlook --profile staging --scope graph.default"))
        #expect(!ms.stderr.contains("CANARY"))

        let generic = try d.cli(["setup", "generic", "--name", "github", "--profile", "staging", "--client-id", "Iv1.abc", "--client-secret-file", "-",
                                 "--authorization-url", "https://github.com/login/oauth/authorize", "--token-url", "https://github.com/login/oauth/access_token",
                                 "--api", "rest=https://api.github.com", "--client-auth", "client_secret_post", "--rotating-refresh-tokens",
                                 "--redirect-uri", "http://localhost:8080/oauth/callback", "--scope", "repo"], stdin: "gh-secret\n")
        #expect(generic.status == 0, "\(generic.stderr)")
        let body = try #require(d.requests("/v1/admin/profiles/staging/apps/github").first?["body"] as? [String: Any])
        #expect(body["rotates_refresh_tokens"] as? Bool == true && body["client_auth"] as? String == "client_secret_post")
        #expect(body["redirect_uri"] as? String == "http://localhost:8080/oauth/callback" && body["scopes"] as? [String] == ["repo"])
        #expect(body["endpoints"] as? [String: String] == [
            "authorization": "https://github.com/login/oauth/authorize", "token": "https://github.com/login/oauth/access_token",
            "api.rest": "https://api.github.com"])
    }

    @Test("setup with a service-account key and a Zoom server-to-server app stores app-only grants")
    func setupAppOnlyGrants() throws {
        let d = try FakeDaemon()
        let sa = try d.cli(["setup", "google", "--name", "google-sa", "--profile", "dev", "--service-account-file", "-", "--scope", "calendar.readonly",
                            "--subject", "boss@example.com"], stdin: try serviceAccountJSON())
        #expect(sa.status == 0, "\(sa.stderr)")
        let app = try #require(d.requests("/v1/admin/profiles/dev/apps/google-sa").first?["body"] as? [String: Any])
        #expect(app["client_id"] as? String == "109876543210" && app["client_secret"] == nil)
        let grant = try #require(d.requests("/v1/admin/profiles/dev/grants/google-sa/boss%40example.com").first?["body"] as? [String: Any])
        #expect(grant["flow"] as? String == "jwt_bearer" && grant["subject"] as? String == "boss@example.com")
        let key = try #require(grant["service_account"] as? [String: Any])
        #expect(key["client_email"] as? String == "agent@demo-project.iam.gserviceaccount.com" && key["private_key"] as? String == privateKeyCanary)
        #expect(key["private_key_id"] as? String == "0123abcd" && key["token_uri"] as? String == "https://oauth2.googleapis.com/token")
        #expect(!sa.stderr.contains("CANARY") && sa.stderr.contains("agent@demo-project.iam.gserviceaccount.com"))

        let zoom = try d.cli(["setup", "zoom", "--profile", "dev", "--client-id", "s2s", "--client-secret-file", "-", "--account-id", "acc-123",
                              "--scope", "user:read:admin"], stdin: "zoom-secret\n")
        #expect(zoom.status == 0, "\(zoom.stderr)")
        let zgrant = try #require(d.requests("/v1/admin/profiles/dev/grants/zoom/acc-123").first?["body"] as? [String: Any])
        #expect(zgrant["flow"] as? String == "account_credentials" && zgrant["account_id"] as? String == "acc-123")
        #expect(zgrant["scopes"] as? [String] == ["user:read:admin"])
    }

    @Test("setup on a terminal: asks for tenant, client id, secret (not echoed) and scopes from the menu")
    func interactiveSetup() throws {
        let d = try FakeDaemon()
        let r = try d.tty([
            ("Tenant (directory id or domain; Enter for common): ", "contoso.onmicrosoft.com"),
            ("Client ID: ", "00000000-1111"),
            ("Client secret (not shown; Enter for a public client): ", "typed-secret-canary"),
            ("Scopes to ask for at login", "2 3,User.Read"),
        ], ["setup", "microsoft", "--profile", "dev"])
        #expect(r.stdout.contains("EXIT 0"), "\(r.stdout)")
        #expect(r.stdout.contains("1) Calendars.ReadWrite") && r.stdout.contains("7) User.Read"))
        #expect(!r.stdout.contains("typed-secret-canary"), "the secret was echoed")
        let app = try #require(d.requests("/v1/admin/profiles/dev/apps/microsoft").first?["body"] as? [String: Any])
        #expect(app["tenant"] as? String == "contoso.onmicrosoft.com" && app["client_id"] as? String == "00000000-1111")
        #expect(app["client_secret"] as? String == "typed-secret-canary" && app["client_auth"] == nil)
        #expect(app["scopes"] as? [String] == ["https://graph.microsoft.com/Calendars.Read", "https://graph.microsoft.com/Mail.Read",
                                               "https://graph.microsoft.com/User.Read"])

        // An empty secret makes a public client.
        let pub = try d.tty([("Tenant", ""), ("Client ID: ", "public-id"), ("Client secret", ""), ("Scopes", "")],
                            ["setup", "microsoft", "--name", "ms-public", "--profile", "dev"])
        #expect(pub.stdout.contains("EXIT 0"), "\(pub.stdout)")
        let pubApp = try #require(d.requests("/v1/admin/profiles/dev/apps/ms-public").first?["body"] as? [String: Any])
        #expect(pubApp["client_auth"] as? String == "none" && pubApp["client_secret"] == nil && pubApp["tenant"] as? String == "common")
        #expect(pubApp["scopes"] == nil && pub.stdout.contains("none (name them at login with --scope)"))
    }

    @Test("providers shows the configured apps per profile")
    func providersConfigured() throws {
        let d = try FakeDaemon(scenario: ["profiles": ["dev"], "apps": ["dev": [["google", "google"], ["outlook", "microsoft"]]]])
        let providers = try d.cli(["providers"])
        #expect(providers.status == 0)
        #expect(providers.stdout.contains("profile dev: google, outlook (microsoft)"), "\(providers.stdout)")
        let json = try d.cli(["providers", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["configured"] as? [[String: String]])?.map { $0["name"] ?? "" } == ["google", "outlook"])
    }
}
