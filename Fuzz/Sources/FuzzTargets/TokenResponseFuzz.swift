import BrokerHTTP
import BrokerOAuth
import Foundation

/// `token-response`: what a provider's token endpoint answers, through TokenResponseParser
/// (strict JSON without duplicate members, bounded tokens and lifetimes, scopes checked
/// against those asked for, errors mapped and their descriptions cleaned), as the OAuth
/// client reads every token, refresh and device response.
///
/// Input: a byte that picks the parser ("t" token response, "d" device authorization,
/// anything else only the error mapping), a byte that picks the HTTP status (`statuses`,
/// wrapping around), an optional `Retry-After: VALUE` line, then the body.
///
/// Invariants: a token set that comes out has a printable access token of 1 to 16 KiB, a
/// lifetime of 1 s to a day and printable tokens; a device authorization has https URLs
/// and an interval of at most an hour; a Retry-After is never negative; and no message
/// repeats a secret the request carried (the client secret, the refresh token), raw or
/// form-encoded.
enum TokenResponseFuzz {
    static let target = FuzzTarget(
        name: "token-response", summary: "a parser letter, a status byte, an optional Retry-After line, then a provider's body",
        maxLength: 64 * 1024, run: run)

    static let statuses = [200, 400, 401, 403, 404, 429, 500, 503, 302, 204]
    /// As OAuthClient passes them: the secrets of the form it sent. Slashes and a plus,
    /// so the form-encoded spelling differs from the raw one.
    static let secrets = ["fuzz-client-secret/0123+xyz", "1//0fuzzRefreshToken-abcdefgh"]
    static let encodedSecrets = ["fuzz-client-secret%2F0123%2Bxyz", "1%2F%2F0fuzzRefreshToken-abcdefgh"]
    static let requested = ["https://www.googleapis.com/auth/calendar.readonly", "https://graph.microsoft.com/Mail.Read"]
    static let allowed = requested + ["https://www.googleapis.com/auth/gmail.send", "offline_access"]
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func run(_ input: [UInt8]) -> String? {
        guard input.count >= 2 else { return nil }
        let which = input[0]
        let status = statuses[Int(input[1]) % statuses.count]
        var rest = input[2...]
        var headers: [HTTPHeaderField] = []
        let prefix = Array("Retry-After:".utf8)
        if rest.starts(with: prefix), let newline = rest.firstIndex(of: 0x0A) {
            headers.append(HTTPHeaderField("Retry-After", String(decoding: rest[(rest.startIndex + prefix.count)..<newline], as: UTF8.self)))
            rest = rest[(newline + 1)...]
        }
        let response = HTTPResponse(status: status, headers: headers, body: Array(rest))

        if let problem = check(TokenResponseParser.error(from: response, now: now, redacting: secrets)) { return problem }
        switch which {
        case UInt8(ascii: "t"):
            for allowedScopes in [allowed, nil] as [[String]?] {
                do throws(OAuthError) {
                    let set = try TokenResponseParser.parse(response, requestedScopes: requested, allowedScopes: allowedScopes, now: now, redacting: secrets)
                    if let problem = check(set) { return problem }
                } catch {
                    if let problem = check(error) { return problem }
                }
            }
        case UInt8(ascii: "d"):
            do throws(OAuthError) {
                let device = try TokenResponseParser.parseDeviceAuthorization(response, now: now, redacting: secrets)
                // Schemes are case-insensitive (RFC 3986): "Https://" is an https URL.
                let uri = device.verificationURI.lowercased()
                guard uri.hasPrefix("https://") || uri.hasPrefix("http://") else {
                    return "a device authorization's verification_uri is \(device.verificationURI.prefix(40))"
                }
                guard (0...3600).contains(device.interval), device.expiresIn > 0 else { return "a device authorization's interval or lifetime is out of range" }
            } catch {
                if let problem = check(error) { return problem }
            }
        default:
            break
        }
        return nil
    }

    static func printable(_ text: String) -> Bool { text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F } }

    static func check(_ set: OAuthTokenSet) -> String? {
        guard !set.accessToken.isEmpty, set.accessToken.utf8.count <= TokenResponseParser.maxTokenBytes, printable(set.accessToken) else {
            return "an access token that is empty, too long or not printable was accepted"
        }
        guard TokenResponseParser.expiresInRange.contains(set.expiresIn) else { return "a lifetime of \(set.expiresIn) s was accepted" }
        if let refresh = set.refreshToken, refresh.isEmpty || !printable(refresh) { return "a refresh token that is empty or not printable was accepted" }
        guard !set.scopes.isEmpty else { return "a token set without scopes" }
        return nil
    }

    static func check(_ error: OAuthError) -> String? {
        if let seconds = error.retryAfterSeconds, seconds < 0 { return "a negative Retry-After" }
        let texts = [error.message, error.description, error.providerCode ?? ""]
        for text in texts {
            for secret in secrets + encodedSecrets where text.contains(secret) {
                return "an error message repeats a secret of the request: \(error.kind)"
            }
        }
        return nil
    }
}
