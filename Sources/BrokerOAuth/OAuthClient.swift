import BrokerCore
public import BrokerHTTP
public import FoundationEssentials
public import BrokerCrypto

/// The OAuth flows against one provider app (docs/spec/oauth.md): authorization code with
/// PKCE, refresh, device code, client credentials, Zoom account credentials, Google
/// service-account JWT bearer, and revocation.
///
/// Every call is one HTTP request through `transport`. Secrets (the client secret, refresh
/// token, codes, assertions) go only into request bodies or the Authorization header,
/// never into a URL, and never into an error message: a provider description that echoes
/// one has it replaced by `[redacted]`.
public struct OAuthClient: Sendable {
    public let config: ProviderConfig
    let credential: ClientCredential
    let transport: any HTTPTransport
    let now: @Sendable () -> Date

    public init(config: ProviderConfig, credential: ClientCredential, transport: any HTTPTransport, now: @escaping @Sendable () -> Date = { Date() }) {
        self.config = config
        self.credential = credential
        self.transport = transport
        self.now = now
    }

    static let jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    static let deviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code"
    static let clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// A client assertion is good for five minutes (Microsoft accepts up to ten).
    static let clientAssertionLifetime: Int64 = 300
    /// Google's limit for a service-account assertion.
    static let serviceAccountAssertionLifetime: Int64 = 3600
    static let graphDefaultScope = "https://graph.microsoft.com/.default"

    // MARK: Flows

    /// Redeems an authorization code (RFC 6749 §4.1.3) with its PKCE verifier.
    ///
    /// `requestedScopes` are the scopes of the authorization request: the token may carry
    /// no others (identity scopes aside). Empty accepts what the provider grants (Zoom).
    public func exchangeCode(_ code: String, codeVerifier: String, redirectURI: String, requestedScopes: [String]) async throws(OAuthError) -> OAuthTokenSet {
        guard Self.isPrintable(code, limit: TokenResponseParser.maxCodeBytes) else {
            throw OAuthError(.invalidRequest, "the authorization code is empty, too long or has white space or control characters")
        }
        guard PKCE.isValidVerifier(codeVerifier) else {
            throw OAuthError(.invalidRequest, "the PKCE verifier is not 43 ... 128 unreserved characters")
        }
        guard Self.isPrintable(redirectURI, limit: 2048) else { throw OAuthError(.invalidRequest, "the redirect URI is empty or malformed") }
        try ScopeRules.validate(requestedScopes)
        var form = Form(pairs: [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", codeVerifier),
        ], secrets: [code, codeVerifier])
        try authenticateClient(&form)
        // At consent the grant is what the provider says: Zoom grants the scopes set in the
        // app's settings, Microsoft adds scopes the user consented to before. (A refresh is
        // then held to this grant.)
        let lenient = requestedScopes.isEmpty || config.type == .zoom || config.type == .microsoft
        return try await tokenRequest(
            form, what: "authorization code exchange", requestedScopes: requestedScopes,
            allowedScopes: lenient ? nil : requestedScopes)
    }

    /// Uses a refresh token (RFC 6749 §6) for an access token with `scopes` (empty: the
    /// whole grant), which must lie within `grantScopes`, the scopes the grant holds.
    ///
    /// Google gets `scope` only to narrow the token; Microsoft always gets `scope` (one
    /// resource's scopes, pass them per resource) plus `offline_access`; Zoom gets none.
    /// The token may carry no scope outside `grantScopes` (identity scopes aside); empty
    /// `grantScopes` accepts what the provider says.
    public func refresh(refreshToken: String, scopes: [String], grantScopes: [String]) async throws(OAuthError) -> OAuthTokenSet {
        guard Self.isPrintable(refreshToken, limit: TokenResponseParser.maxTokenBytes) else {
            throw OAuthError(.invalidRequest, "the refresh token is empty, too long or has white space or control characters")
        }
        try ScopeRules.validate(scopes)
        try ScopeRules.validate(grantScopes)
        if !grantScopes.isEmpty {
            let outside = scopes.filter { ScopeRules.canonical($0, allowed: grantScopes) == nil }
            guard outside.isEmpty else {
                throw OAuthError(.invalidScope, "scopes outside the grant: \(outside.prefix(5).map { printableText($0) }.joined(separator: " "))")
            }
        }
        let requested = scopes.isEmpty ? grantScopes : scopes
        var form = Form(pairs: [("grant_type", "refresh_token"), ("refresh_token", refreshToken)], secrets: [refreshToken])
        switch config.type {
        case .google, .generic:
            if !scopes.isEmpty { form.pairs.append(("scope", ScopeRules.requestScopes(scopes, type: config.type, addOfflineAccess: false).joined(separator: " "))) }
        case .microsoft:
            let wire = ScopeRules.requestScopes(requested, type: .microsoft, addOfflineAccess: true)
            form.pairs.append(("scope", wire.joined(separator: " ")))
        case .zoom:
            break
        }
        try authenticateClient(&form)
        return try await tokenRequest(form, what: "token refresh", requestedScopes: requested, allowedScopes: grantScopes.isEmpty ? nil : grantScopes)
    }

