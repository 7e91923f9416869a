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

    public init(type: String, clientID: String, clientSecret: String?, tenant: String? = nil, endpoints: [String: String] = [:]) {
        self.type = type
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.tenant = tenant
        self.endpoints = endpoints
    }

    enum CodingKeys: String, CodingKey {
        case v, type, tenant, endpoints
        case clientID = "client_id"
        case clientSecret = "client_secret"
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

    public init(app: String, account: String, scopes: [String], refreshToken: String?, obtainedAt: Date, state: String = "active", accessToken: String? = nil, accessTokenExpiresAt: Date? = nil) {
        self.app = app
        self.account = account
        self.scopes = scopes
        self.refreshToken = refreshToken
        self.obtainedAt = obtainedAt
        self.state = state
        self.accessToken = accessToken
        self.accessTokenExpiresAt = accessTokenExpiresAt
    }

    enum CodingKeys: String, CodingKey {
        case v, app, account, scopes, state
        case refreshToken = "refresh_token"
        case obtainedAt = "obtained_at"
        case accessToken = "access_token"
        case accessTokenExpiresAt = "access_token_expires_at"
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
