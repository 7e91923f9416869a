import BrokerCore

/// Everything needed to talk to one provider app, resolved from the app's vault record by
/// `resolve(...)`: the real providers' URLs by default, each overridable (docs/spec/oauth.md).
public struct ProviderConfig: Sendable, Equatable {
    public var type: ProviderType
    public var clientID: String
    /// Microsoft only: `common`, `organizations`, `consumers`, a tenant id (GUID) or a
    /// domain; `common` when the record has none. nil for the other types.
    public var tenant: String?
    public var authorizationURL: String
    public var tokenURL: String
    public var deviceAuthorizationURL: String?
    public var revocationURL: String?
    public var userinfoURL: String?
    /// How a `.secret` credential is sent (a key is always `private_key_jwt`).
    public var clientAuth: ClientAuthMethod
    /// Whether a refresh returns a new refresh token that replaces the old one (Microsoft,
    /// Zoom). Whatever this says, a refresh token in a response is the one to keep.
    public var rotatesRefreshTokens: Bool
    /// Added to the authorization URL (Google: `access_type=offline`, `prompt=consent`, so
    /// that every login returns a refresh token). Never overrides the parameters the
    /// request itself sets.
    public var extraAuthorizationParameters: [String: String]
    /// API base URLs by name, without a trailing slash: Google `calendar`, `gmail`,
    /// `people`; Microsoft `graph`; Zoom `zoom`; overridden or added by `api.NAME`.
    public var apiBaseURLs: [String: String]

    public init(
        type: ProviderType, clientID: String, tenant: String?, authorizationURL: String, tokenURL: String,
        deviceAuthorizationURL: String?, revocationURL: String?, userinfoURL: String?, clientAuth: ClientAuthMethod,
        rotatesRefreshTokens: Bool, extraAuthorizationParameters: [String: String], apiBaseURLs: [String: String] = [:]
    ) {
        self.type = type
        self.clientID = clientID
        self.tenant = tenant
        self.authorizationURL = authorizationURL
        self.tokenURL = tokenURL
        self.deviceAuthorizationURL = deviceAuthorizationURL
        self.revocationURL = revocationURL
        self.userinfoURL = userinfoURL
        self.clientAuth = clientAuth
        self.rotatesRefreshTokens = rotatesRefreshTokens
        self.extraAuthorizationParameters = extraAuthorizationParameters
        self.apiBaseURLs = apiBaseURLs
    }

    /// The names `resolve` accepts in `endpoints`, besides `api.NAME`.
    public static let endpointNames: [String] = ["authorization", "token", "device", "revocation", "userinfo", "authority"]

    /// Microsoft's public cloud; national clouds override `authority`
    /// (e.g. `https://login.microsoftonline.us`).
    public static let microsoftAuthority = "https://login.microsoftonline.com"
    public static let microsoftDefaultTenant = "common"

