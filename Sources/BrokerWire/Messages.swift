public import FoundationEssentials

// The request and response bodies of docs/spec/api.md. JSON members are snake_case;
// unknown members in a request are ignored (so newer clients work with older daemons),
// times are RFC 3339 UTC.

/// `POST /v1/token`
public struct TokenRequest: Codable, Sendable, Equatable {
    public var profile: String
    public var provider: String
    public var account: String?
    public var scopes: [String]
    public var minValidSeconds: Int?
    public var forceRefresh: Bool?

    public init(profile: String, provider: String, account: String? = nil, scopes: [String],
                minValidSeconds: Int? = nil, forceRefresh: Bool? = nil) {
        self.profile = profile
        self.provider = provider
        self.account = account
        self.scopes = scopes
        self.minValidSeconds = minValidSeconds
        self.forceRefresh = forceRefresh
    }

    enum CodingKeys: String, CodingKey {
        case profile, provider, account, scopes
        case minValidSeconds = "min_valid_seconds"
        case forceRefresh = "force_refresh"
    }
}

public struct TokenResponse: Codable, Sendable, Equatable {
    public var accessToken: String
    public var tokenType: String
    public var expiresAt: String
    public var expiresIn: Int
    public var scopes: [String]
    public var profile: String
    public var provider: String
    public var account: String

    public init(accessToken: String, tokenType: String, expiresAt: String, expiresIn: Int, scopes: [String],
                profile: String, provider: String, account: String) {
        self.accessToken = accessToken
        self.tokenType = tokenType
        self.expiresAt = expiresAt
        self.expiresIn = expiresIn
        self.scopes = scopes
        self.profile = profile
        self.provider = provider
        self.account = account
    }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresAt = "expires_at"
        case expiresIn = "expires_in"
        case scopes, profile, provider, account
    }
}

/// `GET /v1/health`
public struct HealthResponse: Codable, Sendable, Equatable {
    /// ok, locked, uninitialized or degraded.
    public var status: String
    public var version: String
    public var uptimeSeconds: Int
    public var detail: String?

    public init(status: String, version: String, uptimeSeconds: Int, detail: String? = nil) {
        self.status = status
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case status, version, detail
        case uptimeSeconds = "uptime_seconds"
    }
}

/// `GET /v1/profiles`: what this caller may use. No secrets.
public struct ProfilesResponse: Codable, Sendable, Equatable {
    public struct App: Codable, Sendable, Equatable {
        public var name: String
        public var type: String
        /// API base URLs by API name ("calendar", "gmail", "people", "graph").
        public var apiBaseURLs: [String: String]
        public var accounts: [String]

        public init(name: String, type: String, apiBaseURLs: [String: String], accounts: [String]) {
            self.name = name
            self.type = type
            self.apiBaseURLs = apiBaseURLs
            self.accounts = accounts
        }

        enum CodingKeys: String, CodingKey {
            case name, type, accounts
            case apiBaseURLs = "api_base_urls"
        }
    }

    public struct Profile: Codable, Sendable, Equatable {
        public var name: String
        public var apps: [App]
        public init(name: String, apps: [App]) {
            self.name = name
            self.apps = apps
        }
    }

    public var profiles: [Profile]
    public init(profiles: [Profile]) { self.profiles = profiles }
}

/// The body of admin routes that take a secret (`init`, `unlock`, `passwd`): the secret is
/// base64 in the body, never in the URL.
public struct UnlockRequest: Codable, Sendable {
    /// "passphrase", "keyfile" or "recovery".
    public var method: String
    /// The passphrase, key-file contents or recovery key, base64.
    public var secret: String

    public init(method: String, secret: String) {
        self.method = method
        self.secret = secret
    }
}

public struct InitRequest: Codable, Sendable {
    public var passphrase: String
    public var kdf: String?
    public var allowWeakKDF: Bool?

    public init(passphrase: String, kdf: String? = nil, allowWeakKDF: Bool? = nil) {
        self.passphrase = passphrase
        self.kdf = kdf
        self.allowWeakKDF = allowWeakKDF
    }

    enum CodingKeys: String, CodingKey {
        case passphrase, kdf
        case allowWeakKDF = "allow_weak_kdf"
    }
}