    /// Starts a device authorization (RFC 8628 §3.1). Google and Microsoft take the client
    /// id alone here; a generic app also authenticates.
    public func startDeviceAuthorization(scopes: [String]) async throws(OAuthError) -> DeviceAuthorization {
        guard let url = config.deviceAuthorizationURL else {
            throw OAuthError(.configuration, "the \(config.type.rawValue) app has no device authorization endpoint")
        }
        guard !scopes.isEmpty else { throw OAuthError(.invalidScope, "a device authorization needs at least one scope") }
        try ScopeRules.validate(scopes)
        var form = Form(pairs: [], secrets: [])
        if config.type == .generic {
            try authenticateClient(&form)
        } else {
            form.pairs.append(("client_id", config.clientID))
        }
        form.pairs.append(("scope", ScopeRules.requestScopes(scopes, type: config.type, addOfflineAccess: true).joined(separator: " ")))
        let what = "device authorization"
        let response = try await post(url, form: form, what: what)
        do {
            return try TokenResponseParser.parseDeviceAuthorization(response, now: now(), redacting: form.secrets)
        } catch {
            throw prefixed(error, what: what, url: url)
        }
    }

    /// Polls once for the tokens of a device authorization (RFC 8628 §3.4). Throws
    /// `.authorizationPending` (poll again after `interval`), `.slowDown` (add 5 s to the
    /// interval), `.accessDenied` or `.expiredToken` (stop).
    public func pollDevice(_ device: DeviceAuthorization, requestedScopes: [String]) async throws(OAuthError) -> OAuthTokenSet {
        try ScopeRules.validate(requestedScopes)
        var form = Form(pairs: [("grant_type", Self.deviceCodeGrant), ("device_code", device.deviceCode)], secrets: [device.deviceCode])
        try authenticateClient(&form)
        return try await tokenRequest(
            form, what: "device code poll", requestedScopes: requestedScopes, allowedScopes: requestedScopes.isEmpty ? nil : requestedScopes)
    }

    /// An app-only token (RFC 6749 §4.4): Microsoft (`scopes` empty means Graph's
    /// `.default`) and generic apps, with a secret or a key.
    public func clientCredentials(scopes: [String]) async throws(OAuthError) -> OAuthTokenSet {
        switch config.type {
        case .google: throw OAuthError(.configuration, "google has no client credentials grant; use a service account (jwtBearer)")
        case .zoom: throw OAuthError(.configuration, "zoom apps get app tokens with account credentials (zoomAccountCredentials)")
        case .microsoft, .generic: break
        }
        if case .none = credential { throw OAuthError(.configuration, "the client credentials grant needs the app's client secret or private key") }
        try ScopeRules.validate(scopes)
        let wire = scopes.isEmpty && config.type == .microsoft ? [Self.graphDefaultScope] : scopes
        var form = Form(pairs: [("grant_type", "client_credentials")], secrets: [])
        if !wire.isEmpty { form.pairs.append(("scope", wire.joined(separator: " "))) }
        try authenticateClient(&form)
        return try await tokenRequest(form, what: "client credentials grant", requestedScopes: wire, allowedScopes: wire.isEmpty ? nil : wire)
    }

    /// A Zoom server-to-server app's token (`grant_type=account_credentials`). Its scopes
    /// are the app's, as Zoom reports them.
    public func zoomAccountCredentials(accountID: String) async throws(OAuthError) -> OAuthTokenSet {
        guard config.type == .zoom else { throw OAuthError(.configuration, "account credentials are a zoom grant, not \(config.type.rawValue)") }
        guard Self.isPrintable(accountID, limit: 256) else { throw OAuthError(.configuration, "the zoom account id is empty or malformed") }
        var form = Form(pairs: [("grant_type", "account_credentials"), ("account_id", accountID)], secrets: [])
        try authenticateClient(&form)
        return try await tokenRequest(form, what: "account credentials grant", requestedScopes: [], allowedScopes: nil)
    }

