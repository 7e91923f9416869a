public import FoundationEssentials

/// Typed record payloads: versioned JSON, encrypted as a whole (docs/spec/vault.md). New
/// optional fields need no format change; readers ignore fields they do not know.
public protocol RecordPayload: Codable, Sendable {
    static var kind: RecordKind { get }
    /// The payload schema version, stored as "v".
    var v: Int { get }
}

/// A provider app (OAuth client) in a profile.
public struct ProviderAppPayload: RecordPayload, Equatable {
    public static let kind = RecordKind.providerApp
    public var v: Int = 1
    /// google, microsoft, zoom or generic.
    public var type: String
    public var clientID: String
    public var clientSecret: String?
    public var tenant: String?
    /// Endpoint overrides by name (authorization, token, device, revocation, api bases).
    public var endpoints: [String: String]
    /// client_secret_post, client_secret_basic, private_key_jwt or none; nil: the type's default.
    public var clientAuth: String?
    /// generic apps: whether refresh tokens rotate; nil: the type's default.
    public var rotatesRefreshTokens: Bool?
    /// The scopes `login` asks for when none are named.
    public var scopes: [String]?
    /// A fixed registered redirect URI (else a loopback one with an ephemeral port).
    public var redirectURI: String?
    /// PEM private key for certificate client assertions.
    public var privateKeyPEM: String?
    public var keyID: String?
    /// The client secret before `secret rotate`, kept until the new one has worked once.
    public var previousClientSecret: String?

    public init(type: String, clientID: String, clientSecret: String?, tenant: String? = nil, endpoints: [String: String] = [:],
                clientAuth: String? = nil, rotatesRefreshTokens: Bool? = nil, scopes: [String]? = nil, redirectURI: String? = nil,
                privateKeyPEM: String? = nil, keyID: String? = nil, previousClientSecret: String? = nil) {
        self.type = type
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.tenant = tenant
        self.endpoints = endpoints
        self.clientAuth = clientAuth
        self.rotatesRefreshTokens = rotatesRefreshTokens
        self.scopes = scopes
        self.redirectURI = redirectURI
        self.privateKeyPEM = privateKeyPEM
        self.keyID = keyID
        self.previousClientSecret = previousClientSecret
    }

    enum CodingKeys: String, CodingKey {
        case v, type, tenant, endpoints, scopes
        case clientID = "client_id"
        case clientSecret = "client_secret"
        case clientAuth = "client_auth"
        case rotatesRefreshTokens = "rotates_refresh_tokens"
        case redirectURI = "redirect_uri"
        case privateKeyPEM = "private_key"
        case keyID = "key_id"
        case previousClientSecret = "previous_client_secret"
    }
}

/// A user's grant to a provider app.
public struct GrantPayload: RecordPayload, Equatable {
    public static let kind = RecordKind.grant
    public var v: Int = 1
    public var app: String
    public var account: String
    public var scopes: [String]
    public var refreshToken: String?
    public var obtainedAt: Date
    /// "active" or "dead" (the provider answered invalid_grant).
    public var state: String
    public var accessToken: String?
    public var accessTokenExpiresAt: Date?
    /// The scopes the stored access token carries (nil: `scopes`).
    public var accessTokenScopes: [String]?
    /// refresh_token (nil), client_credentials, jwt_bearer or account_credentials.
    public var flow: String?
    /// jwt_bearer: the user to act for (domain-wide delegation).
    public var subject: String?
    /// account_credentials: Zoom's account id.
    public var accountID: String?
    /// When the current refresh token was obtained (nil: `obtainedAt`).
    public var refreshTokenObtainedAt: Date?
    public var lastRefreshAt: Date?
    /// The last refresh failure, for people (never a secret), and when.
    public var lastError: String?
    public var lastErrorAt: Date?

    public init(app: String, account: String, scopes: [String], refreshToken: String?, obtainedAt: Date, state: String = "active", accessToken: String? = nil, accessTokenExpiresAt: Date? = nil,
                accessTokenScopes: [String]? = nil, flow: String? = nil, subject: String? = nil, accountID: String? = nil) {
        self.app = app
        self.account = account
        self.scopes = scopes
        self.refreshToken = refreshToken
        self.obtainedAt = obtainedAt
        self.state = state
        self.accessToken = accessToken
        self.accessTokenExpiresAt = accessTokenExpiresAt
        self.accessTokenScopes = accessTokenScopes
        self.flow = flow
        self.subject = subject
        self.accountID = accountID
    }

    enum CodingKeys: String, CodingKey {
        case v, app, account, scopes, state, flow, subject
        case refreshToken = "refresh_token"
        case obtainedAt = "obtained_at"
        case accessToken = "access_token"
        case accessTokenExpiresAt = "access_token_expires_at"
        case accessTokenScopes = "access_token_scopes"
        case accountID = "account_id"
        case refreshTokenObtainedAt = "refresh_token_obtained_at"
        case lastRefreshAt = "last_refresh_at"
        case lastError = "last_error"
        case lastErrorAt = "last_error_at"
    }
}

/// A service account (Google) or certificate credential.
public struct ServiceAccountPayload: RecordPayload, Equatable {
    public static let kind = RecordKind.serviceAccount
    public var v: Int = 1
    public var clientEmail: String
    public var privateKeyPEM: String
    public var privateKeyID: String?
    public var tokenURI: String?

    public init(clientEmail: String, privateKeyPEM: String, privateKeyID: String? = nil, tokenURI: String? = nil) {
        self.clientEmail = clientEmail
        self.privateKeyPEM = privateKeyPEM
        self.privateKeyID = privateKeyID
        self.tokenURI = tokenURI
    }

    enum CodingKeys: String, CodingKey {
        case v
        case clientEmail = "client_email"
        case privateKeyPEM = "private_key"
        case privateKeyID = "private_key_id"
        case tokenURI = "token_uri"
    }
}
