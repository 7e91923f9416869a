import BrokerCore
import BrokerCrypto
import BrokerHTTP
import BrokerOAuth
import BrokerTesting
import Foundation
import Synchronization

/// A transport that records every request and answers from a script, in order (then 599).
final class FakeTransport: HTTPTransport {
    private let state: Mutex<(requests: [HTTPRequest], responses: [Result<HTTPResponse, HTTPTransportError>])>

    init(_ responses: [Result<HTTPResponse, HTTPTransportError>]) {
        state = Mutex(([], responses))
    }

    convenience init(_ responses: HTTPResponse...) {
        self.init(responses.map { .success($0) })
    }

    func send(_ request: HTTPRequest) async throws(HTTPTransportError) -> HTTPResponse {
        let next: Result<HTTPResponse, HTTPTransportError>? = state.withLock { s in
            s.requests.append(request)
            return s.responses.isEmpty ? nil : s.responses.removeFirst()
        }
        guard let next else { return HTTPResponse(status: 599) }
        return try next.get()
    }

    var requests: [HTTPRequest] { state.withLock { $0.requests } }
    var last: HTTPRequest? { requests.last }
}

func json(_ status: Int, _ text: String, headers: [HTTPHeaderField] = []) -> HTTPResponse {
    HTTPResponse(status: status, headers: [HTTPHeaderField("Content-Type", "application/json")] + headers, body: Array(text.utf8))
}

extension HTTPRequest {
    /// The form body as a dictionary (names are unique in our requests).
    var form: [String: String] {
        let pairs = FormEncoding.decode(String(decoding: body, as: UTF8.self)) ?? []
        return Dictionary(pairs, uniquingKeysWith: { a, _ in a })
    }

    var formNames: [String] { (FormEncoding.decode(String(decoding: body, as: UTF8.self)) ?? []).map(\.0) }

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// The query parameters of a URL.
func queryParameters(_ url: String) -> [String: String] {
    guard let q = url.firstIndex(of: "?") else { return [:] }
    let pairs = FormEncoding.decode(String(url[url.index(after: q)...])) ?? []
    return Dictionary(pairs, uniquingKeysWith: { a, _ in a })
}

/// RSA test keys made with openssl, once per test process.
enum TestKeys {
    static let first: String = generate()
    static let second: String = generate()

    private static func generate() -> String {
        guard let result = try? Subprocess.run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
            result.status == 0
        else { fatalError("openssl genpkey failed") }
        return result.stdout
    }

    static func publicPEM(_ privatePEM: String) throws -> String {
        let key = try RSAPrivateKey(pem: SecretBytes(copying: Array(privatePEM.utf8)))
        return try key.publicKeyPEM()
    }
}

/// A compact JWS taken apart and checked against a public key.
struct DecodedJWT {
    var header: [String: JSONValue]
    var claims: [String: JSONValue]
    var verified: Bool

    init?(_ text: String, publicKeyPEM: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let h = Base64URL.decode(parts[0]), let c = Base64URL.decode(parts[1]), let s = Base64URL.decode(parts[2]),
            case .object(let header)? = try? JSONValue.parse(h, rejectingDuplicateKeys: true),
            case .object(let claims)? = try? JSONValue.parse(c, rejectingDuplicateKeys: true),
            let key = try? RSAPublicKey(pem: publicKeyPEM)
        else { return nil }
        self.header = header
        self.claims = claims
        self.verified = key.verify(signature: s, message: Array((parts[0] + "." + parts[1]).utf8))
    }
}

struct MissingJWT: Error {}

/// The JWT in `text`, which must be present and well formed.
func decodeJWT(_ text: String?, _ publicKeyPEM: String) throws -> DecodedJWT {
    guard let text, let jwt = DecodedJWT(text, publicKeyPEM: publicKeyPEM) else { throw MissingJWT() }
    return jwt
}

enum Scope {
    static let calendarRead = "https://www.googleapis.com/auth/calendar.readonly"
    static let calendar = "https://www.googleapis.com/auth/calendar"
    static let gmailRead = "https://www.googleapis.com/auth/gmail.readonly"
    static let graphCalendarsRead = "https://graph.microsoft.com/Calendars.Read"
    static let graphMailRead = "https://graph.microsoft.com/Mail.Read"
    static let graphDefault = "https://graph.microsoft.com/.default"
}

/// A fixed clock for tests: 2026-01-05T00:00:00Z.
let fixedNow = Date(timeIntervalSince1970: 1_767_571_200)

func config(_ type: ProviderType, clientID: String = "client-1", tenant: String? = nil, endpoints: [String: String] = [:],
            clientAuth: ClientAuthMethod? = nil) throws(OAuthError) -> ProviderConfig {
    try ProviderConfig.resolve(type: type, clientID: clientID, tenant: tenant, endpoints: endpoints, clientAuth: clientAuth, rotatesRefreshTokens: nil)
}

/// The OAuthError `body` throws, or nil when it succeeds.
func oauthError<T>(_ body: () throws(OAuthError) -> T) -> OAuthError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

func oauthError<T>(_ body: () async throws(OAuthError) -> T) async -> OAuthError? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}
