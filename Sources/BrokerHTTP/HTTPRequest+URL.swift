extension HTTPRequest {
    /// Checks `url` against the rule every `CurlTransport` request passes before any
    /// connection is made: an absolute URL, scheme `https`, or `http` only when the host is
    /// loopback (127.0.0.0/8 in dotted-quad form, `[::1]`, `localhost`), with no user name
    /// or password. Configuration loaders call it so that a bad endpoint is refused when it
    /// is set, not at its first use.
    ///
    /// - Throws: `.invalidURL` for anything that is not such an http(s) URL, `.insecureURL`
    ///   for `http://` to any other host. Messages name the host, never the path or query.
    public static func validateURL(_ url: String) throws(HTTPTransportError) {
        _ = try CurlURL(url)
    }
}
