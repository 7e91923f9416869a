import Foundation

/// The endpoint map that points a provider app at a running `credbroker sandbox`
/// (docs/sandbox.md), under the keys an app record's `endpoints` uses: `authorization`,
/// `token`, `device`, `revocation`, `userinfo` and `api.NAME`.
package enum SandboxEndpoints {
    /// Every endpoint of `type` under `base` (the sandbox's `READY` URL, without a trailing
    /// slash). Microsoft's paths carry `tenant` (default `common`). Generic apps have no
    /// sandbox: the map is empty.
    package static func endpoints(type: ProviderType, base: String, tenant: String? = nil) -> [String: String] {
        switch type {
        case .google:
            return [
                "authorization": base + "/google/o/oauth2/v2/auth",
                "token": base + "/google/token",
                "device": base + "/google/device/code",
                "revocation": base + "/google/revoke",
                "userinfo": base + "/google/oauth2/v3/userinfo",
                "api.calendar": base + "/google/calendar/v3",
                "api.gmail": base + "/google/gmail/v1",
                "api.people": base + "/google/v1",
            ]
        case .microsoft:
            let v2 = base + "/microsoft/" + (tenant ?? "common") + "/oauth2/v2.0"
            return [
                "authorization": v2 + "/authorize",
                "token": v2 + "/token",
                "device": v2 + "/devicecode",
                "userinfo": base + "/microsoft/graph/v1.0/me",
                "api.graph": base + "/microsoft/graph/v1.0",
            ]
        case .zoom:
            return [
                "authorization": base + "/zoom/oauth/authorize",
                "token": base + "/zoom/oauth/token",
                // The sandbox has no Zoom revocation endpoint: empty removes the default
                // (zoom.us), so a revoke never sends a sandbox app's secret to the real one.
                "revocation": "",
                "userinfo": base + "/zoom/v2/users/me",
                "api.zoom": base + "/zoom/v2",
            ]
        case .generic:
            return [:]
        }
    }

    /// `text` as a sandbox base URL: http or https on a loopback host (the sandbox listens
    /// nowhere else), with no path beyond "/", query or fragment; returned without the
    /// trailing slash.
    package static func base(_ text: String) throws(EndpointURLError) -> String {
        guard let parts = URLComponents(string: text), let scheme = parts.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = parts.host, EndpointURL.isLoopback(host) else {
            throw EndpointURLError(message: "--sandbox \"\(text)\" must be the sandbox's http://127.0.0.1:PORT URL (a loopback host)")
        }
        guard parts.user == nil, parts.password == nil, parts.query == nil, parts.fragment == nil, parts.path.isEmpty || parts.path == "/" else {
            throw EndpointURLError(message: "--sandbox \"\(text)\" must be the sandbox's base URL alone (no path, query or credentials)")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }
}

package struct EndpointURLError: Error, CustomStringConvertible {
    package var message: String
    package var description: String { message }
}

/// The daemon's rule for endpoint URLs (docs/spec/api.md), checked early for a clear message:
/// https anywhere, plain http only on a loopback host.
enum EndpointURL {
    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        return h == "127.0.0.1" || h == "localhost" || h == "::1" || h == "[::1]"
    }

    static func isAcceptable(_ text: String) -> Bool {
        guard let parts = URLComponents(string: text), let scheme = parts.scheme?.lowercased(), let host = parts.host, !host.isEmpty,
              parts.user == nil, parts.password == nil, parts.fragment == nil else { return false }
        return scheme == "https" || (scheme == "http" && isLoopback(host))
    }
}
