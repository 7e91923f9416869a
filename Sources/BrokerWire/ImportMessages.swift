/// `POST /v1/admin/import` (docs/spec/api.md, "Imports"): a credential found outside the
/// vault, stored with its app in one step that stores everything or nothing.
public struct ImportRequest: Codable, Sendable {
    public var profile: String
    /// The provider app's name in the profile.
    public var app: String
    /// The app to create when the profile has none named `app`; when it has one, this must
    /// agree with it (type, client id, and client secret when both have one).
    public var appRecord: AppRecord?
    /// nil: asked of the provider's userinfo endpoint at verification.
    public var account: String?
    /// `scopes` may be empty when `verify` is true: the provider's answer fills them.
    public var grant: GrantRecord
    public var verify: Bool
    public var dryRun: Bool?
    /// Where the credential came from (a file name), for the audit line. Never a secret.
    public var source: String?

    public init(profile: String, app: String, appRecord: AppRecord?, account: String?, grant: GrantRecord, verify: Bool, dryRun: Bool? = nil, source: String? = nil) {
        self.profile = profile
        self.app = app
        self.appRecord = appRecord
        self.account = account
        self.grant = grant
        self.verify = verify
        self.dryRun = dryRun
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case profile, app, account, grant, verify, source
        case appRecord = "app_record"
        case dryRun = "dry_run"
    }
}

/// The answer of `POST /v1/admin/import`.
public struct ImportResponse: Codable, Sendable, Equatable {
    public var profile: String
    public var app: String
    /// nil only in a dry run whose account is known only after verification.
    public var account: String?
    public var scopes: [String]
    public var createdProfile: Bool
    public var createdApp: Bool
    public var verified: Bool
    public var refreshTokenRotated: Bool
    public var message: String

    public init(profile: String, app: String, account: String?, scopes: [String], createdProfile: Bool, createdApp: Bool,
                verified: Bool, refreshTokenRotated: Bool, message: String) {
        self.profile = profile
        self.app = app
        self.account = account
        self.scopes = scopes
        self.createdProfile = createdProfile
        self.createdApp = createdApp
        self.verified = verified
        self.refreshTokenRotated = refreshTokenRotated
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case profile, app, account, scopes, verified, message
        case createdProfile = "created_profile"
        case createdApp = "created_app"
        case refreshTokenRotated = "refresh_token_rotated"
    }
}
