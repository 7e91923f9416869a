import BrokerCrypto
import Foundation

/// The control API under `/_sandbox/` (docs/sandbox.md): settings, clock, registration,
/// faults, revocation, device approval and counters. JSON in, JSON out.
extension SandboxState {
    func control(_ request: SandboxRequest) -> SandboxResponse {
        let route = request.method + " " + request.path
        let body = JSON.object(request.body) ?? [:]
        if !request.body.isEmpty, JSON.object(request.body) == nil {
            return controlError(400, "the body is not a JSON object")
        }
        do {
            switch route {
            case "GET /_sandbox/health": return .json(200, ["ok": true])
            case "GET /_sandbox/config": return .json(200, registrationJSON())
            case "GET /_sandbox/settings": return .json(200, settings.json)
            case "POST /_sandbox/settings":
                try applySettings(body)
                return .json(200, settings.json)
            case "POST /_sandbox/clock":
                guard let seconds = body["advance"] as? NSNumber else { throw SandboxError("\"advance\" (seconds) is required") }
                // The clock only moves forward (codes and tokens expire; nothing un-expires),
                // and by at most ten years at a time.
                guard seconds.doubleValue >= 0, seconds.doubleValue <= 315_360_000 else {
                    throw SandboxError("\"advance\" must be 0 to 315360000 seconds: the sandbox clock never goes back")
                }
                clockOffset += seconds.doubleValue
                return .json(200, ["offset": clockOffset, "now": Self.rfc3339(now)])
            case "POST /_sandbox/clients":
                let client = try Self.parseClient(body)
                addClient(client)
                return .json(201, client.json)
            case "POST /_sandbox/users":
                let user = try Self.parseUser(body, index: users.count + 1)
                addUser(user)
                return .json(201, user.json)
            case "POST /_sandbox/service-accounts":
                let account = try Self.parseServiceAccount(body)
                serviceAccounts[account.email] = account
                return .json(201, account.json)
            case "GET /_sandbox/faults": return .json(200, ["faults": faults.map(\.json)])
            case "POST /_sandbox/faults":
                let fault = try parseFault(body)
                faults.append(fault)
                return .json(201, fault.json)
            case "DELETE /_sandbox/faults":
                faults.removeAll()
                return .json(200, ["faults": [Any]()])
            case "POST /_sandbox/revoke": return try controlRevoke(body)
            case "POST /_sandbox/device": return try controlDevice(body)
            case "GET /_sandbox/counters": return .json(200, countersJSON())
            case "DELETE /_sandbox/counters":
                tokenRequestCounts = [:]
                refreshCounts = [:]
                apiCallCounts = [:]
                maxConcurrentTokenRequests = inFlightTokenRequests
                strictReuseRefusals = []
                return .json(200, countersJSON())
            default:
                log("sandbox: unknown control route \(route)")
                return controlError(404, "no control route \(route)")
            }
        } catch let error as SandboxError {
            log("sandbox: control \(route) refused: \(error.message)")
            return controlError(400, error.message)
        } catch {
            return controlError(500, "\(error)")
        }
    }

    func controlError(_ status: Int, _ message: String) -> SandboxResponse { .json(status, ["error": message]) }

    func registrationJSON() -> [String: Any] {
        let clientList: [[String: Any]] = clientOrder.compactMap { clients[$0]?.json }
        let userList: [[String: Any]] = userOrder.compactMap { users[$0]?.json }
        let accountList: [[String: Any]] = serviceAccounts.keys.sorted().compactMap { serviceAccounts[$0]?.json }
        return [
            "base_url": baseURL, "clients": clientList, "users": userList, "service_accounts": accountList,
            "microsoft_tenant": SandboxDefaults.tenant, "zoom_account_id": SandboxDefaults.zoomAccount,
            "endpoints": endpointsJSON(), "settings": settings.json,
        ]
    }