    /// The configuration of one app.
    ///
    /// - Parameters:
    ///   - endpoints: overrides by name: `authorization`, `token`, `device`, `revocation`,
    ///     `userinfo`, `authority` (Microsoft only: the login host, from which the
    ///     authorization, token and device URLs are built with the tenant) and `api.NAME`.
    ///     An empty value removes an optional endpoint (`device`, `revocation`,
    ///     `userinfo`, `api.NAME`). A `generic` app must name `authorization` and `token`.
    ///   - clientAuth: nil for the type's default (Google and Microsoft
    ///     `client_secret_post`, Zoom `client_secret_basic`, the only one Zoom accepts;
    ///     generic `client_secret_basic`, which RFC 6749 requires servers to support).
    ///   - rotatesRefreshTokens: nil for the type's default (Microsoft and Zoom true,
    ///     Google and generic false).
    /// - Throws: `.configuration` naming the bad value: an unknown endpoint name, a URL
    ///   that is not https:// (http:// only to a loopback host), a bad tenant or client id.
    public static func resolve(
        type: ProviderType, clientID: String, tenant: String?, endpoints: [String: String],
        clientAuth: ClientAuthMethod?, rotatesRefreshTokens: Bool?
    ) throws(OAuthError) -> ProviderConfig {
        guard isValidClientID(clientID) else {
            throw OAuthError(.configuration, "client id \"\(printableText(clientID))\" is empty, too long or has white space or control characters")
        }
        let givenTenant = (tenant?.isEmpty ?? true) ? nil : tenant
        var resolvedTenant: String?
        if type == .microsoft {
            let t = givenTenant ?? microsoftDefaultTenant
            guard isValidTenant(t) else {
                throw OAuthError(.configuration, "Microsoft tenant \"\(printableText(t))\" is not common, organizations, consumers, a tenant id or a domain name")
            }
            resolvedTenant = t
        } else if let givenTenant {
            throw OAuthError(.configuration, "a tenant (\"\(printableText(givenTenant))\") applies only to microsoft apps, not \(type.rawValue)")
        }

        for name in endpoints.keys.sorted() {
            if name.hasPrefix("api.") {
                let api = name.dropFirst(4)
                guard !api.isEmpty, api.count <= 64,
                    api.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") })
                else {
                    throw OAuthError(.configuration, "endpoint name \"\(printableText(name))\" is not api. followed by lowercase letters, digits, - or _")
                }
                continue
            }
            guard endpointNames.contains(name) else {
                throw OAuthError(.configuration, "unknown endpoint name \"\(printableText(name))\"; known: \(endpointNames.joined(separator: ", ")), api.NAME")
            }
            if name == "authority" && type != .microsoft {
                throw OAuthError(.configuration, "the authority endpoint applies only to microsoft apps, not \(type.rawValue)")
            }
        }

        var config = defaults(type: type, clientID: clientID, tenant: resolvedTenant)
        if type == .microsoft, let authority = endpoints["authority"] {
            guard !authority.isEmpty else { throw OAuthError(.configuration, "endpoint \"authority\" must not be empty") }
            let base = try checked(trimmingSlash(authority), name: "authority", allowQuery: false)
            let t = resolvedTenant ?? microsoftDefaultTenant
            config.authorizationURL = "\(base)/\(t)/oauth2/v2.0/authorize"
            config.tokenURL = "\(base)/\(t)/oauth2/v2.0/token"
            config.deviceAuthorizationURL = "\(base)/\(t)/oauth2/v2.0/devicecode"
        }
        if type == .generic {
            for required in ["authorization", "token"] where (endpoints[required] ?? "").isEmpty {
                throw OAuthError(.configuration, "a generic app needs its \(required) endpoint URL")
            }
        }
        for (name, value) in endpoints.sorted(by: { $0.key < $1.key }) where name != "authority" {
            let url: String? = value.isEmpty ? nil : try checked(value, name: name, allowQuery: true)
            switch name {
            case "authorization", "token":
                guard let url else { throw OAuthError(.configuration, "endpoint \"\(name)\" must not be empty") }
                if name == "authorization" { config.authorizationURL = url } else { config.tokenURL = url }
            case "device": config.deviceAuthorizationURL = url
            case "revocation": config.revocationURL = url
            case "userinfo": config.userinfoURL = url
            default: config.apiBaseURLs[String(name.dropFirst(4))] = url.map(trimmingSlash)
            }
        }
        // The defaults are https:// already; check the derived ones too, so that nothing
        // unchecked leaves here.
        _ = try checked(config.authorizationURL, name: "authorization", allowQuery: true)
        _ = try checked(config.tokenURL, name: "token", allowQuery: true)

        if let clientAuth {
            switch (type, clientAuth) {
            case (.zoom, .clientSecretBasic), (.google, .clientSecretPost), (.google, .clientSecretBasic), (.google, .none),
                (.microsoft, _), (.generic, _):
                config.clientAuth = clientAuth
            case (.zoom, _):
                throw OAuthError(.configuration, "zoom accepts client credentials only as client_secret_basic, not \(clientAuth.rawValue)")
            case (.google, _):
                throw OAuthError(.configuration, "google OAuth clients do not support \(clientAuth.rawValue); use a service account (JWT bearer) for keys")
            }
        }
        if let rotatesRefreshTokens { config.rotatesRefreshTokens = rotatesRefreshTokens }
        return config
    }

