import BrokerHTTP
import BrokerTesting
import Testing

/// The URL rule: https anywhere, http to loopback only, nothing else; checked before any
/// connection.
@Suite struct URLRuleTests {
    @Test(arguments: [
        "https://oauth2.googleapis.com/token",
        "https://login.microsoftonline.com/common/oauth2/v2.0/token?x=1#frag",
        "HTTPS://EXAMPLE.COM",
        "https://203.0.113.7:8443/",
        "https://[2001:db8::1]/",
        "http://127.0.0.1:8080/token",
        "http://127.255.255.254/",
        "http://localhost/",
        "http://LOCALHOST:1234/path",
        "http://[::1]:8080/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://[::1%25lo]/",
        // libcurl's parser turns these into 127.0.0.1, the address it then connects to.
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://%31%32%37.0.0.1/",
    ])
    func accepted(url: String) throws {
        try HTTPRequest.validateURL(url)
    }

    @Test(arguments: [
        "http://example.com/",
        "http://oauth2.googleapis.com/token",
        "http://10.0.0.1/",
        "http://128.0.0.1/",
        "http://localhost.example.com/",
        "http://localhost.localdomain/",
        "http://127.0.0.1.nip.io/",
        "http://[::2]/",
        "http://[::ffff:127.0.0.1]/",
        "http://127.0.0.1./",
        "http://localhost./",
        "http://%65xample.com/",
    ])
    func insecure(url: String) {
        #expect {
            try HTTPRequest.validateURL(url)
        } throws: { error in
            guard let error = error as? HTTPTransportError, error.kind == .insecureURL else { return false }
            return error.message.contains("https is required")
        }
    }

    @Test(arguments: [
        "",
        "/token",
        "example.com/token",
        "127.0.0.1:8080/token",
        "file:///etc/passwd",
        "ftp://127.0.0.1/file",
        "gopher://127.0.0.1/",
        "ldap://127.0.0.1/",
        "dict://127.0.0.1:11211/stat",
        "https://",
        "https://exa mple.com/",
        "https://example.com/a b",
        "https://example.com/\n",
        "https://exämple.com/",
        "https://user:password@example.com/",
        "http://user@127.0.0.1/",
        "http://127.0.0.1@example.com/",
    ])
    func invalid(url: String) {
        #expect {
            try HTTPRequest.validateURL(url)
        } throws: { error in
            (error as? HTTPTransportError)?.kind == .invalidURL
        }
    }

    @Test func messagesNameTheHostButNotThePathOrQuery() {
        #expect {
            try HTTPRequest.validateURL("http://idp.example.com/token?code=canary-secret")
        } throws: { error in
            let message = (error as? HTTPTransportError)?.message ?? ""
            return message.contains("\"idp.example.com\"") && !message.contains("canary") && !message.contains("/token")
        }
        #expect {
            try HTTPRequest.validateURL("https://client:canary-secret@idp.example.com/")
        } throws: { error in
            let message = (error as? HTTPTransportError)?.message ?? ""
            return message.contains("\"idp.example.com\"") && !message.contains("canary")
        }
    }

    @Test func insecureURLMakesNoConnectionEvenThroughAProxy() async throws {
        // If the transport tried anything, the proxy would see it.
        let proxy = try await TestServer()
        let transport = try CurlTransport(options: HTTPTransportOptions(proxy: proxy.url("")))
        for url in ["http://example.com/", "http://oauth2.googleapis.com/token", "file:///etc/passwd", "ftp://example.com/"] {
            let error = await failure(transport, get(url))
            #expect(error?.kind == .insecureURL || error?.kind == .invalidURL, "\(url)")
        }
        let error = await failure(transport, get("http://example.com/"))
        #expect(error?.kind == .insecureURL)
        #expect(error?.message == "plain http:// to \"example.com\" is refused: https is required for every host but loopback")
        #expect(try proxy.stats().requests == 0)
        #expect(try proxy.stats().connections == 0)
    }

    @Test func transportOptionsAreChecked() throws {
        func refused(_ options: HTTPTransportOptions) -> String? {
            do {
                _ = try CurlTransport(options: options)
                return nil
            } catch {
                return error.kind == .configuration ? error.message : "wrong kind \(error.kind)"
            }
        }
        #expect(refused(HTTPTransportOptions(caFile: "/nonexistent/ca.pem"))?.contains("cannot read CA file \"/nonexistent/ca.pem\"") == true)
        #expect(refused(HTTPTransportOptions(caFile: "/"))?.contains("not a regular file") == true)
        let directory = try TemporaryDirectory(prefix: "credbroker-http")
        let notPEM = try directory.write("ca.pem", "not a certificate\n")
        #expect(refused(HTTPTransportOptions(caFile: notPEM))?.contains("holds no PEM certificate") == true)
        #expect(refused(HTTPTransportOptions(connectTimeout: .zero)) != nil)
        #expect(refused(HTTPTransportOptions(totalTimeout: .seconds(-1))) != nil)
        #expect(refused(HTTPTransportOptions(maxConcurrentTransfers: 0)) != nil)
        #expect(refused(HTTPTransportOptions(maxConcurrentTransfers: 65)) != nil)
        #expect(refused(HTTPTransportOptions(proxy: "http://proxy example:3128")) != nil)
        #expect(refused(HTTPTransportOptions(userAgent: "agent\r\nX-Evil: 1")) != nil)
        let validPin = "sha256//" + String(repeating: "A", count: 43) + "="
        #expect(refused(HTTPTransportOptions(pinnedPublicKey: validPin)) == nil)
        #expect(refused(HTTPTransportOptions(pinnedPublicKey: validPin + ";" + validPin)) == nil)
        for pin in ["", "/etc/ssl/pin.pem", "sha256//", "sha1//" + String(repeating: "A", count: 27) + "=",
                    "sha256//" + String(repeating: "A", count: 44), validPin + ";", validPin + ";junk"] {
            #expect(refused(HTTPTransportOptions(pinnedPublicKey: pin))?.hasPrefix("pinned public key must be") == true, "\(pin)")
        }
        #expect(refused(HTTPTransportOptions()) == nil)
    }
}