    func endpointsJSON() -> [String: Any] {
        let ms = baseURL + "/microsoft/" + SandboxDefaults.tenant + "/oauth2/v2.0"
        let google: [String: Any] = [
            "authorization": baseURL + "/google/o/oauth2/v2/auth", "token": baseURL + "/google/token",
            "device_authorization": baseURL + "/google/device/code", "revocation": baseURL + "/google/revoke",
            "userinfo": baseURL + "/google/oauth2/v3/userinfo", "calendar": baseURL + "/google/calendar/v3",
            "gmail": baseURL + "/google/gmail/v1", "people": baseURL + "/google/v1",
            "batch_calendar": baseURL + "/google/batch/calendar/v3",
        ]
        let microsoft: [String: Any] = [
            "authorization": ms + "/authorize", "token": ms + "/token", "device_authorization": ms + "/devicecode",
            "graph": baseURL + "/microsoft/graph/v1.0",
        ]
        let zoom: [String: Any] = ["authorization": baseURL + "/zoom/oauth/authorize", "token": baseURL + "/zoom/oauth/token"]
        return ["google": google, "microsoft": microsoft, "zoom": zoom]
    }

    func countersJSON() -> [String: Any] {
        var byClient: [String: Any] = [:]
        for (client, grants) in tokenRequestCounts { byClient[client] = grants }
        var byHash: [String: Int] = [:]
        for (token, count) in refreshCounts { byHash[Self.tokenHash(token), default: 0] += count }
        return [
            "token_requests": byClient, "refreshes": refreshCounts, "refresh_hashes": byHash, "api_calls": apiCallCounts,
            "in_flight_token_requests": inFlightTokenRequests,
            "max_concurrent_token_requests": maxConcurrentTokenRequests,
            "strict_reuse_refusals": strictReuseRefusals.map { ["rotated_at": $0] },
        ]
    }

    /// A stable short name for a token in the counters: the first 16 hex digits of its
    /// SHA-256 (`printf %s "$TOKEN" | sha256sum | cut -c1-16`).
    static func tokenHash(_ token: String) -> String {
        let digits = Array("0123456789abcdef")
        var text = ""
        for byte in SHA256.hash(Array(token.utf8)).prefix(8) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return text
    }

    func applySettings(_ body: [String: Any]) throws {
        var updated = settings
        for (key, value) in body {
            if key == "microsoft_strict_rotation" {
                guard let flag = value as? Bool else { throw SandboxError("\"\(key)\" must be true or false") }
                updated.microsoftStrictRotation = flag
                continue
            }
            guard let number = value as? NSNumber, let seconds = Int(exactly: number.doubleValue) else {
                throw SandboxError("\"\(key)\" must be a whole number of seconds")
            }
            let minimum = key == "device_poll_interval" ? 0 : 1
            guard seconds >= minimum, seconds <= 31_536_000 else { throw SandboxError("\"\(key)\" is out of range") }
            switch key {
            case "access_token_lifetime": updated.accessTokenLifetime = seconds
            case "authorization_code_lifetime": updated.authorizationCodeLifetime = seconds
            case "device_code_lifetime": updated.deviceCodeLifetime = seconds
            case "device_poll_interval": updated.devicePollInterval = seconds
            default: throw SandboxError("unknown setting \"\(key)\"")
            }
        }
        settings = updated
    }

    static let clientKeys: Set<String> = [
        "provider", "client_id", "type", "client_secret", "public", "redirect_uris", "account_id", "permissions", "tenant",
        "certificate_pem",
    ]
    static let userKeys: Set<String> = ["email", "name", "id", "consents"]
    static let serviceAccountKeys: Set<String> = ["email", "public_key_pem", "key_id", "delegation"]