public struct InitResponse: Codable, Sendable {
    /// Shown once; the only time the recovery key leaves the daemon.
    public var recoveryKey: String
    public var vault: String

    public init(recoveryKey: String, vault: String) {
        self.recoveryKey = recoveryKey
        self.vault = vault
    }

    enum CodingKeys: String, CodingKey {
        case recoveryKey = "recovery_key"
        case vault
    }
}

public struct PasswdRequest: Codable, Sendable {
    public var current: String
    public var new: String
    public var kdf: String?

    public init(current: String, new: String, kdf: String? = nil) {
        self.current = current
        self.new = new
        self.kdf = kdf
    }
}

/// `backup` and `restore`: files travel as paths the daemon reads or writes itself.
public struct PathRequest: Codable, Sendable {
    public var path: String
    public var force: Bool?
    /// restore: the passphrase of the backup (base64), checked before anything is replaced.
    public var passphrase: String?

    public init(path: String, force: Bool? = nil, passphrase: String? = nil) {
        self.path = path
        self.force = force
        self.passphrase = passphrase
    }
}

/// A plain acknowledgement with a human-readable result.
public struct OKResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    public var message: String
    public init(message: String) {
        self.ok = true
        self.message = message
    }
}

/// `GET /v1/admin/status`
public struct AdminStatusResponse: Codable, Sendable, Equatable {
    public struct Grant: Codable, Sendable, Equatable {
        public var app: String
        public var account: String
        public var scopes: [String]
        public var state: String
        public var tokenValidUntil: String?
        public var lastRefresh: String?
        public var lastError: String?
        public var flow: String?
        /// When the refresh token was obtained (its age is what the warnings are about).
        public var refreshTokenObtained: String?
        /// The command that repairs a dead grant.
        public var fix: String?
        public var warnings: [String]?

        public init(app: String, account: String, scopes: [String], state: String, tokenValidUntil: String?, lastRefresh: String?, lastError: String?,
                    flow: String? = nil, refreshTokenObtained: String? = nil, fix: String? = nil, warnings: [String]? = nil) {
            self.app = app
            self.account = account
            self.scopes = scopes
            self.state = state
            self.tokenValidUntil = tokenValidUntil
            self.lastRefresh = lastRefresh
            self.lastError = lastError
            self.flow = flow
            self.refreshTokenObtained = refreshTokenObtained
            self.fix = fix
            self.warnings = warnings
        }

        enum CodingKeys: String, CodingKey {
            case app, account, scopes, state, flow, fix, warnings
            case tokenValidUntil = "token_valid_until"
            case lastRefresh = "last_refresh"
            case lastError = "last_error"
            case refreshTokenObtained = "refresh_token_obtained"
        }
    }

    public struct App: Codable, Sendable, Equatable {
        public var name: String
        public var type: String
        public var configured: Bool
        public init(name: String, type: String, configured: Bool) {
            self.name = name
            self.type = type
            self.configured = configured
        }
    }

    public struct Profile: Codable, Sendable, Equatable {
        public var name: String
        public var apps: [App]
        public var grants: [Grant]
        public init(name: String, apps: [App], grants: [Grant]) {
            self.name = name
            self.apps = apps
            self.grants = grants
        }
    }

    public var state: String
    public var vault: String
    public var mode: String
    public var policies: [String]
    public var profiles: [Profile]
    public var audit: String

    public init(state: String, vault: String, mode: String, policies: [String], profiles: [Profile], audit: String) {
        self.state = state
        self.vault = vault
        self.mode = mode
        self.policies = policies
        self.profiles = profiles
        self.audit = audit
    }
}

/// `PUT /v1/admin/profiles/P/apps/NAME`: a provider app and its secret.
public struct AppRecord: Codable, Sendable {
    public var type: String
    public var clientID: String
    public var clientSecret: String?
    public var tenant: String?
    public var endpoints: [String: String]?
    /// client_secret_post, client_secret_basic, private_key_jwt or none; default by type.
    public var clientAuth: String?
    /// Whether refresh tokens rotate (generic apps; the built-in types know).
    public var rotatesRefreshTokens: Bool?
    /// The scopes `login` asks for when none are named.
    public var scopes: [String]?
    /// A fixed redirect URI the app was registered with (else a loopback one with an
    /// ephemeral port is used).
    public var redirectURI: String?
    /// PEM private key for certificate assertions (private_key_jwt, Microsoft app-only).
    public var privateKey: String?
    public var keyID: String?

