// The OAuth admin routes of docs/spec/api.md: login/start, login/complete, login/poll,
// revoke and secret/rotate.

/// `POST /v1/admin/login/start`
public struct LoginStartRequest: Codable, Sendable {
    public var profile: String
    public var app: String
    /// Full scope strings or aliases; empty or absent: the app's stored default scopes.
    public var scopes: [String]?
    /// The account to log in as (sent to the provider as a hint and checked against the
    /// identity the provider reports).
    public var account: String?
    /// The loopback redirect URI the CLI listens on (`http://127.0.0.1:PORT/...`).
    /// Absent for device logins.
    public var redirectURI: String?
    /// Use the device-code flow (RFC 8628); the daemon polls.
    public var device: Bool?

    public init(profile: String, app: String, scopes: [String]? = nil, account: String? = nil, redirectURI: String? = nil, device: Bool? = nil) {
        self.profile = profile
        self.app = app
        self.scopes = scopes
        self.account = account
        self.redirectURI = redirectURI
        self.device = device
    }

    enum CodingKeys: String, CodingKey {
        case profile, app, scopes, account, device
        case redirectURI = "redirect_uri"
    }
}

public struct LoginStartResponse: Codable, Sendable, Equatable {
    public struct Device: Codable, Sendable, Equatable {
        public var verificationURI: String
        public var verificationURIComplete: String?
        public var userCode: String
        public var interval: Int
        public var expiresIn: Int

        public init(verificationURI: String, verificationURIComplete: String?, userCode: String, interval: Int, expiresIn: Int) {
            self.verificationURI = verificationURI
            self.verificationURIComplete = verificationURIComplete
            self.userCode = userCode
            self.interval = interval
            self.expiresIn = expiresIn
        }

        enum CodingKeys: String, CodingKey {
            case interval
            case verificationURI = "verification_uri"
            case verificationURIComplete = "verification_uri_complete"
            case userCode = "user_code"
            case expiresIn = "expires_in"
        }
    }

    /// Names the pending login in login/complete and login/poll (not a secret: useless
    /// without the state, which only the provider's redirect carries).
    public var loginID: String
    public var authorizationURL: String?
    public var redirectURI: String?
    public var device: Device?
    public var expiresAt: String

    public init(loginID: String, authorizationURL: String?, redirectURI: String?, device: Device?, expiresAt: String) {
        self.loginID = loginID
        self.authorizationURL = authorizationURL
        self.redirectURI = redirectURI
        self.device = device
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case device
        case loginID = "login_id"
        case authorizationURL = "authorization_url"
        case redirectURI = "redirect_uri"
        case expiresAt = "expires_at"
    }
}

/// `POST /v1/admin/login/complete`: from the loopback listener (`login_id`, `state`,
/// `code`), or typed in by hand (`profile`, `app`, `code`: the newest pending login of
/// that app).
public struct LoginCompleteRequest: Codable, Sendable {
    public var loginID: String?
    public var state: String?
    public var profile: String?
    public var app: String?
    public var code: String
    /// An `error` parameter the provider redirected with instead of a code.
    public var error: String?

    public init(loginID: String? = nil, state: String? = nil, profile: String? = nil, app: String? = nil, code: String, error: String? = nil) {
        self.loginID = loginID
        self.state = state
        self.profile = profile
        self.app = app
        self.code = code
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case state, profile, app, code, error
        case loginID = "login_id"
    }
}

/// The answer of login/complete and of a finished login/poll.
public struct LoginResult: Codable, Sendable, Equatable {
    /// `done`, `pending` (device logins only) or `failed`.
    public var status: String
    public var profile: String
    public var app: String
    public var account: String?
    public var scopes: [String]?
    public var message: String?

    public init(status: String, profile: String, app: String, account: String? = nil, scopes: [String]? = nil, message: String? = nil) {
        self.status = status
        self.profile = profile
        self.app = app
        self.account = account
        self.scopes = scopes
        self.message = message
    }
}

/// `POST /v1/admin/login/poll`
public struct LoginPollRequest: Codable, Sendable {
    public var loginID: String
    public init(loginID: String) { self.loginID = loginID }
    enum CodingKeys: String, CodingKey { case loginID = "login_id" }
}

/// `POST /v1/admin/revoke`
public struct RevokeRequest: Codable, Sendable {
    public var profile: String
    public var app: String
    public var account: String?

    public init(profile: String, app: String, account: String? = nil) {
        self.profile = profile
        self.app = app
        self.account = account
    }
}

public struct RevokeResponse: Codable, Sendable, Equatable {
    public var account: String
    /// Whether the provider confirmed the revocation (false: it has no revocation
    /// endpoint or could not be reached; the grant is deleted either way).
    public var revokedAtProvider: Bool
    public var message: String

    public init(account: String, revokedAtProvider: Bool, message: String) {
        self.account = account
        self.revokedAtProvider = revokedAtProvider
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case account, message
        case revokedAtProvider = "revoked_at_provider"
    }
}

/// `POST /v1/admin/secret/rotate`
public struct SecretRotateRequest: Codable, Sendable {
    public var profile: String
    public var app: String
    public var clientSecret: String

    public init(profile: String, app: String, clientSecret: String) {
        self.profile = profile
        self.app = app
        self.clientSecret = clientSecret
    }

    enum CodingKeys: String, CodingKey {
        case profile, app
        case clientSecret = "client_secret"
    }
}
