public import APIClientCore
import BrokerHTTP
import Foundation

/// Turns Google's error answers into `APIError`.
///
/// Google APIs answer `{"error": {"code", "message", "status", "errors": [{"reason",
/// "domain", "message"}], "details": [{"@type", "reason", ...}]}}`:
///
/// | answer | code |
/// |---|---|
/// | 401 | `unauthorized` |
/// | 403 `ACCESS_TOKEN_SCOPE_INSUFFICIENT`, `insufficientPermissions`, `insufficient_scope` | `insufficientPermissions`; `missingScopes` = the scopes Google's `WWW-Authenticate` challenge names (any one will do), else the request's |
/// | 403 `rateLimitExceeded`, `userRateLimitExceeded` (retried), `quotaExceeded`, `dailyLimitExceeded`; 429 | `rateLimited` |
/// | other 403 | `forbidden` |
/// | 404, 410 | `notFound` |
/// | other 4xx | `invalidRequest` with Google's message |
/// | 5xx | `serverError` |
public struct GoogleErrorDecoder: APIErrorDecoder {
    /// 403 reasons Google retries after backoff (Calendar and Gmail usage limits).
    static let retryableRateReasons: Set<String> = ["rateLimitExceeded", "userRateLimitExceeded"]
    /// 403 reasons that are quota errors but not worth retrying at once.
    static let quotaReasons: Set<String> = ["quotaExceeded", "dailyLimitExceeded"]
    static let scopeReasons: Set<String> = ["ACCESS_TOKEN_SCOPE_INSUFFICIENT", "insufficientPermissions"]

    public init() {}

    public func error(for response: APIResponse, request: APIRequest) -> APIError {
        error(status: response.status, headers: response.headers, body: response.body, scopes: request.scopes)
    }

    public func isRateLimit(_ response: APIResponse) -> Bool {
        isRateLimit(status: response.status, body: response.body)
    }

    /// 429, or 403 with a `rateLimitExceeded`/`userRateLimitExceeded` reason.
    func isRateLimit(status: Int, body: [UInt8]) -> Bool {
        if status == 429 { return true }
        guard status == 403 else { return false }
        return GoogleErrorBody.parse(body).reasons.contains { Self.retryableRateReasons.contains($0) }
    }

    /// The error for one answer (also used for the parts of a batch answer).
    func error(status: Int, headers: [HTTPHeaderField], body: [UInt8], scopes: [String]) -> APIError {
        let parsed = GoogleErrorBody.parse(body)
        let message = parsed.message ?? "google answered HTTP \(status)"
        let reason = parsed.errors.first?.reason ?? parsed.detailReasons.first ?? parsed.status
        let retryAfter = APIClient.retryAfter(headers.first { $0.name.lowercased() == "retry-after" }?.value)
        func make(_ code: APIError.Code, reason: String? = reason, missing: [String] = [], retry: Duration? = nil) -> APIError {
            APIError(code, status: status, message: message, providerReason: reason, missingScopes: missing, retryAfter: retry)
        }
        switch status {
        case 401:
            return make(.unauthorized)
        case 403:
            let challenge = headers.first { $0.name.lowercased() == "www-authenticate" }?.value ?? ""
            // Google's challenge names the scopes the method accepts; without it, the
            // scopes this request asked for are the ones to log in with.
            let wanted = Self.challengeScopes(challenge) ?? scopes
            // ErrorInfo's ACCESS_TOKEN_SCOPE_INSUFFICIENT is the precise one; the legacy
            // errors[].reason says insufficientPermissions.
            if let scopeReason = (parsed.detailReasons + parsed.errors.compactMap(\.reason)).first(where: { Self.scopeReasons.contains($0) }) {
                return make(.insufficientPermissions, reason: scopeReason, missing: wanted)
            }
            if challenge.contains("insufficient_scope") { return make(.insufficientPermissions, missing: wanted) }
            if let rate = parsed.reasons.first(where: { Self.retryableRateReasons.contains($0) || Self.quotaReasons.contains($0) }) {
                return make(.rateLimited, reason: rate, retry: retryAfter)
            }
            return make(.forbidden)
        case 404, 410:
            return make(.notFound)
        case 429:
            return make(.rateLimited, retry: retryAfter)
        case 400..<500:
            return make(.invalidRequest)
        default:
            return make(.serverError)
        }
    }

    /// The `scope="a b"` parameter of a Bearer challenge, split; nil when absent or empty.
    static func challengeScopes(_ challenge: String) -> [String]? {
        guard let start = challenge.range(of: "scope=\"") else { return nil }
        let rest = challenge[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        let scopes = rest[..<end].split(separator: " ").map(String.init)
        return scopes.isEmpty ? nil : scopes
    }
}

/// Google's error envelope; every field optional so that an answer of another shape (an
/// HTML 404 page, an OAuth-style error) still yields what it has.
struct GoogleErrorBody: Decodable {
    struct Item: Decodable {
        var reason: String?
        var domain: String?
        var message: String?
    }
    struct Detail: Decodable {
        var reason: String?
    }
    struct Envelope: Decodable {
        var code: Int?
        var message: String?
        var status: String?
        var errors: [Item]?
        var details: [Detail]?
    }
    var error: Envelope?

    var message: String? { error?.message.flatMap { $0.isEmpty ? nil : $0 } }
    var status: String? { error?.status }
    var errors: [Item] { error?.errors ?? [] }
    var detailReasons: [String] { (error?.details ?? []).compactMap(\.reason) }
    /// The `errors[].reason`s, then the `details[].reason`s.
    var reasons: [String] { errors.compactMap(\.reason) + detailReasons }

    static func parse(_ body: [UInt8]) -> GoogleErrorBody {
        (try? JSONDecoder().decode(GoogleErrorBody.self, from: Data(body))) ?? GoogleErrorBody(error: nil)
    }
}