    /// A Google service account's token (RFC 7523 §2.1): an RS256 assertion with `iss` the
    /// account, `scope` the scopes, `aud` the token URL, `iat` now and `exp` an hour later,
    /// and `sub` the user to act for under domain-wide delegation.
    public func jwtBearer(
        serviceAccountEmail: String, privateKeyPEM: String, keyID: String?, scopes: [String], subject: String?
    ) async throws(OAuthError) -> OAuthTokenSet {
        var bytes = Array(privateKeyPEM.utf8)
        let key = SecretBytes(copying: bytes)
        wipe(&bytes)
        return try await jwtBearer(serviceAccountEmail: serviceAccountEmail, privateKey: key, keyID: keyID, scopes: scopes, subject: subject)
    }

    /// As `jwtBearer(serviceAccountEmail:privateKeyPEM:...)`, with the PEM in guarded memory.
    public func jwtBearer(
        serviceAccountEmail: String, privateKey: borrowing SecretBytes, keyID: String?, scopes: [String], subject: String?
    ) async throws(OAuthError) -> OAuthTokenSet {
        guard config.type == .google || config.type == .generic else {
            throw OAuthError(.configuration, "the JWT bearer grant is for google service accounts, not \(config.type.rawValue)")
        }
        guard Self.isPrintable(serviceAccountEmail, limit: 320) else { throw OAuthError(.configuration, "the service account email is empty or malformed") }
        guard !scopes.isEmpty else { throw OAuthError(.invalidScope, "a service account token needs at least one scope") }
        try ScopeRules.validate(scopes)
        if let subject, !Self.isPrintable(subject, limit: 320) { throw OAuthError(.configuration, "the delegated subject is empty or malformed") }
        if let keyID, !Self.isPrintable(keyID, limit: 256) { throw OAuthError(.configuration, "the key id is empty or malformed") }
        let issuedAt = Int64(now().timeIntervalSince1970.rounded(.down))
        var claims: [(String, JWS.Claim)] = [
            ("iss", .string(serviceAccountEmail)), ("scope", .string(scopes.joined(separator: " "))),
            ("aud", .string(config.tokenURL)), ("iat", .int(issuedAt)), ("exp", .int(issuedAt + Self.serviceAccountAssertionLifetime)),
        ]
        if let subject { claims.append(("sub", .string(subject))) }
        let assertion = try JWS.signRS256(header: keyID.map { [("kid", $0)] } ?? [], claims: claims, pem: privateKey)
        let form = Form(pairs: [("grant_type", Self.jwtBearerGrant), ("assertion", assertion)], secrets: [assertion])
        return try await tokenRequest(form, what: "service account grant", requestedScopes: scopes, allowedScopes: scopes)
    }

    /// Revokes a refresh or access token (RFC 7009). Google takes the token alone; Zoom and
    /// generic apps authenticate the client. A provider without a revocation endpoint
    /// (Microsoft) is `.configuration`. An already invalid token is `.invalidGrant`.
    public func revoke(token: String) async throws(OAuthError) {
        guard let url = config.revocationURL else {
            throw OAuthError(.configuration, "the \(config.type.rawValue) app has no revocation endpoint")
        }
        guard Self.isPrintable(token, limit: TokenResponseParser.maxTokenBytes) else {
            throw OAuthError(.invalidRequest, "the token to revoke is empty, too long or has white space or control characters")
        }
        var form = Form(pairs: [("token", token)], secrets: [token])
        if config.type != .google { try authenticateClient(&form) }
        let what = "token revocation"
        let response = try await post(url, form: form, what: what)
        guard (200...299).contains(response.status) else {
            throw prefixed(TokenResponseParser.error(from: response, now: now(), redacting: form.secrets), what: what, url: url)
        }
    }

    // MARK: Plumbing

    /// A form body being built, the headers it needs, and the secrets it carries (removed
    /// from any provider text that echoes them).
    struct Form {
        var pairs: [(String, String)]
        var headers: [HTTPHeaderField] = []
        var secrets: [String]
    }

