import APIClientCore
import BrokerHTTP
import Foundation
import Testing

@testable import MicrosoftGraph

@Suite("Graph error decoding")
struct GraphErrorDecoderTests {
    static let request = APIRequest(method: "GET", url: "https://graph.example/v1.0/me/events", scopes: ["https://graph.microsoft.com/Calendars.Read"])

    static func answer(_ status: Int, code: String?, message: String = "m", headers: [HTTPHeaderField] = []) -> APIResponse {
        var body: [UInt8] = Array("<html>oops</html>".utf8)
        if let code {
            let object: [String: Any] = ["error": ["code": code, "message": message, "innerError": ["request-id": "r"]]]
            body = Array(try! JSONSerialization.data(withJSONObject: object))
        }
        return APIResponse(status: status, headers: headers, body: body, fromCache: false)
    }

    static func decode(_ response: APIResponse) -> APIError { GraphErrorDecoder().error(for: response, request: request) }

    @Test func accessDeniedIsMissingPermission() {
        for code in ["ErrorAccessDenied", "Authorization_RequestDenied"] {
            let error = Self.decode(Self.answer(403, code: code, message: "Access is denied. Check credentials and try again."))
            #expect(error.code == .insufficientPermissions)
            #expect(error.missingScopes == ["https://graph.microsoft.com/Calendars.Read"])
            #expect(error.providerReason == code)
            #expect(error.message == "Access is denied. Check credentials and try again.")
        }
        let other = Self.decode(Self.answer(403, code: "ErrorMailboxNotEnabledForRESTAPI"))
        #expect(other.code == .forbidden)
        #expect(other.missingScopes.isEmpty)
    }

    @Test func statusesMapToTheirCodes() {
        let notFound = Self.decode(Self.answer(404, code: "ErrorItemNotFound", message: "The specified object was not found in the store."))
        #expect(notFound.code == .notFound && notFound.status == 404 && notFound.providerReason == "ErrorItemNotFound")
        #expect(Self.decode(Self.answer(410, code: "Gone")).code == .notFound)
        let bad = Self.decode(Self.answer(400, code: "BadRequest", message: "Invalid filter clause"))
        #expect(bad.code == .invalidRequest && bad.message == "Invalid filter clause")
        #expect(Self.decode(Self.answer(424, code: "FailedDependency")).code == .invalidRequest)
        #expect(Self.decode(Self.answer(401, code: "InvalidAuthenticationToken")).code == .unauthorized)
        #expect(Self.decode(Self.answer(503, code: "ServiceNotAvailable")).code == .serverError)
    }

    @Test func rateLimitsCarryRetryAfter() {
        let response = Self.answer(429, code: "TooManyRequests", headers: [HTTPHeaderField("Retry-After", "7")])
        let error = Self.decode(response)
        #expect(error.code == .rateLimited)
        #expect(error.retryAfter == .seconds(7))
        #expect(GraphErrorDecoder().isRateLimit(response))
        #expect(!GraphErrorDecoder().isRateLimit(Self.answer(503, code: "ServiceNotAvailable")))
    }

    @Test func aBodyThatIsNotGraphsGetsAMessageAnyway() {
        let error = Self.decode(Self.answer(502, code: nil))
        #expect(error.code == .serverError)
        #expect(error.message == "microsoft graph answered HTTP 502")
        #expect(error.providerReason == nil)
    }
}
