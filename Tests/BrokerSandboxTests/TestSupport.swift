import BrokerCrypto
import BrokerTesting
import Foundation

/// The default clients the sandbox registers (docs/sandbox.md).
enum Clients {
    static let googleWeb = "sandbox-web.apps.googleusercontent.com"
    static let googleWebSecret = "GOCSPX-sandbox-web-secret"
    static let googleDesktop = "sandbox-desktop.apps.googleusercontent.com"
    static let googleDesktopSecret = "GOCSPX-sandbox-desktop-secret"
    static let googleTV = "sandbox-tv.apps.googleusercontent.com"
    static let googleTVSecret = "GOCSPX-sandbox-tv-secret"
    static let msPublic = "00000000-0000-4000-8000-00000000a001"
    static let msConfidential = "00000000-0000-4000-8000-00000000a002"
    static let msConfidentialSecret = "sandbox-ms-confidential-secret"
    static let zoom = "sandboxZoomOAuthClient"
    static let zoomSecret = "sandbox-zoom-oauth-secret"
    static let zoomS2S = "sandboxZoomS2SClient"
    static let zoomS2SSecret = "sandbox-zoom-s2s-secret"
}

/// A verifier and its S256 challenge, computed independently with Python's hashlib.
enum PKCE {
    static let verifier = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk"
    static let challenge = "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc"
    static let otherVerifier = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
}

enum Scopes {
    static let calendarRead = "https://www.googleapis.com/auth/calendar.readonly"
    static let calendar = "https://www.googleapis.com/auth/calendar"
    static let gmailRead = "https://www.googleapis.com/auth/gmail.readonly"
    static let gmailModify = "https://www.googleapis.com/auth/gmail.modify"
    static let gmailSend = "https://www.googleapis.com/auth/gmail.send"
    static let contactsRead = "https://www.googleapis.com/auth/contacts.readonly"
    static let contacts = "https://www.googleapis.com/auth/contacts"
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
        let secret = SecretBytes(copying: Array(privatePEM.utf8))
        let key = try RSAPrivateKey(pem: secret)
        return try key.publicKeyPEM()
    }
}

enum JWT {
    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// An RS256-signed JWT.
    static func sign(privatePEM: String, claims: [String: Any], header: [String: Any] = ["alg": "RS256", "typ": "JWT"]) throws -> String {
        let headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        let claimData = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
        let input: String = base64url(Array(headerData)) + "." + base64url(Array(claimData))
        let secret = SecretBytes(copying: Array(privatePEM.utf8))
        let key = try RSAPrivateKey(pem: secret)
        let signature: [UInt8] = try key.sign(Array(input.utf8))
        return input + "." + base64url(signature)
    }

    static var now: Int { Int(Date().timeIntervalSince1970) }
}

/// JSON text from a dictionary, for control-API bodies.
func jsonText(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}

extension TestSandbox {
    /// Runs Google's authorization endpoint and returns the code from the redirect.
    func googleCode(
        client: String = Clients.googleDesktop, redirect: String = "http://127.0.0.1:5555/callback",
        scope: String = Scopes.calendarRead, offline: Bool = true, challenge: String? = PKCE.challenge, user: String? = nil
    ) throws -> String? {
        var pairs: [(String, String)] = [
            ("client_id", client), ("redirect_uri", redirect), ("response_type", "code"), ("scope", scope), ("state", "st-1"),
        ]
        if offline { pairs.append(("access_type", "offline")) }
        if let challenge { pairs += [("code_challenge", challenge), ("code_challenge_method", "S256")] }
        if let user { pairs.append(("login_hint", user)) }
        let result = try request("GET", "/google/o/oauth2/v2/auth?" + TestSandbox.encodeForm(pairs))
        return result.locationParameter("code")
    }

    /// Exchanges a Google code from the desktop client.
    func googleExchange(_ code: String, client: String = Clients.googleDesktop, secret: String? = Clients.googleDesktopSecret,
                        redirect: String = "http://127.0.0.1:5555/callback", verifier: String? = PKCE.verifier) throws -> HTTPResult {
        var pairs: [(String, String)] = [("grant_type", "authorization_code"), ("code", code), ("client_id", client), ("redirect_uri", redirect)]
        if let secret { pairs.append(("client_secret", secret)) }
        if let verifier { pairs.append(("code_verifier", verifier)) }
        return try form("/google/token", pairs)
    }

    /// A Google access token (and refresh token) for alice with `scope`.
    func googleTokens(scope: String) throws -> (access: String, refresh: String) {
        guard let code = try googleCode(scope: scope) else { return ("", "") }
        let result = try googleExchange(code)
        return (result.string("access_token") ?? "", result.string("refresh_token") ?? "")
    }

    func googleRefresh(_ token: String, scope: String? = nil) throws -> HTTPResult {
        var pairs: [(String, String)] = [
            ("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", Clients.googleDesktop),
            ("client_secret", Clients.googleDesktopSecret),
        ]
        if let scope { pairs.append(("scope", scope)) }
        return try form("/google/token", pairs)
    }

    var msToken: String { "/microsoft/sandbox-tenant/oauth2/v2.0/token" }

    /// Runs Microsoft's authorization endpoint for the public client; returns the code.
    func microsoftCode(scope: String = "offline_access Calendars.Read", redirect: String = "http://localhost:4000/cb",
                       client: String = Clients.msPublic, challenge: String? = PKCE.challenge) throws -> String? {
        var pairs: [(String, String)] = [
            ("client_id", client), ("redirect_uri", redirect), ("response_type", "code"), ("scope", scope), ("state", "s"),
        ]
        if let challenge { pairs += [("code_challenge", challenge), ("code_challenge_method", "S256")] }
        let result = try request("GET", "/microsoft/sandbox-tenant/oauth2/v2.0/authorize?" + TestSandbox.encodeForm(pairs))
        return result.locationParameter("code")
    }

    /// Microsoft access and refresh tokens for alice from the public client.
    func microsoftTokens(scope: String = "offline_access Calendars.Read") throws -> (access: String, refresh: String) {
        guard let code = try microsoftCode(scope: scope) else { return ("", "") }
        let result = try form(msToken, [
            ("grant_type", "authorization_code"), ("code", code), ("client_id", Clients.msPublic),
            ("redirect_uri", "http://localhost:4000/cb"), ("code_verifier", PKCE.verifier),
        ])
        return (result.string("access_token") ?? "", result.string("refresh_token") ?? "")
    }

    func microsoftRefresh(_ token: String, scope: String? = nil) throws -> HTTPResult {
        var pairs: [(String, String)] = [("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", Clients.msPublic)]
        if let scope { pairs.append(("scope", scope)) }
        return try form(msToken, pairs)
    }
}