    /// Adds the client's authentication to `form`: the credential decides (none: a public
    /// client; a key: `private_key_jwt`; a secret: post or Basic as configured).
    func authenticateClient(_ form: inout Form) throws(OAuthError) {
        switch credential {
        case .none:
            if config.type == .zoom { throw OAuthError(.configuration, "zoom apps need their client secret (client_secret_basic)") }
            form.pairs.append(("client_id", config.clientID))
        case .secret(let secret):
            guard Self.isPrintable(secret, limit: 4096) else {
                throw OAuthError(.configuration, "the client secret is empty, too long or has white space or control characters")
            }
            form.secrets.append(secret)
            switch config.clientAuth {
            case .clientSecretPost:
                form.pairs.append(("client_id", config.clientID))
                form.pairs.append(("client_secret", secret))
            case .clientSecretBasic:
                // RFC 6749 §2.3.1: both form-encoded before base64.
                let pair = FormEncoding.percentEncode(config.clientID) + ":" + FormEncoding.percentEncode(secret)
                form.headers.append(HTTPHeaderField("Authorization", "Basic " + Base64URL.standard(Array(pair.utf8))))
            case .privateKeyJWT, .none:
                throw OAuthError(.configuration, "the app is configured for \(config.clientAuth.rawValue) but its credential is a client secret")
            }
        case .privateKey(let pem, let keyID):
            guard config.type == .microsoft || config.type == .generic else {
                throw OAuthError(.configuration, "\(config.type.rawValue) apps do not authenticate with a private key")
            }
            if let keyID, !Self.isPrintable(keyID, limit: 256) { throw OAuthError(.configuration, "the key id is empty or malformed") }
            let issuedAt = Int64(now().timeIntervalSince1970.rounded(.down))
            let claims: [(String, JWS.Claim)] = [
                ("aud", .string(config.tokenURL)), ("exp", .int(issuedAt + Self.clientAssertionLifetime)),
                ("iat", .int(issuedAt)), ("iss", .string(config.clientID)), ("jti", .string(JWS.newID())),
                ("nbf", .int(issuedAt)), ("sub", .string(config.clientID)),
            ]
            var header: [(String, String)] = []
            if let keyID { header.append(config.type == .microsoft ? JWS.thumbprintHeader(keyID) : ("kid", keyID)) }
            var bytes = Array(pem.utf8)
            let key = SecretBytes(copying: bytes)
            wipe(&bytes)
            let assertion = try JWS.signRS256(header: header, claims: claims, pem: key)
            form.secrets.append(assertion)
            form.pairs.append(("client_id", config.clientID))
            form.pairs.append(("client_assertion_type", Self.clientAssertionType))
            form.pairs.append(("client_assertion", assertion))
        }
    }

    func tokenRequest(_ form: Form, what: String, requestedScopes: [String], allowedScopes: [String]?) async throws(OAuthError) -> OAuthTokenSet {
        let response = try await post(config.tokenURL, form: form, what: what)
        do {
            return try TokenResponseParser.parse(
                response, requestedScopes: requestedScopes, allowedScopes: allowedScopes, now: now(), redacting: form.secrets)
        } catch {
            throw prefixed(error, what: what, url: config.tokenURL)
        }
    }

    func post(_ url: String, form: Form, what: String) async throws(OAuthError) -> HTTPResponse {
        var headers = [
            HTTPHeaderField("Content-Type", "application/x-www-form-urlencoded"), HTTPHeaderField("Accept", "application/json"),
        ]
        headers += form.headers
        let request = HTTPRequest(method: "POST", url: url, headers: headers, body: Array(FormEncoding.encode(form.pairs).utf8))
        do {
            return try await transport.send(request)
        } catch {
            let kind: OAuthError.Kind
            switch error.kind {
            case .invalidURL, .insecureURL, .configuration: kind = .configuration
            case .responseTooLarge: kind = .invalidResponse
            default: kind = .network
            }
            throw OAuthError(kind, "\(what) at \(EndpointURL.host(of: url)): \(error.message)")
        }
    }

    func prefixed(_ error: OAuthError, what: String, url: String) -> OAuthError {
        var e = error
        e.message = "\(what) at \(EndpointURL.host(of: url)): \(error.message)"
        return e
    }

    static func isPrintable(_ text: String, limit: Int) -> Bool {
        !text.isEmpty && text.utf8.count <= limit && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
