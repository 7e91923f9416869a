import BrokerCore

/// Checks on endpoint URLs (DESIGN.md: every endpoint is configurable; plain http:// only
/// for loopback hosts). Stricter than a general URL parser on purpose: no user info, no
/// fragment, no white space or characters that need quoting, an ASCII host name or an IP
/// literal, and a port in 1 ... 65535.
enum EndpointURL {
    struct Parts {
        var scheme: String
        var host: String
        var hasQuery: Bool
        var path: String
    }

    static let maxLength = 2048

    /// The parts of `url`, or a message saying what is wrong with it (quoting it: URLs are
    /// not secret).
    static func check(_ url: String, allowQuery: Bool = true) -> Result<Parts, OAuthError> {
        func fail(_ why: String) -> Result<Parts, OAuthError> {
            .failure(OAuthError(.configuration, "endpoint URL \"\(printableText(url))\" \(why)"))
        }
        guard !url.isEmpty, url.utf8.count <= maxLength else { return fail("is empty or longer than \(maxLength) bytes") }
        for b in url.utf8 {
            guard b > 0x20, b < 0x7F else { return fail("contains white space, control or non-ASCII characters") }
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\\"), UInt8(ascii: "^"),
                UInt8(ascii: "`"), UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"):
                return fail("contains a character that must be percent-encoded")
            case UInt8(ascii: "#"):
                return fail("has a fragment")
            default: break
            }
        }
        guard let sep = url.firstRange(of: "://") else { return fail("is not an absolute http(s) URL") }
        let scheme = url[..<sep.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else { return fail("is not an absolute http(s) URL") }
        let rest = url[sep.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let tail = rest[authorityEnd...]
        guard !authority.contains("@") else { return fail("has user info") }
        var host = ""
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return fail("has a malformed IPv6 host") }
            host = String(authority[authority.index(after: authority.startIndex)..<close]).lowercased()
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return fail("has a malformed IPv6 host") }
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return fail("has a malformed IPv6 host") }
                portText = after.dropFirst()
            }
            host = "[" + host + "]"
        } else {
            let pieces = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            host = String(pieces[0]).lowercased()
            if pieces.count == 2 { portText = pieces[1] }
            guard !host.isEmpty, host.utf8.count <= 253,
                host.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "." }),
                !host.hasPrefix("."), !host.hasPrefix("-"), !host.contains("..")
            else { return fail("has an invalid host") }
        }
        if let portText {
            guard let port = Int(portText), port >= 1, port <= 65535, portText.allSatisfy(\.isNumber) else {
                return fail("has an invalid port")
            }
        }
        let hasQuery = tail.contains("?")
        if hasQuery && !allowQuery { return fail("must not have a query") }
        if scheme == "http" && !isLoopback(host) {
            return fail("uses plain http:// for a host that is not loopback; use https://")
        }
        let path = String(tail.prefix(while: { $0 != "?" }))
        return .success(Parts(scheme: scheme, host: host, hasQuery: hasQuery, path: path))
    }

    /// 127.0.0.0/8, ::1 and localhost.
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "[::1]" || host == "[0:0:0:0:0:0:0:1]" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { o in !o.isEmpty && o.count <= 3 && o.allSatisfy(\.isNumber) && (Int(o) ?? 256) <= 255 }
    }

    /// The host of a URL already checked, for messages.
    static func host(of url: String) -> String {
        if case .success(let parts) = check(url) { return parts.host }
        return "the provider"
    }
}
