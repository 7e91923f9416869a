/// The API's error codes (docs/spec/api.md, "Errors"). The set is small and coarse on
/// purpose: details go to the daemon log, and a denied caller learns nothing about what
/// exists.
public struct WireErrorCode: Hashable, Sendable, Codable, RawRepresentable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let locked = WireErrorCode(rawValue: "locked")
    public static let denied = WireErrorCode(rawValue: "denied")
    public static let notFound = WireErrorCode(rawValue: "not_found")
    public static let reauthRequired = WireErrorCode(rawValue: "reauth_required")
    public static let badRequest = WireErrorCode(rawValue: "bad_request")
    public static let tooMany = WireErrorCode(rawValue: "too_many")
    public static let unavailable = WireErrorCode(rawValue: "unavailable")
    public static let `internal` = WireErrorCode(rawValue: "internal")

    public static let all: [WireErrorCode] = [.locked, .denied, .notFound, .reauthRequired, .badRequest, .tooMany, .unavailable, .internal]

    /// The HTTP status that carries the code (a wrong method is 405 with `bad_request`, an
    /// oversized head 431 and an oversized body 413, both `bad_request`).
    public var status: Int {
        switch self {
        case .locked: 423
        case .denied: 403
        case .notFound: 404
        case .reauthRequired: 409
        case .badRequest: 400
        case .tooMany: 429
        case .unavailable: 503
        default: 500
        }
    }

    public var description: String { rawValue }
}

/// `{"error": {"code": "...", "message": "..."}}`
public struct WireError: Error, Sendable, Codable, Equatable, CustomStringConvertible {
    public var code: WireErrorCode
    public var message: String
    /// For `reauth_required`: the command that fixes it. For `too_many`: seconds to wait.
    public var hint: String?
    public var retryAfter: Int?

    public init(_ code: WireErrorCode, _ message: String, hint: String? = nil, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.retryAfter = retryAfter
    }

    enum CodingKeys: String, CodingKey {
        case code, message, hint
        case retryAfter = "retry_after"
    }

    public var description: String { "\(code): \(message)" }
}

/// The error envelope.
public struct ErrorBody: Codable, Sendable, Equatable {
    public var error: WireError
    public init(error: WireError) { self.error = error }
}
