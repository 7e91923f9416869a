/// A fault armed through `/_sandbox/faults`, applied to the next `remaining` matching
/// requests.
struct Fault {
    enum Kind: String, CaseIterable {
        case rateLimit = "rate_limit"
        /// Google Calendar's 403 forms of rate limiting (other providers: as `rate_limit`).
        case rateLimit403 = "rate_limit_403"
        case userRateLimit = "user_rate_limit"
        case serverError = "server_error"
        case unavailable
        case invalidToken = "invalid_token"
        case delay
        case drop
        case invalidGrant = "invalid_grant"
        case slowDown = "slow_down"
        case oversized
        case malformedJSON = "malformed_json"
        case expiresInZero = "expires_in_zero"
        case expiresInNegative = "expires_in_negative"
        case expiresInHuge = "expires_in_huge"
        case wrongTokenType = "wrong_token_type"
        case extraScopes = "extra_scopes"

        /// Faults that change a successful token response instead of replacing it.
        var isHostileResponse: Bool {
            switch self {
            case .oversized, .malformedJSON, .expiresInZero, .expiresInNegative, .expiresInHuge,
                .wrongTokenType, .extraScopes:
                return true
            default:
                return false
            }
        }

        /// Whether the kind makes sense for a target.
        func applies(to target: Target) -> Bool {
            switch self {
            case .rateLimit, .serverError, .unavailable, .delay, .drop: return true
            case .invalidToken, .rateLimit403, .userRateLimit: return target == .api
            default: return target == .token
            }
        }
    }

    enum Target: String { case token, api }

    var id: Int
    var kind: Kind
    var target: Target
    var remaining: Int
    var provider: Provider?
    /// Only requests from this client: for token faults the client named in the request,
    /// for API faults the client the bearer token was issued to.
    var clientID: String?
    /// API faults: only requests whose path contains this text.
    var pathContains: String?
    var retryAfterSeconds: Int
    var delayMilliseconds: Int
    /// The body size of an `oversized` token response.
    var bytes: Int

    var json: [String: Any] {
        var object: [String: Any] = [
            "id": id, "kind": kind.rawValue, "target": target.rawValue, "remaining": remaining,
            "retry_after": retryAfterSeconds, "delay_ms": delayMilliseconds, "bytes": bytes,
        ]
        if let provider { object["provider"] = provider.rawValue }
        if let clientID { object["client_id"] = clientID }
        if let pathContains { object["path_contains"] = pathContains }
        return object
    }
}
