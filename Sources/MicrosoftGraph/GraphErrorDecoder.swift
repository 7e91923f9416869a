public import APIClientCore
import Foundation

/// Turns Graph's error answers (`{"error": {"code", "message", "innerError"}}`) into
/// `APIError`s:
///
/// | answer | code |
/// |---|---|
/// | 400, 405, 409, 412, 422, 424 | `.invalidRequest` with Graph's message |
/// | 401 | `.unauthorized` (after the one forced refresh) |
/// | 403 `ErrorAccessDenied`, `Authorization_RequestDenied`, `AccessDenied`, `insufficient_scope` | `.insufficientPermissions`, `missingScopes` the request's |
/// | other 403 | `.forbidden` |
/// | 404, 410 | `.notFound` |
/// | 429 | `.rateLimited` with `Retry-After` |
/// | 5xx | `.serverError` |
///
/// `providerReason` is Graph's `error.code`. Messages never hold a token: Graph's own
/// messages do not, and the decoder adds only the status.
public struct GraphErrorDecoder: APIErrorDecoder {
    public init() {}

    /// Graph's `error.code` values that mean the token lacks a permission.
    static let permissionCodes: Set<String> = [
        "erroraccessdenied", "authorization_requestdenied", "accessdenied", "accessdeniedexception",
    ]

    public func error(for response: APIResponse, request: APIRequest) -> APIError {
        Self.error(status: response.status, headers: response.headers.map { ($0.name, $0.value) }, body: response.body, scopes: request.scopes)
    }

    public func isRateLimit(_ response: APIResponse) -> Bool { response.status == 429 }

    /// The error for one answer; shared with the `$batch` steps, whose headers are a map.
    static func error(status: Int, headers: [(String, String)], body: [UInt8], scopes: [String]) -> APIError {
        let (graphCode, graphMessage) = parse(body)
        let message = graphMessage.flatMap { $0.isEmpty ? nil : $0 } ?? "microsoft graph answered HTTP \(status)"
        let header = { (name: String) in headers.first { $0.0.lowercased() == name }?.1 }
        let code: APIError.Code
        var missing: [String] = []
        var retryAfter: Duration?
        switch status {
        case 401:
            code = .unauthorized
        case 403:
            let challenge = header("www-authenticate") ?? ""
            let permission = graphCode.map { permissionCodes.contains($0.lowercased()) } ?? false
            if permission || challenge.contains("insufficient_scope") {
                code = .insufficientPermissions
                missing = scopes
            } else {
                code = .forbidden
            }
        case 404, 410:
            code = .notFound
        case 429:
            code = .rateLimited
            retryAfter = APIClient.retryAfter(header("retry-after"))
        case 500...599:
            code = .serverError
            retryAfter = APIClient.retryAfter(header("retry-after"))
        default:
            code = .invalidRequest
        }
        return APIError(code, status: status, message: message, providerReason: graphCode, missingScopes: missing, retryAfter: retryAfter)
    }

    /// Graph's `error.code` and `error.message`, when the body is Graph's error shape.
    static func parse(_ body: [UInt8]) -> (code: String?, message: String?) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let error = object["error"] as? [String: Any]
        else { return (nil, nil) }
        return (error["code"] as? String, error["message"] as? String)
    }
}
