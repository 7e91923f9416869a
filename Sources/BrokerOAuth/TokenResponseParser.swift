public import BrokerHTTP
public import FoundationEssentials
import BrokerCore

/// Reads token endpoint responses strictly and within bounds (docs/spec/oauth.md, "Token
/// responses"). Anything unexpected is `.invalidResponse` and nothing of it is kept; an
/// error response becomes an `OAuthError` of the matching kind.
public enum TokenResponseParser {
    /// A token response is a few KiB; the transport caps bodies at 1 MiB as well.
    public static let maxBodyBytes = 1 << 20
    /// Access and refresh tokens: Microsoft's JWT access tokens reach 2-3 KiB with many
    /// groups; 16 KiB leaves room without letting a hostile response fill the vault.
    public static let maxTokenBytes = 16 * 1024
    public static let maxIDTokenBytes = 64 * 1024
    /// A lifetime outside this range is refused: 0 or less cannot be scheduled, and no
    /// provider issues access tokens for more than a day.
    public static let expiresInRange = 1...86_400
    /// Device and user codes, verification URLs.
    public static let maxCodeBytes = 4096

    /// A validated token set from `response`.
    ///
    /// - Parameters:
    ///   - requestedScopes: reported as the token's scopes when the provider omits `scope`.
    ///   - allowedScopes: what the token may carry; a returned scope outside it (identity
    ///     scopes and Microsoft's bare-versus-full Graph names aside) is `.invalidResponse`.
    ///     nil accepts whatever the provider says (Zoom apps whose scopes are fixed in the
    ///     Marketplace).
    ///   - now: for a Retry-After given as an HTTP date.
    public static func parse(
        _ response: HTTPResponse, requestedScopes: [String], allowedScopes: [String]?, now: Date = Date()
    ) throws(OAuthError) -> OAuthTokenSet {
        try parse(response, requestedScopes: requestedScopes, allowedScopes: allowedScopes, now: now, redacting: [])
    }

