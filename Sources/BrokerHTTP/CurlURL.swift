import CCurl
import Glibc

/// A request URL parsed by libcurl's own URL parser and checked against the URL rule:
/// absolute, scheme `https`, or `http` only to a loopback host (127.0.0.0/8, ::1,
/// `localhost`), no user name or password.
///
/// The transfer hands libcurl this very handle (CURLOPT_CURLU), so the host checked here is
/// the host libcurl connects to: no second parser can read the URL differently.
///
/// @unchecked Sendable: the CURLU is written once, in `init`; afterwards libcurl and this
/// type only read it (CURLOPT_CURLU documents read-only use), and `deinit` frees it when no
/// transfer can hold it.
@safe
final class CurlURL: @unchecked Sendable {
    let handle: OpaquePointer
    /// As libcurl returns it: lower case is not guaranteed, IPv6 in brackets.
    let host: String
    let isHTTPS: Bool
    let isLoopback: Bool

    init(_ url: String) throws(HTTPTransportError) {
        // Spaces, control and non-ASCII bytes: refused here, so the message never has to
        // quote a URL (its query may hold a code or a token).
        guard !url.isEmpty, url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw HTTPTransportError(.invalidURL, "URL is empty or contains spaces, control or non-ASCII characters")
        }
        CurlGlobal.initialize()
        guard let handle = unsafe curl_url() else {
            throw HTTPTransportError(.invalidURL, "could not allocate a libcurl URL handle")
        }
        // A class whose init throws before every property is set never runs deinit: free
        // the handle here on every failure.
        do throws(HTTPTransportError) {
            (host, isHTTPS, isLoopback) = try unsafe CurlURL.check(handle, url)
        } catch {
            unsafe curl_url_cleanup(handle)
            throw error
        }
        unsafe self.handle = handle
    }

    private static func check(_ handle: OpaquePointer, _ url: String) throws(HTTPTransportError) -> (host: String, isHTTPS: Bool, isLoopback: Bool) {
        let parsed = unsafe curl_url_set(handle, CURLUPART_URL, url, 0)
        guard parsed == CURLUE_OK else {
            throw HTTPTransportError(.invalidURL, "URL is not a valid absolute URL: \(CurlURL.reason(parsed))")
        }
        let scheme = (unsafe CurlURL.part(handle, CURLUPART_SCHEME) ?? "").lowercased()
        let host = unsafe CurlURL.part(handle, CURLUPART_HOST) ?? ""
        guard scheme == "https" || scheme == "http" else {
            throw HTTPTransportError(.invalidURL, "URL scheme \"\(scheme)\" is not supported: use https")
        }
        guard !host.isEmpty else {
            throw HTTPTransportError(.invalidURL, "URL has no host")
        }
        // Credentials in a URL end up in logs and messages, which treat URLs as public.
        if unsafe CurlURL.part(handle, CURLUPART_USER) != nil || CurlURL.part(handle, CURLUPART_PASSWORD) != nil {
            throw HTTPTransportError(.invalidURL, "URL for \"\(host)\" carries a user name or password: send credentials in a header")
        }
        let loopback = CurlURL.isLoopback(host: host)
        guard scheme == "https" || loopback else {
            throw HTTPTransportError(
                .insecureURL, "plain http:// to \"\(host)\" is refused: https is required for every host but loopback")
        }
        return (host, scheme == "https", loopback)
    }

    deinit { unsafe curl_url_cleanup(handle) }

    /// 127.0.0.0/8, ::1, or `localhost`, as libcurl's parser leaves the host: it has already
    /// turned other IPv4 spellings (`127.1`, `2130706433`, `0x7f000001`, `%31%32%37.0.0.1`)
    /// into dotted-quad form, which is what it connects to. Anything else that might reach
    /// loopback (`127.0.0.1.`, `localhost.`, `::ffff:127.0.0.1`, names that resolve there)
    /// is not recognised, so it is refused for http://: the safe direction.
    static func isLoopback(host: String) -> Bool {
        let host = host.lowercased()
        if host == "localhost" { return true }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            var address = in6_addr()
            let inner = String(host.dropFirst().dropLast())
            guard unsafe inet_pton(AF_INET6, inner, &address) == 1 else { return false }
            let bytes = unsafe withUnsafeBytes(of: &address) { unsafe Array($0) }
            return bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1
        }
        var address = in_addr()
        guard unsafe inet_pton(AF_INET, host, &address) == 1 else { return false }
        // s_addr is in network byte order: its first byte in memory is the first octet.
        let bytes = unsafe withUnsafeBytes(of: &address) { unsafe Array($0) }
        return bytes[0] == 127
    }

    /// One part of the URL, or nil when the URL has none.
    private static func part(_ handle: OpaquePointer, _ which: CURLUPart) -> String? {
        var value: UnsafeMutablePointer<CChar>? = nil
        guard unsafe curl_url_get(handle, which, &value, 0) == CURLUE_OK, let value = unsafe value else { return nil }
        defer { unsafe curl_free(value) }
        return unsafe String(cString: value)
    }

    private static func reason(_ code: CURLUcode) -> String {
        guard let text = unsafe curl_url_strerror(code) else { return "error \(code.rawValue)" }
        let message = unsafe String(cString: text)
        return message.prefix(1).lowercased() + message.dropFirst()
    }
}

/// `curl_global_init`, exactly once per process and before any other libcurl call.
enum CurlGlobal {
    /// A Swift global is initialised lazily and exactly once, under swift_once, so concurrent
    /// first uses are safe (libcurl's own init is not thread-safe before 7.84).
    private static let result: CURLcode = ccurl_global_init()

    /// Initialises libcurl if no one has; returns libcurl's answer.
    @discardableResult
    static func initialize() -> CURLcode { result }
}