    /// Refuses a key `known` does not list, naming it: a misspelt key would otherwise be
    /// ignored and the registration silently differ from what was meant.
    static func refuseUnknownKeys(_ body: [String: Any], known: Set<String>, in what: String) throws {
        for key in body.keys.sorted() where !known.contains(key) {
            throw SandboxError("unknown key \"\(key)\" in \(what) (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    static func parseClient(_ body: [String: Any]) throws -> ClientRecord {
        try refuseUnknownKeys(body, known: clientKeys, in: "a client")
        guard let name = body["provider"] as? String, let provider = Provider(rawValue: name) else {
            throw SandboxError("\"provider\" must be google, microsoft or zoom")
        }
        guard let id = body["client_id"] as? String, !id.isEmpty else { throw SandboxError("\"client_id\" is required") }
        let types: [Provider: [String]] = [
            .google: ["web", "desktop", "tv"], .microsoft: ["public", "confidential"], .zoom: ["oauth", "server_to_server"],
        ]
        let type = (body["type"] as? String) ?? types[provider]![0]
        guard types[provider]!.contains(type) else {
            throw SandboxError("\"type\" for \(provider.rawValue) must be one of \(types[provider]!.joined(separator: ", "))")
        }
        let secret = body["client_secret"] as? String
        let isPublic = (body["public"] as? Bool) ?? (type == "desktop" || type == "public")
        var client = ClientRecord(
            provider: provider, clientID: id, type: type, secret: secret,
            redirectURIs: (body["redirect_uris"] as? [Any])?.compactMap { $0 as? String } ?? [],
            isPublic: isPublic, accountID: body["account_id"] as? String,
            permissions: (body["permissions"] as? [Any])?.compactMap { $0 as? String } ?? [],
            tenant: body["tenant"] as? String)
        if let pem = body["certificate_pem"] as? String {
            do { client.certificateKey = try RSAPublicKey(pem: pem) } catch { throw SandboxError("\"certificate_pem\": \(error)") }
            client.certificatePEM = pem
        }
        if !client.isPublic, client.secret == nil, client.certificateKey == nil {
            throw SandboxError("a confidential client needs \"client_secret\" or \"certificate_pem\"")
        }
        // Google issues a secret to every client; one without must be declared public on
        // purpose (and then must use PKCE), not by the desktop type's default.
        if provider == .google, client.secret == nil, body["public"] as? Bool != true {
            throw SandboxError("a Google client without \"client_secret\" must be registered with \"public\": true")
        }
        if type == "server_to_server", client.accountID == nil { throw SandboxError("a server_to_server app needs \"account_id\"") }
        return client
    }

    static func parseUser(_ body: [String: Any], index: Int) throws -> UserRecord {
        try refuseUnknownKeys(body, known: userKeys, in: "a user")
        guard let email = body["email"] as? String, email.contains("@") else { throw SandboxError("\"email\" is required") }
        let name = (body["name"] as? String) ?? String(email.split(separator: "@")[0])
        let id = (body["id"] as? String) ?? "2000000000000000\(10_000 + index)"
        return UserRecord(email: email, name: name, id: id, consents: (body["consents"] as? Bool) ?? true)
    }

    static func parseServiceAccount(_ body: [String: Any]) throws -> ServiceAccountRecord {
        try refuseUnknownKeys(body, known: serviceAccountKeys, in: "a service account")
        guard let email = body["email"] as? String, email.contains("@") else { throw SandboxError("\"email\" is required") }
        guard let pem = body["public_key_pem"] as? String else { throw SandboxError("\"public_key_pem\" is required") }
        let key: RSAPublicKey
        do { key = try RSAPublicKey(pem: pem) } catch { throw SandboxError("\"public_key_pem\": \(error)") }
        return ServiceAccountRecord(
            email: email, publicKeyPEM: pem, key: key, keyID: body["key_id"] as? String,
            delegation: (body["delegation"] as? Bool) ?? false)
    }

    func parseFault(_ body: [String: Any]) throws -> Fault {
        guard let name = body["kind"] as? String, let kind = Fault.Kind(rawValue: name) else {
            let names = Fault.Kind.allCases.map(\.rawValue).joined(separator: ", ")
            throw SandboxError("\"kind\" must be one of \(names)")
        }
        let defaultTarget: Fault.Target = kind.applies(to: .token) ? .token : .api
        let targetName = (body["target"] as? String) ?? defaultTarget.rawValue
        guard let target = Fault.Target(rawValue: targetName) else { throw SandboxError("\"target\" must be token or api") }
        guard kind.applies(to: target) else { throw SandboxError("fault \(kind.rawValue) does not apply to \(target.rawValue) requests") }
        var provider: Provider?
        if let text = body["provider"] as? String {
            guard let value = Provider(rawValue: text) else { throw SandboxError("\"provider\" must be google, microsoft or zoom") }
            provider = value
        }
        let count = (body["count"] as? NSNumber)?.intValue ?? 1
        guard count >= 1 else { throw SandboxError("\"count\" must be at least 1") }
        let delay = (body["delay_ms"] as? NSNumber)?.intValue ?? 1000
        guard delay >= 0, delay <= 600_000 else { throw SandboxError("\"delay_ms\" must be 0 to 600000") }
        let bytes = (body["bytes"] as? NSNumber)?.intValue ?? 2 * 1024 * 1024
        // An oversized response is a hostile-provider test, not a way to exhaust memory.
        guard bytes >= 0, bytes <= 64 * 1024 * 1024 else { throw SandboxError("\"bytes\" must be 0 to 67108864") }
        let fault = Fault(
            id: nextFaultID, kind: kind, target: target, remaining: count, provider: provider,
            clientID: body["client_id"] as? String, pathContains: body["path_contains"] as? String,
            retryAfterSeconds: (body["retry_after"] as? NSNumber)?.intValue ?? 30, delayMilliseconds: delay,
            bytes: bytes)
        nextFaultID += 1
        return fault
    }

    /// Revokes by refresh token, access token, or every grant of a client (and user).
    func controlRevoke(_ body: [String: Any]) throws -> SandboxResponse {
        var revoked: [Int] = []
        if let token = body["refresh_token"] as? String {
            guard let record = refreshTokens[token] else { throw SandboxError("no such refresh token") }
            revoked.append(record.grantID)
        } else if let token = body["access_token"] as? String {
            guard let record = accessTokens[token] else { throw SandboxError("no such access token") }
            if let grant = record.grantID { revoked.append(grant) } else { accessTokens[token]?.revoked = true }
        } else if let clientID = body["client_id"] as? String {
            let user = body["user"] as? String
            revoked = grants.values.filter { $0.clientID == clientID && (user == nil || $0.user == user) && !$0.revoked }.map(\.id)
        } else {
            throw SandboxError("name \"refresh_token\", \"access_token\" or \"client_id\" (and optionally \"user\")")
        }
        for id in revoked { revokeGrant(id) }
        return .json(200, ["revoked_grants": revoked.count])
    }

    func controlDevice(_ body: [String: Any]) throws -> SandboxResponse {
        guard let userCode = body["user_code"] as? String else { throw SandboxError("\"user_code\" is required") }
        guard let device = userCodes[userCode.uppercased()], let record = deviceCodes[device] else {
            throw SandboxError("no such user code \"\(userCode)\"")
        }
        guard case .pending = record.status else { throw SandboxError("the device code was already approved or denied") }
        switch body["action"] as? String {
        case "approve":
            let email = (body["user"] as? String) ?? userOrder.first ?? ""
            guard users[email] != nil else { throw SandboxError("no such user \"\(email)\"") }
            deviceCodes[device]?.status = .approved(email)
        case "deny":
            deviceCodes[device]?.status = .denied
        default:
            throw SandboxError("\"action\" must be approve or deny")
        }
        return .json(200, ["user_code": userCode.uppercased(), "action": body["action"] as? String ?? ""])
    }

    /// `2026-01-05T09:30:00Z`. A format style, not an `ISO8601DateFormatter`: making one of
    /// those costs about 0.2 ms, and an event list of 250 events wrote a thousand timestamps.
    static func rfc3339(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }
}
