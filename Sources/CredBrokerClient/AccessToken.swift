public import Foundation

/// An access token credbrokerd handed out, with what it is for.
///
/// `description` and the reflection (`dump`, debuggers that use `Mirror`) never show
/// `value`: log the token's metadata freely, never the token. Send `value` only to the
/// provider it was issued for, in an `Authorization: Bearer` header.
public struct AccessToken: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    /// The bearer token itself. A secret: never log it.
    public var value: String
    /// When the provider stops accepting it.
    public var expiresAt: Date
    /// The full scope strings it carries.
    public var scopes: [String]
    public var profile: String
    /// The provider app's name in the profile ("google", "microsoft", "google-work").
    public var provider: String
    public var account: String
    /// "Bearer".
    public var tokenType: String

    public init(value: String, expiresAt: Date, scopes: [String], profile: String, provider: String, account: String,
                tokenType: String = "Bearer") {
        self.value = value
        self.expiresAt = expiresAt
        self.scopes = scopes
        self.profile = profile
        self.provider = provider
        self.account = account
        self.tokenType = tokenType
    }

    /// Metadata only; the value is redacted.
    public var description: String {
        "AccessToken(profile: \(profile), provider: \(provider), account: \(account), scopes: \(scopes), expiresAt: \(expiresAt), value: <redacted>)"
    }

    public var customMirror: Mirror {
        Mirror(self, children: [
            "value": "<redacted>", "expiresAt": expiresAt, "scopes": scopes, "profile": profile,
            "provider": provider, "account": account, "tokenType": tokenType,
        ], displayStyle: .struct)
    }
}
