import BrokerCrypto
import Foundation

/// The three emulated providers; their paths start with `/google`, `/microsoft`, `/zoom`.
enum Provider: String, Sendable, CaseIterable {
    case google, microsoft, zoom
}

/// A registered OAuth client (an "app" in the provider's console).
struct ClientRecord {
    var provider: Provider
    var clientID: String
    /// Google: web, desktop, tv. Microsoft: public, confidential. Zoom: oauth, server_to_server.
    var type: String
    var secret: String?
    var redirectURIs: [String]
    /// A public client cannot keep a secret: PKCE is required at the authorization endpoint.
    var isPublic: Bool
    /// Microsoft certificate credential: the certificate's public key (SubjectPublicKeyInfo PEM).
    var certificatePEM: String?
    var certificateKey: RSAPublicKey?
    /// Zoom server-to-server apps: the account they belong to.
    var accountID: String?
    /// Microsoft client credentials (application permissions, e.g. `Calendars.Read`) and
    /// Zoom server-to-server scopes.
    var permissions: [String]
    /// Microsoft: the tenant the app is registered in.
    var tenant: String?

    /// Whether a loopback redirect URI matches on any port (RFC 8252 §7.3): desktop and
    /// native clients, and every Microsoft and Zoom app (Microsoft ignores the port of
    /// localhost redirect URIs for every app type).
    var loopbackAnyPort: Bool {
        switch provider {
        case .google: return type == "desktop"
        case .microsoft, .zoom: return true
        }
    }

    var json: [String: Any] {
        var object: [String: Any] = [
            "provider": provider.rawValue, "type": type, "client_id": clientID,
            "redirect_uris": redirectURIs, "public": isPublic, "permissions": permissions,
        ]
        if let secret { object["client_secret"] = secret }
        if let accountID { object["account_id"] = accountID }
        if let tenant { object["tenant"] = tenant }
        if certificatePEM != nil { object["certificate"] = true }
        return object
    }
}

/// A test user who consents (or refuses) automatically at every authorization endpoint.
struct UserRecord {
    var email: String
    var name: String
    var id: String
    /// False makes every authorization for this user end in `access_denied`.
    var consents: Bool

    var json: [String: Any] { ["email": email, "name": name, "id": id, "consents": consents] }
}

/// A Google service account, identified by its email, with its registered public key.
struct ServiceAccountRecord {
    var email: String
    var publicKeyPEM: String
    var key: RSAPublicKey
    var keyID: String?
    /// Domain-wide delegation: may assert `sub` for any configured user.
    var delegation: Bool

    var json: [String: Any] {
        var object: [String: Any] = ["email": email, "delegation": delegation]
        if let keyID { object["key_id"] = keyID }
        return object
    }
}

/// A consented grant: one user (or app) and client, with the scopes consented.
struct GrantRecord {
    var id: Int
    var provider: Provider
    var clientID: String
    var user: String?
    var scopes: [String]
    var revoked = false
}

struct AuthorizationCodeRecord {
    var provider: Provider
    var clientID: String
    var redirectURI: String
    var user: String
    var scopes: [String]
    var challenge: String?
    var challengeMethod: String
    var expiresAt: Date
    var offline: Bool
    var used = false
    var tenant: String?
}

struct RefreshTokenRecord {
    var grantID: Int
    var provider: Provider
    var clientID: String
    /// False once rotated out (Zoom, Microsoft --strict) or revoked.
    var valid = true
    /// When a refresh rotated it out (seconds since 1970 by the real clock, not the sandbox
    /// clock); nil while it has not been.
    var rotatedAt: Double?
}

struct AccessTokenRecord {
    var provider: Provider
    var clientID: String
    var grantID: Int?
    /// The user the token acts for; nil for app-only tokens.
    var user: String?
    var scopes: [String]
    var expiresAt: Date
    var revoked = false
}

struct DeviceCodeRecord {
    enum Status { case pending, approved(String), denied }
    var provider: Provider
    var clientID: String
    var userCode: String
    var scopes: [String]
    var expiresAt: Date
    var interval: Int
    var lastPoll: Date?
    var status: Status = .pending
    var redeemed = false
    var tenant: String?
}

/// Token lifetimes and switches, changed by `/_sandbox/settings`.
struct SandboxSettings {
    var accessTokenLifetime = 3600
    var authorizationCodeLifetime = 600
    var deviceCodeLifetime = 1800
    var devicePollInterval = 5
    var microsoftStrictRotation = false

    var json: [String: Any] {
        [
            "access_token_lifetime": accessTokenLifetime,
            "authorization_code_lifetime": authorizationCodeLifetime,
            "device_code_lifetime": deviceCodeLifetime,
            "device_poll_interval": devicePollInterval,
            "microsoft_strict_rotation": microsoftStrictRotation,
        ]
    }
}