    package static func parse(
        _ response: HTTPResponse, requestedScopes: [String], allowedScopes: [String]?, now: Date, redacting secrets: [String]
    ) throws(OAuthError) -> OAuthTokenSet {
        guard response.status == 200 else { throw error(from: response, now: now, redacting: secrets) }
        let object = try successObject(response, what: "token response", now: now, redacting: secrets)

        let accessToken = try token(object["access_token"], name: "access_token", limit: maxTokenBytes, required: true)!
        guard let type = object["token_type"] else { throw invalid("token response has no token_type") }
        guard let typeText = type.string else { throw invalid("token response's token_type is not a string") }
        guard typeText.lowercased() == "bearer" else {
            throw invalid("token response's token_type is \"\(describe(typeText, redacting: secrets))\", not Bearer")
        }
        let expiresIn = try lifetime(object["expires_in"], what: "token response")
        let refreshToken = try token(object["refresh_token"], name: "refresh_token", limit: maxTokenBytes, required: false)
        let idToken = try token(object["id_token"], name: "id_token", limit: maxIDTokenBytes, required: false)

        var scopes: [String] = []
        var returned: [String]?
        switch object["scope"] {
        case nil, .null?: returned = nil
        case .string(let text)?:
            guard text.utf8.count <= ScopeRules.maxScopes * ScopeRules.maxScopeBytes else { throw invalid("token response's scope is too long") }
            let list = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            returned = list.isEmpty ? nil : list
        default: throw invalid("token response's scope is not a string")
        }
        if let returned {
            var outside: [String] = []
            for scope in returned {
                guard scope.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw invalid("token response's scope has non-printable characters") }
                if let full = ScopeRules.canonical(scope, allowed: allowedScopes) {
                    if !scopes.contains(full) { scopes.append(full) }
                } else {
                    outside.append(scope)
                }
            }
            guard outside.isEmpty else {
                let names = outside.prefix(5).map { describe($0, redacting: secrets) }.joined(separator: " ")
                throw invalid("token response grants scopes that were not asked for or granted: \(names)")
            }
        } else {
            scopes = requestedScopes
        }
        return OAuthTokenSet(accessToken: accessToken, expiresIn: expiresIn, refreshToken: refreshToken, scopes: scopes, idToken: idToken)
    }

    /// A validated device authorization (RFC 8628 §3.2) from `response`.
    public static func parseDeviceAuthorization(_ response: HTTPResponse, now: Date = Date()) throws(OAuthError) -> DeviceAuthorization {
        try parseDeviceAuthorization(response, now: now, redacting: [])
    }

    package static func parseDeviceAuthorization(_ response: HTTPResponse, now: Date, redacting secrets: [String]) throws(OAuthError) -> DeviceAuthorization {
        guard response.status == 200 else { throw error(from: response, now: now, redacting: secrets) }
        let object = try successObject(response, what: "device authorization response", now: now, redacting: secrets)
        let deviceCode = try token(object["device_code"], name: "device_code", limit: maxCodeBytes, required: true)!
        let userCode = try token(object["user_code"], name: "user_code", limit: 64, required: true)!
        let uriValue = object["verification_uri"] ?? object["verification_url"]
        guard let uri = try token(uriValue, name: "verification_uri", limit: maxCodeBytes, required: true) else {
            throw invalid("device authorization response has no verification_uri")
        }
        guard case .success = EndpointURL.check(uri) else { throw invalid("device authorization response's verification_uri is not an https URL") }
        var complete: String?
        if let c = try token(object["verification_uri_complete"] ?? object["verification_url_complete"], name: "verification_uri_complete", limit: maxCodeBytes, required: false) {
            guard case .success = EndpointURL.check(c) else { throw invalid("device authorization response's verification_uri_complete is not an https URL") }
            complete = c
        }
        let expiresIn = try lifetime(object["expires_in"], what: "device authorization response")
        var interval = 5
        if let value = object["interval"], !value.isNull {
            guard let n = integer(value), (0...3600).contains(n) else { throw invalid("device authorization response's interval is not a whole number of seconds in 0 ... 3600") }
            interval = n
        }
        return DeviceAuthorization(deviceCode: deviceCode, userCode: userCode, verificationURI: uri, verificationURIComplete: complete, expiresIn: expiresIn, interval: interval)
    }

    /// The error a response that is not a success stands for.
    ///
    /// 429 is `.rateLimited` and 5xx `.serverError` (with Retry-After when given); other
    /// statuses map by the body's `error` (Google, Microsoft, RFC 6749) or Zoom's
    /// `{"reason", "error"}`, falling back on the status. Microsoft's first `error_codes`
    /// entry becomes `providerCode` `AADSTSnnnn`.
    public static func error(from response: HTTPResponse, now: Date = Date()) -> OAuthError {
        error(from: response, now: now, redacting: [])
    }

    package static func error(from response: HTTPResponse, now: Date, redacting secrets: [String]) -> OAuthError {
        let status = response.status
        var code: String?
        var description: String?
        var aadsts: Int?
        if response.body.count <= maxBodyBytes, case .object(let object)? = try? JSONValue.parse(response.body) {
            // A code that carries a secret of the request is no code we know: dropped.
            code = object["error"]?.string.flatMap(sanitizeCode).flatMap { redact($0, secrets) == $0 ? $0 : nil }
            description = (object["error_description"]?.string ?? object["reason"]?.string ?? object["message"]?.string)
                .map { sanitizeDescription($0, redacting: secrets) }
            if let first = object["error_codes"]?.array?.first?.int, first > 0, first < 1_000_000_000 { aadsts = first }
        }
        var retryAfter: Int?
        if status == 429 || (500...599).contains(status), let header = response.header("Retry-After") {
            retryAfter = RetryAfter.seconds(header, now: now)
        }
        let kind: OAuthError.Kind
        if status == 429 {
            kind = .rateLimited
        } else if (500...599).contains(status) {
            kind = .serverError
        } else if let code, let mapped = kindByCode[code.lowercased()] {
            kind = mapped
        } else {
            switch status {
            case 400: kind = .invalidRequest
            case 401: kind = .invalidClient
            case 403: kind = .accessDenied
            case 408: kind = .network
            case 300...399: kind = .configuration
            case 404, 405, 410: kind = .configuration
            case 200...299: kind = .invalidResponse
            default: kind = .invalidRequest
            }
        }
        var message = "HTTP \(status)"
        if let code { message += " \(code)" }
        if let aadsts { message += " (AADSTS\(aadsts))" }
        if let description, !description.isEmpty { message += ": \(description)" }
        switch kind {
        case .rateLimited: message += retryAfter.map { "; rate limited, retry after \($0) s" } ?? "; rate limited"
        case .serverError: message += retryAfter.map { "; provider unavailable, retry after \($0) s" } ?? "; provider error"
        case .configuration where (300...399).contains(status): message += "; the endpoint redirects: check its URL"
        case .configuration: message += "; check the endpoint URL"
        default: break
        }
        return OAuthError(kind, message, providerCode: aadsts.map { "AADSTS\($0)" } ?? code, retryAfterSeconds: retryAfter, httpStatus: status)
    }

    static let kindByCode: [String: OAuthError.Kind] = [
        "invalid_grant": .invalidGrant, "interaction_required": .invalidGrant, "consent_required": .invalidGrant,
        "login_required": .invalidGrant, "invalid_token": .invalidGrant, "bad_verification_code": .invalidGrant,
        "invalid_client": .invalidClient,
        "invalid_scope": .invalidScope,
        "unauthorized_client": .unauthorizedClient,
        "access_denied": .accessDenied, "authorization_declined": .accessDenied,
        "authorization_pending": .authorizationPending,
        "slow_down": .slowDown,
        "expired_token": .expiredToken, "code_expired": .expiredToken,
        "invalid_request": .invalidRequest, "unsupported_grant_type": .invalidRequest,
        "unsupported_response_type": .invalidRequest, "redirect_uri_mismatch": .invalidRequest,
        "temporarily_unavailable": .serverError, "server_error": .serverError,
    ]

    // MARK: Pieces

    /// The JSON object of a 200 response; a 200 that carries an OAuth `error` instead of a
    /// token (some providers answer errors so) becomes that error.
    static func successObject(_ response: HTTPResponse, what: String, now: Date, redacting secrets: [String]) throws(OAuthError) -> [String: JSONValue] {
        guard response.body.count <= maxBodyBytes else { throw invalid("\(what) is larger than \(maxBodyBytes) bytes") }
        let value: JSONValue
        do {
            value = try JSONValue.parse(response.body, rejectingDuplicateKeys: true)
        } catch {
            throw invalid("\(what) is not valid JSON: \(error.message)")
        }
        guard case .object(let object) = value else { throw invalid("\(what) is not a JSON object") }
        if object["access_token"] == nil && object["device_code"] == nil, object["error"]?.string != nil {
            var e = self.error(from: response, now: now, redacting: secrets)
            if e.kind == .invalidResponse { e.kind = .invalidRequest }
            throw e
        }
        return object
    }

    /// A token-like string member: printable ASCII without spaces (it ends up in an
    /// Authorization header or a form), 1 ... `limit` bytes. JSON null counts as absent.
    static func token(_ value: JSONValue?, name: String, limit: Int, required: Bool) throws(OAuthError) -> String? {
        guard let value, !value.isNull else {
            if required { throw invalid("response has no \(name)") }
            return nil
        }
        guard let text = value.string else { throw invalid("response's \(name) is not a string") }
        guard !text.isEmpty else { throw invalid("response's \(name) is empty") }
        guard text.utf8.count <= limit else { throw invalid("response's \(name) is longer than \(limit) bytes") }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw invalid("response's \(name) has white space, control or non-ASCII characters")
        }
        return text
    }

    /// `expires_in`: a whole JSON number, or a string of digits as some providers send it.
    static func lifetime(_ value: JSONValue?, what: String) throws(OAuthError) -> Int {
        guard let value, !value.isNull else { throw invalid("\(what) has no expires_in") }
        guard let seconds = integer(value) else { throw invalid("\(what)'s expires_in is not a whole number of seconds") }
        guard expiresInRange.contains(seconds) else {
            throw invalid("\(what)'s expires_in \(seconds) is outside \(expiresInRange.lowerBound) ... \(expiresInRange.upperBound)")
        }
        return seconds
    }

    static func integer(_ value: JSONValue) -> Int? {
        switch value {
        case .number:
            return value.int
        case .string(let text):
            guard !text.isEmpty, text.utf8.count <= 12, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return Int(text)
        default:
            return nil
        }
    }

    static func invalid(_ message: String) -> OAuthError { OAuthError(.invalidResponse, message) }

    /// An OAuth error code as a provider code: [A-Za-z0-9_.:-], at most 64 characters.
    static func sanitizeCode(_ code: String) -> String? {
        guard !code.isEmpty, code.utf8.count <= 64,
            code.utf8.allSatisfy({ b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2E || b == 0x3A || b == 0x2D
            })
        else { return nil }
        return code
    }

    /// A provider's description fit for a message: Microsoft's trace trailer cut, first line
    /// only, printable ASCII with single spaces, secrets the request carried removed (raw
    /// and form-encoded), at most `OAuthError.maxDescriptionLength` characters. Secrets go
    /// after the text is made printable, so control characters inside a secret cannot hide
    /// it, and before the cut, so no part of one is left at the end.
    static func sanitizeDescription(_ text: String, redacting secrets: [String]) -> String {
        var t = text
        if let r = t.firstRange(of: " Trace ID:") { t = String(t[..<r.lowerBound]) }
        if let newline = t.firstIndex(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) { t = String(t[..<newline]) }
        var out = ""
        var lastWasSpace = false
        for scalar in t.unicodeScalars {
            guard scalar.value >= 0x20, scalar.value < 0x7F else { continue }
            if scalar == " " {
                if lastWasSpace { continue }
                lastWasSpace = true
            } else {
                lastWasSpace = false
            }
            out.unicodeScalars.append(scalar)
        }
        out = redact(out, secrets).trimmingASCIIWhitespaceAndTabs()
        if out.utf8.count > OAuthError.maxDescriptionLength { out = String(out.prefix(OAuthError.maxDescriptionLength)) + "..." }
        return out
    }

    /// `text` with every secret of at least 4 bytes, raw or form-encoded, replaced.
    static func redact(_ text: String, _ secrets: [String]) -> String {
        var t = text
        for secret in secrets where secret.utf8.count >= 4 {
            t = t.replacing(secret, with: "[redacted]")
            let encoded = FormEncoding.percentEncode(secret)
            if encoded != secret { t = t.replacing(encoded, with: "[redacted]") }
        }
        return t
    }

    /// A short value (a token_type, a scope name) for a message: printable ASCII, secrets
    /// removed as in `sanitizeDescription`, 40 characters.
    static func describe(_ text: String, redacting secrets: [String]) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: text.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F })
        let printable = redact(String(scalars), secrets)
        let kept = String(printable.prefix(40))
        return printable.count > 40 ? kept + "..." : kept
    }
}
