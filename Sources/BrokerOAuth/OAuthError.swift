/// Why an OAuth call failed. `kind` is what callers branch on; `message` is for people.
///
/// A message never holds a secret, a token, an authorization or device code, or a response
/// body verbatim. A provider's `error_description` may appear, reduced to printable ASCII,
/// cut to `maxDescriptionLength` and with every secret the request carried removed.
public struct OAuthError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The grant is dead (revoked, expired, consent withdrawn): never retry; log in again.
        case invalidGrant = "invalid_grant"
        /// The client id, secret or assertion was refused.
        case invalidClient = "invalid_client"
        case invalidScope = "invalid_scope"
        case unauthorizedClient = "unauthorized_client"
        /// The user (or an administrator) refused.
        case accessDenied = "access_denied"
        /// Device flow: the user has not finished yet; poll again after the interval.
        case authorizationPending = "authorization_pending"
        /// Device flow: polled too fast; add 5 s to the interval (RFC 8628 §3.5).
        case slowDown = "slow_down"
        /// Device flow: the device code expired.
        case expiredToken = "expired_token"
        /// HTTP 429; `retryAfterSeconds` when the provider said.
        case rateLimited = "rate_limited"
        /// HTTP 5xx or `temporarily_unavailable`; `retryAfterSeconds` when the provider said.
        case serverError = "server_error"
        /// No HTTP response (connect, TLS, timeout, broken connection): retryable.
        case network
        /// A response that is malformed, oversized or hostile. Nothing from it is stored.
        case invalidResponse = "invalid_response"
        /// The provider refused the request's form (a bug or a misconfigured app).
        case invalidRequest = "invalid_request"
        /// Bad local configuration: an endpoint URL, a missing secret, a flow the provider
        /// does not offer, an unusable private key.
        case configuration
    }

    /// The longest provider description kept in a message.
    public static let maxDescriptionLength = 200

    public var kind: Kind
    public var message: String
    /// The provider's own code: Microsoft's `AADSTSnnnn` when it sent one, else its
    /// `error` string (sanitized), e.g. `invalid_grant`.
    public var providerCode: String?
    /// Seconds to wait before retrying (Retry-After on 429 and 5xx).
    public var retryAfterSeconds: Int?
    /// The HTTP status of the response, when there was one.
    public var httpStatus: Int?

    public init(_ kind: Kind, _ message: String, providerCode: String? = nil, retryAfterSeconds: Int? = nil, httpStatus: Int? = nil) {
        self.kind = kind
        self.message = message
        self.providerCode = providerCode
        self.retryAfterSeconds = retryAfterSeconds
        self.httpStatus = httpStatus
    }

    /// Whether trying again later can succeed: network failures, server errors and rate
    /// limits. Everything else needs a change (configuration, a new login) first.
    public var isRetryable: Bool {
        switch kind {
        case .network, .serverError, .rateLimited: true
        default: false
        }
    }

    public var description: String { message }
}
