public import BrokerCore

// The API's JSON readers and writers for the token path, built on BrokerCore's strict
// JSON reader and writer (JSONValue, JSONParser, JSONWriter).

extension TokenRequest {
    /// Reads a token request with the rules of the API (unknown members ignored; a wrong type
    /// or a missing member names the member, never its value).
    public init(json bytes: [UInt8]) throws(JSONError) {
        var profileValue: JSONValue?, providerValue: JSONValue?, accountValue: JSONValue?
        var scopesValue: JSONValue?, minValidValue: JSONValue?, forceValue: JSONValue?
        var parser = JSONParser(bytes: bytes)
        // Members are read one by one into locals (no dictionary); unknown ones are skipped
        // but still validated as JSON. Later duplicates win, as with JSONDecoder.
        try parser.eachMember { (key: String, p: inout JSONParser) throws(JSONError) in
            let value = try p.value(depth: 1)
            switch key {
            case "profile": profileValue = value
            case "provider": providerValue = value
            case "account": accountValue = value
            case "scopes": scopesValue = value
            case "min_valid_seconds": minValidValue = value
            case "force_refresh": forceValue = value
            default: break
            }
        }
        func required(_ value: JSONValue?, _ key: String) throws(JSONError) -> String {
            guard let v = value else { throw JSONError("\"\(key)\" is missing") }
            guard let s = v.string else { throw JSONError("\"\(key)\" has the wrong type") }
            return s
        }
        let profile = try required(profileValue, "profile")
        let provider = try required(providerValue, "provider")
        var account: String?
        if let v = accountValue, !v.isNull {
            guard let s = v.string else { throw JSONError("\"account\" has the wrong type") }
            account = s
        }
        guard let s = scopesValue else { throw JSONError("\"scopes\" is missing") }
        guard let array = s.array else { throw JSONError("\"scopes\" has the wrong type") }
        var scopes: [String] = []
        scopes.reserveCapacity(array.count)
        for (i, v) in array.enumerated() {
            guard let str = v.string else { throw JSONError("\"scopes.\(i)\" has the wrong type") }
            scopes.append(str)
        }
        var minValid: Int?
        if let v = minValidValue, !v.isNull {
            guard let n = v.int else { throw JSONError("\"min_valid_seconds\" has the wrong type") }
            minValid = n
        }
        var force: Bool?
        if let v = forceValue, !v.isNull {
            guard let b = v.bool else { throw JSONError("\"force_refresh\" has the wrong type") }
            force = b
        }
        self.init(profile: profile, provider: provider, account: account, scopes: scopes, minValidSeconds: minValid, forceRefresh: force)
    }
}

extension TokenResponse {
    /// The response body, members in sorted order as the Codable form has them.
    public var jsonBytes: [UInt8] {
        var w = JSONWriter(capacity: 256 + accessToken.utf8.count)
        w.beginObject()
        w.key("access_token"); w.string(accessToken)
        w.key("account"); w.string(account)
        w.key("expires_at"); w.string(expiresAt)
        w.key("expires_in"); w.int(Int64(expiresIn))
        w.key("profile"); w.string(profile)
        w.key("provider"); w.string(provider)
        w.key("scopes"); w.strings(scopes)
        w.key("token_type"); w.string(tokenType)
        w.endObject()
        return w.bytes
    }
}

