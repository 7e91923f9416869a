import BrokerHTTP
import BrokerSystem
import BrokerTestBed
import BrokerTesting
import BrokerWire
import Foundation
import Testing

/// `credbroker import` end to end: token files written by the tests (with tokens the sandbox
/// really issued), imported through the real CLI and daemon, verified against the sandbox,
/// and the originals overwritten and removed (docs/migrating.md).
@Suite(.serialized, .enabled(if: Tools.have("setsid")))
struct ImportTests {
    static let calendarRead = "https://www.googleapis.com/auth/calendar.readonly"

    // MARK: - Tokens the sandbox issued

    /// Consents at the sandbox as `user` and exchanges the code (no daemon involved): the
    /// tokens a quickstart would have saved.
    static func googleTokens(_ bed: OAuthBed, user: String, scopes: [String]) async throws -> (refresh: String, access: String) {
        let verifier = String(repeating: "v", count: 20) + UUID().uuidString
        let redirect = "http://127.0.0.1:5000/cb"
        var auth = URLComponents(string: bed.url + "/google/o/oauth2/v2/auth")!
        auth.queryItems = [
            URLQueryItem(name: "client_id", value: OAuthBed.desktopClient), URLQueryItem(name: "redirect_uri", value: redirect),
            URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "access_type", value: "offline"),
            URLQueryItem(name: "scope", value: scopes.joined(separator: " ")), URLQueryItem(name: "login_hint", value: user),
            URLQueryItem(name: "code_challenge", value: verifier), URLQueryItem(name: "code_challenge_method", value: "plain"),
        ]
        return try await exchange(bed, authorize: auth.url!.absoluteString, token: bed.url + "/google/token", redirect: redirect, verifier: verifier,
                                  form: ["client_id": OAuthBed.desktopClient, "client_secret": OAuthBed.desktopSecret])
    }

    static func microsoftTokens(_ bed: OAuthBed, user: String, scopes: [String]) async throws -> (refresh: String, access: String) {
        let verifier = String(repeating: "m", count: 20) + UUID().uuidString
        let redirect = "http://localhost:5000/cb"
        let base = bed.url + "/microsoft/sandbox-tenant/oauth2/v2.0/"
        var auth = URLComponents(string: base + "authorize")!
        auth.queryItems = [
            URLQueryItem(name: "client_id", value: OAuthBed.msPublic), URLQueryItem(name: "redirect_uri", value: redirect),
            URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "scope", value: (scopes + ["offline_access"]).joined(separator: " ")),
            URLQueryItem(name: "login_hint", value: user),
            URLQueryItem(name: "code_challenge", value: verifier), URLQueryItem(name: "code_challenge_method", value: "plain"),
        ]
        return try await exchange(bed, authorize: auth.url!.absoluteString, token: base + "token", redirect: redirect, verifier: verifier,
                                  form: ["client_id": OAuthBed.msPublic])
    }

    static func exchange(_ bed: OAuthBed, authorize: String, token: String, redirect: String, verifier: String, form: [String: String]) async throws -> (refresh: String, access: String) {
        let consent = try await bed.http.send(HTTPRequest(method: "GET", url: authorize))
        let location = try #require(consent.header("Location"), "no redirect: \(consent.status) \(consent.header("X-Sandbox-Error") ?? "")")
        let code = try #require(URLComponents(string: location)?.queryItems?.first { $0.name == "code" }?.value)
        var fields = form
        fields["grant_type"] = "authorization_code"
        fields["code"] = code
        fields["redirect_uri"] = redirect
        fields["code_verifier"] = verifier
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
        let r = try await bed.http.send(HTTPRequest(method: "POST", url: token, headers: [HTTPHeaderField("Content-Type", "application/x-www-form-urlencoded")],
                                                    body: Array(body.utf8)))
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any], "\(r.status)")
        return (try #require(answer["refresh_token"] as? String, "\(answer)"), try #require(answer["access_token"] as? String))
    }

    static func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Every file under the bed's directory, as bytes, with its path.
    static func everyFile(_ dir: TemporaryDirectory) -> [(String, Data)] {
        dir.allFiles().compactMap { path in FileManager.default.contents(atPath: path).map { (path, $0) } }
    }

    static func refreshes(_ bed: OAuthBed, of token: String) async throws -> Int {
        (try await bed.counters()["refreshes"] as? [String: Any])?[token] as? Int ?? 0
    }

    // MARK: - Tests

    @Test func authorizedUserFileIsImportedVerifiedAndShredded() async throws {
        try await OAuthBed.with { bed in
            let tokens = try await Self.googleTokens(bed, user: "alice@sandbox.test", scopes: [Self.calendarRead, "openid", "email"])
            let path = try bed.daemon.dir.write("application_default_credentials.json", Self.json([
                "type": "authorized_user", "client_id": OAuthBed.desktopClient, "client_secret": OAuthBed.desktopSecret,
                "refresh_token": tokens.refresh, "quota_project_id": "sandbox-project"]))
            // Where the file's bytes lie on disk, and a descriptor that still reaches them
            // after the name is gone.
            let extentsBefore = Self.extents(path)
            let held = unsafe open(path, O_RDONLY)
            #expect(held >= 0)
            defer { close(held) }

            let r = try bed.cli(["import", path, "--profile", "dev", "--sandbox", bed.url])
            #expect(r.stderr.contains("google-auth authorized_user JSON"), "\(r.stderr)")
            #expect(r.stderr.contains("account: asked of the provider") && r.stderr.contains("scopes: from the provider's answer"))
            #expect(r.stderr.contains("imported \"google\" (google) account \"alice@sandbox.test\""), "\(r.stderr)")
            #expect(r.stderr.contains("verified with one refresh") && r.stderr.contains("overwrote its"))
            // Verified by exactly one refresh of the imported token.
            #expect(try await Self.refreshes(bed, of: tokens.refresh) == 1)
            // The original: gone, and its bytes overwritten in place.
            #expect(!FileManager.default.fileExists(atPath: path))
            var after = [UInt8](repeating: 0xFF, count: 4096)
            let n = unsafe after.withUnsafeMutableBytes { unsafe pread(held, $0.baseAddress, $0.count, 0) }
            #expect(n > 100 && after.prefix(n).allSatisfy { $0 == 0 }, "the file's bytes were not overwritten")
            if let before = extentsBefore {
                // ext4 and xfs say where the blocks are: the same ones, so the old blocks hold zeros.
                #expect(Self.extents("/proc/\(getpid())/fd/\(held)") == before)
            }
            // The grant works: a token for the caller, an API call with it, no further refresh.
            let t = try bed.token("google", scopes: [Self.calendarRead])
            #expect(t.status == 200, "\(t.text)")
            #expect(try await bed.api("/google/calendar/v3/users/me/calendarList", token: try #require(bed.accessToken(t))) == 200)
            // The caller asked for fewer scopes than the grant holds: one narrowed refresh.
            #expect(try await Self.refreshes(bed, of: tokens.refresh) == 2)
            // The audit log has the import, never the secret.
            let audit = bed.daemon.auditText(containing: "application_default_credentials.json")
            #expect(audit.contains("/v1/admin/import") && audit.contains("application_default_credentials.json"))

            // The same token again, in another file: a duplicate, refused before the provider
            // is asked, and the file kept.
            let again = try bed.daemon.dir.write("copy.json", Self.json([
                "type": "authorized_user", "client_id": OAuthBed.desktopClient, "client_secret": OAuthBed.desktopSecret, "refresh_token": tokens.refresh]))
            let dup = try bed.cli(["import", again, "--profile", "dev", "--account", "alice-again@sandbox.test"], expect: 1)
            #expect(dup.stderr.contains("already in the vault"), "\(dup.stderr)")
            #expect(dup.stderr.contains("kept") && FileManager.default.fileExists(atPath: again))
            #expect(try await Self.refreshes(bed, of: tokens.refresh) == 2, "a duplicate is refused before the provider is asked")

            // Canaries: neither the refresh token nor the client secret is in any file of the
            // bed (vault, WAL, audit log, daemon log, policies), in the CLI's output, or in the
            // daemon's argv and environment; only the kept copy holds them.
            for canary in [tokens.refresh, OAuthBed.desktopSecret] {
                let needle = Data(canary.utf8)
                for (file, bytes) in Self.everyFile(bed.daemon.dir) where file != again {
                    #expect(bytes.range(of: needle) == nil, "\(file) holds a secret")
                }
                #expect(!r.stdout.contains(canary) && !r.stderr.contains(canary) && !dup.stderr.contains(canary))
                #expect(!bed.daemon.stderr.contains(canary))
                if let pid = bed.daemon.process?.pid {
                    for part in ["cmdline", "environ"] {
                        let data = FileManager.default.contents(atPath: "/proc/\(pid)/\(part)") ?? Data()
                        #expect(data.range(of: needle) == nil, "/proc/\(pid)/\(part) holds a secret")
                    }
                }
            }
        }
    }

    @Test func oauthlibTokenIntoANewProfileWithDryRunFirst() async throws {
        try await OAuthBed.with { bed in
            let tokens = try await Self.googleTokens(bed, user: "bob@sandbox.test", scopes: [Self.calendarRead, "openid", "email"])
            let path = try bed.daemon.dir.write("token.json", Self.json([
                "token": tokens.access, "refresh_token": tokens.refresh, "token_uri": "https://oauth2.googleapis.com/token",
                "client_id": OAuthBed.desktopClient, "client_secret": OAuthBed.desktopSecret, "scopes": [Self.calendarRead],
                "universe_domain": "googleapis.com", "account": "", "expiry": "2099-01-01T00:00:00.000000Z"]))
            // --dry-run: the plan and the daemon's checks, nothing written or removed.
            let dry = try bed.cli(["import", path, "--profile", "imported", "--dry-run", "--sandbox", bed.url])
            #expect(dry.stderr.contains("dry run: would import") && dry.stderr.contains("creating the profile and the provider app"), "\(dry.stderr)")
            #expect(FileManager.default.fileExists(atPath: path))
            let profiles = try bed.daemon.request("GET", "/v1/admin/profiles")
            #expect(!profiles.text.contains("imported"))
            #expect(try await Self.refreshes(bed, of: tokens.refresh) == 0)
            // The real import: the profile and the app are created with the grant.
            let r = try bed.cli(["import", path, "--profile", "imported", "--sandbox", bed.url])
            #expect(r.stderr.contains("google-auth-oauthlib token.json") && r.stderr.contains("scopes calendar.readonly"), "\(r.stderr)")
            #expect(r.stderr.contains("account \"bob@sandbox.test\"") && r.stderr.contains("creating the profile and the provider app"))
            #expect(!FileManager.default.fileExists(atPath: path))
            let status = try bed.daemon.request("GET", "/v1/admin/status")
            #expect(status.text.contains("\"imported\"") && status.text.contains("bob@sandbox.test"), "\(status.text)")
            #expect(try await Self.refreshes(bed, of: tokens.refresh) == 1)
        }
    }

    @Test func serviceAccountMSALCacheAndGcloudDatabase() async throws {
        try await OAuthBed.with { bed in
            // A service-account key (the sandbox knows its public key).
            let keyFile = bed.daemon.dir.file("robot.pem")
            #expect(try Subprocess.run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyFile]).status == 0)
            let pub = try Subprocess.run("openssl", ["pkey", "-in", keyFile, "-pubout"])
            let pem = try String(contentsOfFile: keyFile, encoding: .utf8)
            try FileManager.default.removeItem(atPath: keyFile)
            let email = "robot@sandbox-project.iam.gserviceaccount.com"
            try await bed.control("POST", "service-accounts", Self.json(["email": email, "public_key_pem": pub.stdout, "key_id": "k1"]))
            let sa = try bed.daemon.dir.write("robot-key.json", Self.json([
                "type": "service_account", "project_id": "sandbox-project", "private_key_id": "k1", "private_key": pem, "client_email": email,
                "client_id": "1234567890", "token_uri": "https://oauth2.googleapis.com/token"]))
            let noScope = try bed.cli(["import", sa, "--profile", "dev", "--sandbox", bed.url], expect: 1)
            #expect(noScope.stderr.contains("scopes asked for"), "\(noScope.stderr)")
            #expect(FileManager.default.fileExists(atPath: sa))
            let r1 = try bed.cli(["import", sa, "--profile", "dev", "--sandbox", bed.url, "--scope", "calendar.readonly"])
            #expect(r1.stderr.contains("app \"google-robot\"") && r1.stderr.contains("verified with one token request"), "\(r1.stderr)")
            #expect(!FileManager.default.fileExists(atPath: sa))
            #expect(try bed.token("google-robot", scopes: [Self.calendarRead]).status == 200)

            // An MSAL cache with two accounts; Microsoft rotates refresh tokens at each refresh.
            let graphRead = ["Calendars.Read", "Mail.Read"]
            let alice = try await Self.microsoftTokens(bed, user: "alice@sandbox.test", scopes: graphRead + ["openid", "profile"])
            let bob = try await Self.microsoftTokens(bed, user: "bob@sandbox.test", scopes: ["Calendars.Read"])
            func entry(_ home: String, _ user: String) -> [String: Any] {
                ["home_account_id": home, "environment": "login.microsoftonline.com", "realm": "sandbox-tenant", "username": user, "authority_type": "MSSTS"]
            }
            let cache: [String: Any] = [
                "Account": ["ha-login.microsoftonline.com-sandbox-tenant": entry("ha", "alice@sandbox.test"),
                            "hb-login.microsoftonline.com-sandbox-tenant": entry("hb", "bob@sandbox.test")],
                "RefreshToken": [
                    "ha-rt": ["credential_type": "RefreshToken", "secret": alice.refresh, "home_account_id": "ha", "environment": "login.microsoftonline.com", "client_id": OAuthBed.msPublic],
                    "hb-rt": ["credential_type": "RefreshToken", "secret": bob.refresh, "home_account_id": "hb", "environment": "login.microsoftonline.com", "client_id": OAuthBed.msPublic]],
                "AccessToken": [
                    "ha-at": ["credential_type": "AccessToken", "secret": alice.access, "home_account_id": "ha", "client_id": OAuthBed.msPublic, "target": "Calendars.Read Mail.Read openid profile"],
                    "hb-at": ["credential_type": "AccessToken", "secret": bob.access, "home_account_id": "hb", "client_id": OAuthBed.msPublic, "target": "Calendars.Read"]],
                "IdToken": [:], "AppMetadata": [:],
            ]
            let msal = try bed.daemon.dir.write("msal_token_cache.json", Self.json(cache))
            let r2 = try bed.cli(["import", msal, "--profile", "dev", "--sandbox", bed.url])
            #expect(r2.stderr.contains("MSAL token cache") && r2.stderr.contains("credential 2 of 2"), "\(r2.stderr)")
            #expect(r2.stderr.contains("the provider rotated the refresh token and the new one is stored"))
            #expect(!FileManager.default.fileExists(atPath: msal))
            #expect(try bed.token("microsoft", scopes: ["https://graph.microsoft.com/Calendars.Read"], account: "alice@sandbox.test").status == 200)
            #expect(try bed.token("microsoft", scopes: ["https://graph.microsoft.com/Calendars.Read"], account: "bob@sandbox.test").status == 200)

            // gcloud's credentials.db: read through the SQLite layer, from its bytes.
            let carol = try await Self.googleTokens(bed, user: "alice@sandbox.test", scopes: [Self.calendarRead, "openid", "email"])
            let db = bed.daemon.dir.file("credentials.db")
            let script = """
                import sqlite3, json, sys
                c = sqlite3.connect(sys.argv[1])
                c.execute('CREATE TABLE IF NOT EXISTS "credentials" (account_id TEXT PRIMARY KEY, value BLOB)')
                c.execute('INSERT INTO credentials VALUES (?, ?)', ('alice@sandbox.test', json.dumps({"type": "authorized_user",
                    "client_id": sys.argv[2], "client_secret": sys.argv[3], "refresh_token": sys.argv[4]})))
                c.commit()
                """
            let made = try Subprocess.run("python3", ["-c", script, db, OAuthBed.desktopClient, OAuthBed.desktopSecret, carol.refresh])
            try #require(made.status == 0, "\(made.stderr)")
            let r3 = try bed.cli(["import", db, "--profile", "dev", "--sandbox", bed.url])
            #expect(r3.stderr.contains("gcloud credentials.db") && r3.stderr.contains("app \"gcloud\""), "\(r3.stderr)")
            #expect(!FileManager.default.fileExists(atPath: db))
            #expect(try bed.token("gcloud", scopes: [Self.calendarRead]).status == 200)
        }
    }

    @Test func refusalsChangeNothing() async throws {
        try await OAuthBed.with { bed in
            let dir = bed.daemon.dir
            func refused(_ path: String, _ expected: String, _ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws {
                let r = try bed.cli(["import", path, "--profile", "dev", "--sandbox", bed.url] + extra, expect: 1, sourceLocation: sourceLocation)
                #expect(r.stderr.contains(expected), "\(r.stderr)", sourceLocation: sourceLocation)
                #expect(r.stderr.contains(path), "the error names the file", sourceLocation: sourceLocation)
                #expect(FileManager.default.fileExists(atPath: path) || path.hasSuffix("missing.json"), "the file was kept", sourceLocation: sourceLocation)
            }
            try refused(try dir.write("truncated.json", "{\"type\": \"authorized_user\", \"client_id\": \"c\", \"refr"), "not valid JSON")
            try refused(try dir.write("types.json", "{\"type\": \"authorized_user\", \"client_id\": \"c\", \"client_secret\": [1], \"refresh_token\": \"r\"}"),
                        "\"client_secret\" is not a string")
            let huge = dir.file("huge.json")
            #expect(FileManager.default.createFile(atPath: huge, contents: Data(repeating: 0x20, count: 5 * 1024 * 1024)))
            try refused(huge, "bytes; a token file is at most")
            let target = try dir.write("target.json", Self.json(["type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"]))
            let symlink = dir.file("link.json")
            try FileManager.default.createSymbolicLink(atPath: symlink, withDestinationPath: target)
            try refused(symlink, "symbolic link")
            #expect(FileManager.default.fileExists(atPath: target))
            if getuid() == 0 {
                let others = try dir.write("others.json", Self.json(["type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"]))
                #expect(unsafe chown(others, 65534, 65534) == 0)
                try refused(others, "belongs to uid 65534")
            }
            let generic = try dir.write("generic.json", Self.json(["access_token": "a", "refresh_token": "r", "client_id": "c"]))
            try refused(generic, "does not say whose tokens")
            // A revoked refresh token fails verification: nothing stored, file kept.
            let tokens = try await Self.googleTokens(bed, user: "alice@sandbox.test", scopes: [Self.calendarRead])
            try await bed.control("POST", "revoke", Self.json(["refresh_token": tokens.refresh]))
            let revoked = try dir.write("revoked.json", Self.json([
                "type": "authorized_user", "client_id": OAuthBed.desktopClient, "client_secret": OAuthBed.desktopSecret, "refresh_token": tokens.refresh]))
            try refused(revoked, "the provider refused the refresh token")
            // A file whose client secret differs from the existing app's: never replaced.
            try bed.setupGoogleDesktop()
            let fresh = try await Self.googleTokens(bed, user: "alice@sandbox.test", scopes: [Self.calendarRead])
            let otherSecret = try dir.write("other-secret.json", Self.json([
                "type": "authorized_user", "client_id": OAuthBed.desktopClient, "client_secret": "GOCSPX-not-the-same", "refresh_token": fresh.refresh]))
            try refused(otherSecret, "has another client secret than the file's")
            // Hard links: removing one name would leave the bytes under the other.
            let linked = try dir.write("linked.json", Self.json([
                "type": "authorized_user", "client_id": OAuthBed.desktopClient, "client_secret": OAuthBed.desktopSecret, "refresh_token": fresh.refresh]))
            #expect(unsafe link(linked, dir.file("linked-too.json")) == 0)
            try refused(linked, "hard links")
            // No account named and the grant cannot say who it is (no email scope).
            let anonymous = try dir.write("anonymous.json", Self.json([
                "type": "authorized_user", "client_id": OAuthBed.desktopClient, "client_secret": OAuthBed.desktopSecret, "refresh_token": fresh.refresh]))
            try refused(anonymous, "--account")
            // Nothing of all that reached the vault: the same apps and grants as after setup.
            let status = try JSONDecoder().decode(AdminStatusResponse.self, from: Data(try bed.daemon.request("GET", "/v1/admin/status").body))
            #expect(status.profiles.map(\.name) == ["dev"])
            #expect(status.profiles.first?.apps.map(\.name) == ["google"], "only the app of setup")
            #expect(status.profiles.first?.grants.isEmpty == true, "no grant was stored")
            // And --account fixes the last one.
            let ok = try bed.cli(["import", anonymous, "--profile", "dev", "--account", "alice@sandbox.test"])
            #expect(ok.stderr.contains("imported \"google\""), "\(ok.stderr)")
        }
    }

    /// The physical extents of a file (`filefrag -v`), or nil where the filesystem cannot say.
    static func extents(_ path: String) -> [String]? {
        guard let r = try? Subprocess.run("filefrag", ["-s", "-v", path]), r.status == 0 else { return nil }
        // Rows: "   0:        0..       0:    1234..      1234:      1:             last,eof"
        var physical: [String] = []
        for line in r.stdout.split(separator: "\n").map(String.init) {
            let fields = line.split(separator: ":").map { String($0).trimmingCharacters(in: .whitespaces) }
            guard fields.count > 2, let first = fields[0].first, first.isNumber, fields[2].contains("..") else { continue }
            physical.append(fields[2])
        }
        return physical.isEmpty ? nil : physical
    }
}