    public init(type: String, clientID: String, clientSecret: String? = nil, tenant: String? = nil, endpoints: [String: String]? = nil,
                clientAuth: String? = nil, rotatesRefreshTokens: Bool? = nil, scopes: [String]? = nil, redirectURI: String? = nil,
                privateKey: String? = nil, keyID: String? = nil) {
        self.type = type
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.tenant = tenant
        self.endpoints = endpoints
        self.clientAuth = clientAuth
        self.rotatesRefreshTokens = rotatesRefreshTokens
        self.scopes = scopes
        self.redirectURI = redirectURI
        self.privateKey = privateKey
        self.keyID = keyID
    }

    enum CodingKeys: String, CodingKey {
        case type, tenant, endpoints, scopes
        case clientID = "client_id"
        case clientSecret = "client_secret"
        case clientAuth = "client_auth"
        case rotatesRefreshTokens = "rotates_refresh_tokens"
        case redirectURI = "redirect_uri"
        case privateKey = "private_key"
        case keyID = "key_id"
    }
}

/// `PUT /v1/admin/profiles/P/grants/APP/ACCOUNT`: a grant with its refresh token and,
/// optionally, a current access token and its expiry.
public struct GrantRecord: Codable, Sendable {
    public var scopes: [String]
    public var refreshToken: String?
    public var accessToken: String?
    public var expiresAt: String?
    /// How tokens are obtained: `refresh_token` (the default: a user's grant),
    /// `client_credentials` (app-only), `jwt_bearer` (a Google service account) or
    /// `account_credentials` (a Zoom server-to-server app).
    public var flow: String?
    /// jwt_bearer: the service account's key file fields.
    public var serviceAccount: ServiceAccountKey?
    /// jwt_bearer: the user to act for (domain-wide delegation).
    public var subject: String?
    /// account_credentials: Zoom's account id.
    public var accountID: String?

    public init(scopes: [String], refreshToken: String? = nil, accessToken: String? = nil, expiresAt: String? = nil,
                flow: String? = nil, serviceAccount: ServiceAccountKey? = nil, subject: String? = nil, accountID: String? = nil) {
        self.scopes = scopes
        self.refreshToken = refreshToken
        self.accessToken = accessToken
        self.expiresAt = expiresAt
        self.flow = flow
        self.serviceAccount = serviceAccount
        self.subject = subject
        self.accountID = accountID
    }

    enum CodingKeys: String, CodingKey {
        case scopes, flow, subject
        case refreshToken = "refresh_token"
        case accessToken = "access_token"
        case expiresAt = "expires_at"
        case serviceAccount = "service_account"
        case accountID = "account_id"
    }
}

/// The fields of a Google service-account key file the daemon keeps.
public struct ServiceAccountKey: Codable, Sendable {
    public var clientEmail: String
    public var privateKey: String
    public var privateKeyID: String?
    public var tokenURI: String?

    public init(clientEmail: String, privateKey: String, privateKeyID: String? = nil, tokenURI: String? = nil) {
        self.clientEmail = clientEmail
        self.privateKey = privateKey
        self.privateKeyID = privateKeyID
        self.tokenURI = tokenURI
    }

    enum CodingKeys: String, CodingKey {
        case clientEmail = "client_email"
        case privateKey = "private_key"
        case privateKeyID = "private_key_id"
        case tokenURI = "token_uri"
    }
}

public struct AuditVerifyResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    public var lines: Int
    public var epochs: Int
    public var problems: [String]

    public init(ok: Bool, lines: Int, epochs: Int, problems: [String]) {
        self.ok = ok
        self.lines = lines
        self.epochs = epochs
        self.problems = problems
    }
}

/// RFC 3339 UTC with whole seconds ("2026-11-30T12:00:00Z").
public enum RFC3339 {
    /// The times RFC 3339 can write: 0000-01-01T00:00:00Z through 9999-12-31T23:59:59Z.
    public static let earliestSeconds: Int64 = -62_167_219_200
    public static let latestSeconds: Int64 = 253_402_300_799