    /// The real providers' endpoints.
    static func defaults(type: ProviderType, clientID: String, tenant: String?) -> ProviderConfig {
        switch type {
        case .google:
            return ProviderConfig(
                type: .google, clientID: clientID, tenant: nil,
                authorizationURL: "https://accounts.google.com/o/oauth2/v2/auth",
                tokenURL: "https://oauth2.googleapis.com/token",
                deviceAuthorizationURL: "https://oauth2.googleapis.com/device/code",
                revocationURL: "https://oauth2.googleapis.com/revoke",
                userinfoURL: "https://www.googleapis.com/oauth2/v3/userinfo",
                clientAuth: .clientSecretPost, rotatesRefreshTokens: false,
                extraAuthorizationParameters: ["access_type": "offline", "prompt": "consent"],
                apiBaseURLs: [
                    "calendar": "https://www.googleapis.com/calendar/v3",
                    "gmail": "https://gmail.googleapis.com/gmail/v1",
                    "people": "https://people.googleapis.com/v1",
                ])
        case .microsoft:
            let t = tenant ?? microsoftDefaultTenant
            return ProviderConfig(
                type: .microsoft, clientID: clientID, tenant: t,
                authorizationURL: "\(microsoftAuthority)/\(t)/oauth2/v2.0/authorize",
                tokenURL: "\(microsoftAuthority)/\(t)/oauth2/v2.0/token",
                deviceAuthorizationURL: "\(microsoftAuthority)/\(t)/oauth2/v2.0/devicecode",
                revocationURL: nil,
                userinfoURL: "https://graph.microsoft.com/oidc/userinfo",
                clientAuth: .clientSecretPost, rotatesRefreshTokens: true,
                extraAuthorizationParameters: [:],
                apiBaseURLs: ["graph": "https://graph.microsoft.com/v1.0"])
        case .zoom:
            return ProviderConfig(
                type: .zoom, clientID: clientID, tenant: nil,
                authorizationURL: "https://zoom.us/oauth/authorize",
                tokenURL: "https://zoom.us/oauth/token",
                deviceAuthorizationURL: nil,
                revocationURL: "https://zoom.us/oauth/revoke",
                userinfoURL: nil,
                clientAuth: .clientSecretBasic, rotatesRefreshTokens: true,
                extraAuthorizationParameters: [:],
                apiBaseURLs: ["zoom": "https://api.zoom.us/v2"])
        case .generic:
            return ProviderConfig(
                type: .generic, clientID: clientID, tenant: nil, authorizationURL: "", tokenURL: "",
                deviceAuthorizationURL: nil, revocationURL: nil, userinfoURL: nil,
                clientAuth: .clientSecretBasic, rotatesRefreshTokens: false, extraAuthorizationParameters: [:])
        }
    }

    /// The endpoint overrides that point every URL of `type` at a running sandbox
    /// (`base` like `http://127.0.0.1:PORT`, docs/sandbox.md), including the API bases.
    /// Endpoints the sandbox does not emulate (Microsoft userinfo, Zoom revocation) are
    /// removed rather than left at the real provider. For Microsoft this sets `authority`,
    /// so the tenant given to `resolve` picks the path; `tenant` is accepted for symmetry
    /// and not needed. A generic app has no sandbox: empty.
    public static func sandboxEndpoints(type: ProviderType, base: String, tenant: String?) -> [String: String] {
        let b = trimmingSlash(base)
        switch type {
        case .google:
            return [
                "authorization": b + "/google/o/oauth2/v2/auth",
                "token": b + "/google/token",
                "device": b + "/google/device/code",
                "revocation": b + "/google/revoke",
                "userinfo": b + "/google/oauth2/v3/userinfo",
                "api.calendar": b + "/google/calendar/v3",
                "api.gmail": b + "/google/gmail/v1",
                "api.people": b + "/google/v1",
            ]
        case .microsoft:
            return [
                "authority": b + "/microsoft",
                "userinfo": "",
                "api.graph": b + "/microsoft/graph/v1.0",
            ]
        case .zoom:
            return [
                "authorization": b + "/zoom/oauth/authorize",
                "token": b + "/zoom/oauth/token",
                "revocation": "",
                "api.zoom": b + "/zoom/v2",
            ]
        case .generic:
            return [:]
        }
    }

    static func checked(_ url: String, name: String, allowQuery: Bool) throws(OAuthError) -> String {
        switch EndpointURL.check(url, allowQuery: allowQuery) {
        case .success: return url
        case .failure(let error): throw OAuthError(.configuration, "\(name) \(error.message)")
        }
    }

    static func trimmingSlash(_ url: String) -> String {
        var u = Substring(url)
        while u.hasSuffix("/") { u = u.dropLast() }
        return String(u)
    }

    static func isValidClientID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 256 && id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// A GUID or a DNS name of one or more labels (which covers `common`,
    /// `organizations`, `consumers` and `contoso.onmicrosoft.com`): nothing that could
    /// change the path or the query of the URLs it goes into.
    static func isValidTenant(_ tenant: String) -> Bool {
        guard !tenant.isEmpty, tenant.utf8.count <= 253 else { return false }
        let labels = tenant.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.utf8.allSatisfy { b in
                    (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                        || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
                }
        }
    }
}
