import BrokerCLI
import BrokerSystem
import BrokerTesting
import BrokerVault
import BrokerWire
import Foundation
import Testing

/// `credbroker import`'s recognisers (ImportParser) and its careful file handling
/// (ForeignFile), without a daemon. The end-to-end imports are in BrokerDaemonTests.
struct ImportFormatsTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    static func json(_ object: [String: Any]) -> [UInt8] {
        Array(try! JSONSerialization.data(withJSONObject: object))
    }

    @Test func authorizedUserIsGoogleWithNoAccountAndNoScopes() throws {
        let (format, found) = try ImportParser.parse(Self.json(["type": "authorized_user", "client_id": "c.apps.googleusercontent.com",
                                                                "client_secret": "CANARY-SECRET", "refresh_token": "1//CANARY-RT"]),
                                                     source: "a.json", provider: nil, now: Self.now)
        #expect(format == .authorizedUser)
        let c = try #require(found.first)
        #expect(found.count == 1 && c.provider == "google" && c.defaultAppName == "google")
        #expect(c.app?.clientID == "c.apps.googleusercontent.com" && c.app?.clientSecret == "CANARY-SECRET")
        #expect(c.account == nil && c.grant.scopes.isEmpty && c.grant.refreshToken == "1//CANARY-RT" && c.grant.flow == nil)
    }

    @Test func oauthlibTokenKeepsScopesAndAnUnexpiredAccessToken() throws {
        let object: [String: Any] = ["token": "ya29.CANARY", "refresh_token": "1//rt", "token_uri": "https://oauth2.googleapis.com/token",
                                     "client_id": "c", "client_secret": "s", "scopes": ["https://www.googleapis.com/auth/calendar.readonly"],
                                     "universe_domain": "googleapis.com", "account": "", "expiry": "2026-09-21T22:00:00.123456Z"]
        let (format, found) = try ImportParser.parse(Self.json(object), source: "token.json", provider: "google", now: Self.now)
        #expect(format == .oauthlibToken)
        let c = try #require(found.first)
        #expect(c.account == nil, "an empty account is no account")
        #expect(c.grant.scopes == ["https://www.googleapis.com/auth/calendar.readonly"])
        #expect(c.grant.accessToken == "ya29.CANARY" && c.grant.expiresAt == "2026-09-21T22:00:00Z")
        // Expired: the access token is dropped, the refresh token kept.
        let later = Date(timeIntervalSince1970: 1_800_000_000)
        let (_, again) = try ImportParser.parse(Self.json(object), source: "token.json", provider: nil, now: later)
        #expect(again.first?.grant.accessToken == nil && again.first?.grant.refreshToken == "1//rt")
    }

    @Test func aTokenURIThatIsNotGooglesIsRefused() throws {
        let object: [String: Any] = ["token": "t", "refresh_token": "r", "token_uri": "https://evil.example/token", "client_id": "c", "client_secret": "s"]
        let error = try #require(throws: CLIError.self) { try ImportParser.parse(Self.json(object), source: "t.json", provider: nil, now: Self.now) }
        #expect(error.message.contains("not Google's") && error.message.contains("evil.example"))
        #expect(!error.message.contains("\"r\""))
    }

    @Test func serviceAccountKeyNeedsNoAccountFlag() throws {
        let object: [String: Any] = ["type": "service_account", "client_email": "robot@p.iam.gserviceaccount.com", "client_id": "1234",
                                     "private_key": "-----BEGIN PRIVATE KEY-----\nCANARY\n-----END PRIVATE KEY-----\n", "private_key_id": "k1",
                                     "token_uri": "https://oauth2.googleapis.com/token"]
        let (format, found) = try ImportParser.parse(Self.json(object), source: "sa.json", provider: nil, now: Self.now)
        let c = try #require(found.first)
        #expect(format == .serviceAccount && c.defaultAppName == "google-robot" && c.account == "robot@p.iam.gserviceaccount.com")
        #expect(c.grant.flow == "jwt_bearer" && c.grant.serviceAccount?.privateKeyID == "k1" && c.app?.clientID == "1234")
    }

    static func msalCache() -> [String: Any] {
        func account(_ home: String, _ user: String) -> [String: Any] {
            ["home_account_id": home, "environment": "login.microsoftonline.com", "realm": "sandbox-tenant", "username": user, "authority_type": "MSSTS"]
        }
        func refresh(_ home: String, _ secret: String) -> [String: Any] {
            ["credential_type": "RefreshToken", "secret": secret, "home_account_id": home, "environment": "login.microsoftonline.com", "client_id": "app-1"]
        }
        func access(_ home: String, _ target: String, client: String = "app-1") -> [String: Any] {
            ["credential_type": "AccessToken", "secret": "at", "home_account_id": home, "environment": "login.microsoftonline.com",
             "client_id": client, "target": target, "realm": "sandbox-tenant", "expires_on": "1790003600"]
        }
        return [
            "Account": ["a-login.microsoftonline.com-sandbox-tenant": account("a", "alice@sandbox.test"),
                        "b-login.microsoftonline.com-sandbox-tenant": account("b", "bob@sandbox.test")],
            "RefreshToken": ["a-rt": refresh("a", "RT-A"), "b-rt": refresh("b", "RT-B")],
            "AccessToken": ["a-1": access("a", "Calendars.Read openid profile"), "a-2": access("a", "Mail.Read"),
                            "a-3": access("a", "Files.Read", client: "other-app"), "b-1": access("b", "Contacts.Read")],
            "IdToken": [:], "AppMetadata": ["appmetadata-login.microsoftonline.com-app-1": ["client_id": "app-1", "environment": "login.microsoftonline.com"]],
        ]
    }

    @Test func msalCacheGivesOneCredentialPerAccount() throws {
        let (format, found) = try ImportParser.parse(Self.json(Self.msalCache()), source: "msal.json", provider: nil, now: Self.now)
        #expect(format == .msalCache && found.count == 2)
        let alice = try #require(found.first { $0.account == "alice@sandbox.test" })
        #expect(alice.grant.refreshToken == "RT-A")
        #expect(alice.grant.scopes == ["Calendars.Read", "openid", "profile", "Mail.Read"], "the union of this client's targets only")
        #expect(alice.app?.type == "microsoft" && alice.app?.tenant == "sandbox-tenant" && alice.app?.clientAuth == "none" && alice.authorityHost == nil)
        let bob = try #require(found.first { $0.account == "bob@sandbox.test" })
        #expect(bob.grant.refreshToken == "RT-B" && bob.grant.scopes == ["Contacts.Read"])
        // Another provider named on the command line is refused.
        #expect(throws: CLIError.self) { try ImportParser.parse(Self.json(Self.msalCache()), source: "msal.json", provider: "google", now: Self.now) }
    }

    @Test func msalRefreshTokenWithoutAccountIsRefused() throws {
        var cache = Self.msalCache()
        cache["Account"] = [:] as [String: Any]
        let error = try #require(throws: CLIError.self) { try ImportParser.parse(Self.json(cache), source: "msal.json", provider: nil, now: Self.now) }
        #expect(error.message.contains("no matching Account"))
    }

    @Test func genericTokenFileNeedsTheProvider() throws {
        let object: [String: Any] = ["access_token": "at", "refresh_token": "rt", "client_id": "zc", "expires_at": 1_790_003_600, "scope": "user:read meeting:read"]
        let error = try #require(throws: CLIError.self) { try ImportParser.parse(Self.json(object), source: "g.json", provider: nil, now: Self.now) }
        #expect(error.hint?.contains("--provider") == true)
        let (_, found) = try ImportParser.parse(Self.json(object), source: "g.json", provider: "zoom", now: Self.now)
        let c = try #require(found.first)
        #expect(c.provider == "zoom" && c.app?.clientID == "zc" && c.grant.scopes == ["user:read", "meeting:read"])
        #expect(c.grant.accessToken == "at" && c.grant.expiresAt == "2026-09-21T15:13:20Z")
        // A number that is no time (1e57 once stopped the CLI converting it) is no expiry:
        // the refresh token is imported without the access token; alone, the access token
        // is refused. An expiry within the second after now is not kept either (stored in
        // whole seconds, it would be now).
        for bad in [1e57, -5, 253_402_300_800, Self.now.timeIntervalSince1970 + 0.5] as [Double] {
            var odd = object
            odd["expires_at"] = bad
            let (_, kept) = try ImportParser.parse(Self.json(odd), source: "g.json", provider: "zoom", now: Self.now)
            #expect(kept.first?.grant.accessToken == nil && kept.first?.grant.refreshToken == "rt", "\(bad)")
            odd["refresh_token"] = nil
            let error = try #require(throws: CLIError.self) { try ImportParser.parse(Self.json(odd), source: "g.json", provider: "zoom", now: Self.now) }
            #expect(error.message.contains("holds only an access token, and it has expired"), "\(bad)")
        }
    }

    @Test(arguments: [
        ("{\"type\": \"authorized_user\", \"client_id\": \"c\", \"client_se", "not valid JSON"),
        ("[1, 2]", "not an object"),
        ("{\"type\": \"authorized_user\", \"client_id\": \"c\", \"client_secret\": \"s\", \"refresh_token\": 42}", "\"refresh_token\" is not a string"),
        ("{\"type\": \"authorized_user\", \"client_id\": \"c\", \"client_secret\": \"s\"}", "lacks \"refresh_token\""),
        ("{\"type\": \"installed\"}", "credbroker imports authorized_user"),
        ("{\"hello\": \"world\"}", "not a token file credbroker knows"),
        ("{\"token\": \"t\", \"client_id\": \"c\"}", "no \"refresh_token\""),
        ("{\"type\": \"authorized_user\", \"client_id\": \"c\", \"client_secret\": \"s\", \"refresh_token\": \"r\", \"universe_domain\": \"example.org\"}", "universe"),
    ])
    func malformedFilesAreRefusedWithTheReason(_ text: String, _ expected: String) throws {
        let error = try #require(throws: CLIError.self) { try ImportParser.parse(Array(text.utf8), source: "bad.json", provider: nil, now: Self.now) }
        #expect(error.message.contains(expected), "\(error.message)")
        #expect(error.message.contains("bad.json"))
    }

    @Test func gcloudDatabaseIsReadFromItsBytes() throws {
        let dir = try TemporaryDirectory()
        let db = dir.file("credentials.db")
        let script = """
            import sqlite3, json, sys
            c = sqlite3.connect(sys.argv[1])
            c.execute('CREATE TABLE IF NOT EXISTS "credentials" (account_id TEXT PRIMARY KEY, value BLOB)')
            c.execute('INSERT INTO credentials VALUES (?, ?)', ('alice@example.com', json.dumps({"type": "authorized_user",
                "client_id": "32555940559.apps.googleusercontent.com", "client_secret": "gcloud-secret", "refresh_token": "1//alice"})))
            c.commit()
            """
        let made = try Subprocess.run("python3", ["-c", script, db])
        try #require(made.status == 0, "\(made.stderr)")
        let (bytes, _) = try ForeignFile.read(db)
        let (format, found) = try ImportParser.parse(bytes, source: "credentials.db", provider: nil, now: Self.now)
        let c = try #require(found.first)
        #expect(format == .gcloudDatabase && found.count == 1)
        #expect(c.account == "alice@example.com" && c.defaultAppName == "gcloud" && c.grant.refreshToken == "1//alice")
        // Reading left nothing beside the file (no journal, no WAL).
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["credentials.db"])
        // An SQLite file that is not gcloud's.
        let other = dir.file("other.db")
        _ = try Subprocess.run("python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE t (x)'); c.commit()", other])
        let (otherBytes, _) = try ForeignFile.read(other)
        let error = try #require(throws: CLIError.self) { try ImportParser.parse(otherBytes, source: "other.db", provider: nil, now: Self.now) }
        #expect(error.message.contains("without a \"credentials\" table"))
        // A damaged database.
        var damaged = bytes
        for i in 100..<min(damaged.count, 4096) { damaged[i] = 0xA5 }
        #expect(throws: CLIError.self) { try ImportParser.parse(damaged, source: "damaged.db", provider: nil, now: Self.now) }
    }

    /// What the parser says of a file goes to a terminal: a value from the file in a
    /// message or in the plan line must not carry escapes or line breaks.
    @Test func valuesFromTheFileAreShownOnlyAsPrintableText() throws {
        let escape = "\u{1B}]0;owned\u{07}\u{1B}[2J\n"
        func refusal(_ bytes: [UInt8]) throws -> String {
            let error = try #require(throws: CLIError.self) { try ImportParser.parse(bytes, source: "f.json", provider: nil, now: Self.now) }
            return error.message
        }
        let universe = try refusal(Self.json(["type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r",
                                              "universe_domain": "x" + escape]))
        #expect(universe.contains("the Google universe \"x?]0;owned??[2J?\""), "\(universe)")
        let typeError = try #require(throws: CLIError.self) {
            try ServiceAccountFile.parse(Self.json(["type": "installed" + escape, "client_email": "a@b", "private_key": "k", "client_id": "1"]), source: "sa.json")
        }
        let type = typeError.message
        #expect(type.contains("\"type\": \"installed?]0;owned??[2J?\""), "\(type)")

        var cache = Self.msalCache()
        var accounts = cache["Account"] as! [String: [String: Any]]
        for key in accounts.keys { accounts[key]!["username"] = "me" + escape }
        cache["Account"] = accounts
        let (_, found) = try ImportParser.parse(Self.json(cache), source: "msal.json", provider: nil, now: Self.now)
        let c = try #require(found.first)
        #expect(c.account == "me" + escape, "the account itself is kept as the file gives it")
        let request = ImportRequest(profile: "dev", app: c.defaultAppName, appRecord: c.app, account: c.account, grant: c.grant, verify: true)
        let plan = ImportParser.plan(request, c)
        #expect(plan.contains("account \"me?]0;owned??[2J?\""), "\(plan)")
        #expect(plan.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F }, "\(plan)")

        let dir = try TemporaryDirectory()
        let db = dir.file("credentials.db")
        let script = """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.execute('CREATE TABLE credentials (account_id TEXT PRIMARY KEY, value BLOB)')
            c.execute('INSERT INTO credentials VALUES (?, ?)', ('me\\x1b]0;owned\\x07', 42))
            c.commit()
            """
        let made = try Subprocess.run("python3", ["-c", script, db])
        try #require(made.status == 0, "\(made.stderr)")
        let (bytes, _) = try ForeignFile.read(db)
        let gcloud = try refusal(bytes)
        #expect(gcloud.contains("the credential of \"me?]0;owned?\" is not text"), "\(gcloud)")
    }

    // MARK: - ForeignFile

    @Test func foreignFileRefusesLinksNonFilesBigFilesAndOthersFiles() throws {
        let dir = try TemporaryDirectory()
        let target = dir.file("token.json")
        try dir.write("token.json", "{}")
        let link = dir.file("link.json")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        #expect(throws: FileSecurityError.self) { try ForeignFile.read(link) }
        #expect(throws: FileSecurityError.self) { try ForeignFile.read(dir.path) }
        let fifo = dir.file("fifo")
        #expect(unsafe mkfifo(fifo, 0o600) == 0)
        #expect(throws: FileSecurityError.self) { try ForeignFile.read(fifo) }
        let big = dir.file("big.json")
        #expect(FileManager.default.createFile(atPath: big, contents: Data(count: ForeignFile.maxBytes + 1)))
        let error = try #require(throws: FileSecurityError.self) { try ForeignFile.read(big) }
        #expect(error.description.contains("bytes"))
        let error2 = try #require(throws: FileSecurityError.self) { try ForeignFile.read(target, owner: getuid() + 1) }
        #expect(error2.description.contains("belongs to uid"))
        #expect(try ForeignFile.read(target).bytes == Array("{}".utf8))
    }

    @Test func shredOverwritesInPlaceThenUnlinks() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("token.json")
        let secret = String(repeating: "CANARY-REFRESH-TOKEN-", count: 400)
        try dir.write("token.json", secret)
        let (_, identity) = try ForeignFile.read(path)
        // A descriptor held open sees the inode's bytes after the name is gone.
        let held = unsafe open(path, O_RDONLY)
        #expect(held >= 0)
        defer { close(held) }
        try ForeignFile.shred(path, identity: identity)
        #expect(!FileManager.default.fileExists(atPath: path))
        var after = [UInt8](repeating: 0xFF, count: secret.utf8.count + 16)
        let n = unsafe after.withUnsafeMutableBytes { unsafe pread(held, $0.baseAddress, $0.count, 0) }
        #expect(n == secret.utf8.count, "the size is kept: the old blocks were overwritten, not released")
        #expect(after.prefix(n).allSatisfy { $0 == 0 })
    }

    @Test func shredRefusesAReplacedFileAndHardLinks() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("token.json")
        try dir.write("token.json", "secret")
        let (_, identity) = try ForeignFile.read(path)
        // Replaced by another file under the same name: nothing is overwritten.
        try FileManager.default.removeItem(atPath: path)
        try dir.write("token.json", "someone else's")
        #expect(throws: FileSecurityError.self) { try ForeignFile.shred(path, identity: identity) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "someone else's")
        // Another name for the same inode would keep the bytes.
        let (_, identity2) = try ForeignFile.read(path)
        #expect(unsafe link(path, dir.file("other-name")) == 0)
        let error = try #require(throws: FileSecurityError.self) { try ForeignFile.shred(path, identity: identity2) }
        #expect(error.description.contains("hard links"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "someone else's")
    }
}