    /// A time outside what RFC 3339 can write is written as the nearest end of it (NaN as
    /// the epoch), so that no value read from outside can stop the process here.
    public static func string(_ date: Date) -> String {
        // Bounded before the conversion, which traps outside Int64; string(unixSeconds:)
        // then applies the range itself.
        let t = date.timeIntervalSince1970
        return string(unixSeconds: t.isNaN ? 0 : Int64(Swift.min(Swift.max(t.rounded(.down), -1e18), 1e18)))
    }

    public static func string(unixSeconds: Int64) -> String {
        let unixSeconds = Swift.min(Swift.max(unixSeconds, earliestSeconds), latestSeconds)
        // Civil-from-days (H. Hinnant), no Foundation formatter on the hot path.
        let days = unixSeconds >= 0 ? unixSeconds / 86400 : (unixSeconds - 86399) / 86400
        let secs = unixSeconds - days * 86400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let year = m <= 2 ? y + 1 : y
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: Swift.max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secs / 3600, 2)):\(pad(secs / 60 % 60, 2)):\(pad(secs % 60, 2))Z"
    }

    /// Parses RFC 3339 with a Z or numeric offset and optional fractional seconds.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= bytes.count else { return nil }
            var v = 0
            for b in bytes[from..<(from + count)] {
                guard b >= 0x30 && b <= 0x39 else { return nil }
                v = v * 10 + Int(b - 0x30)
            }
            return v
        }
        guard bytes.count >= 20, let year = num(0, 4), bytes[4] == 0x2D, let month = num(5, 2), bytes[7] == 0x2D,
              let day = num(8, 2), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
              let hour = num(11, 2), bytes[13] == 0x3A, let minute = num(14, 2), bytes[16] == 0x3A,
              let second = num(17, 2), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == 0x2E {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                fraction += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        if bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            index += 1
        } else if bytes[index] == 0x2B || bytes[index] == 0x2D {
            guard let oh = num(index + 1, 2), bytes.count > index + 3, bytes[index + 3] == 0x3A, let om = num(index + 4, 2) else { return nil }
            offset = (oh * 3600 + om * 60) * (bytes[index] == 0x2B ? 1 : -1)
            index += 6
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        // Days from civil (H. Hinnant).
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = days * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}

/// `POST /v1/admin/add-slot`: a passphrase slot (`passphrase`, base64), a key-file slot (the
/// daemon writes a new 32-byte key file, 0600, at `path`), or a recovery slot (the new
/// recovery key is in the answer, shown once).
public struct AddSlotRequest: Codable, Sendable {
    public var kind: String
    public var path: String?
    public var passphrase: String?
    public var kdf: String?

    public init(kind: String, path: String? = nil, passphrase: String? = nil, kdf: String? = nil) {
        self.kind = kind
        self.path = path
        self.passphrase = passphrase
        self.kdf = kdf
    }
}

public struct AddSlotResponse: Codable, Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var recoveryKey: String?

    public init(id: Int64, kind: String, recoveryKey: String? = nil) {
        self.id = id
        self.kind = kind
        self.recoveryKey = recoveryKey
    }

    enum CodingKeys: String, CodingKey {
        case id, kind
        case recoveryKey = "recovery_key"
    }
}

public struct SlotsResponse: Codable, Sendable, Equatable {
    public struct Slot: Codable, Sendable, Equatable {
        public var id: Int64
        public var kind: String
        public var kdf: String
        public var opslimit: UInt64
        public var memlimitBytes: UInt64

        public init(id: Int64, kind: String, kdf: String, opslimit: UInt64, memlimitBytes: UInt64) {
            self.id = id
            self.kind = kind
            self.kdf = kdf
            self.opslimit = opslimit
            self.memlimitBytes = memlimitBytes
        }

        enum CodingKeys: String, CodingKey {
            case id, kind, kdf, opslimit
            case memlimitBytes = "memlimit_bytes"
        }
    }

    public var slots: [Slot]
    public init(slots: [Slot]) { self.slots = slots }
}

public struct RemoveSlotRequest: Codable, Sendable {
    public var id: Int64
    public init(id: Int64) { self.id = id }
}
