import BrokerHTTP
import BrokerTesting
import Foundation
import Testing

/// A test CA, a server certificate for 127.0.0.1 and localhost signed by it, a certificate
/// for another name signed by it (with another key), and an unrelated second CA: EC P-256,
/// made with the openssl CLI in a private directory removed with the value.
final class Certificates: @unchecked Sendable {
    // @unchecked Sendable: every property is immutable after init.
    let directory: TemporaryDirectory
    let caFile: String
    let otherCAFile: String
    let server: (certificate: String, key: String)
    let otherName: (certificate: String, key: String)
    /// `sha256//BASE64` of the server certificate's public key.
    let serverPin: String
    /// `sha256//BASE64` of the other-name certificate's (different) public key.
    let otherPin: String

    init() throws {
        // CI installs openssl (.ci/run): missing, the test fails rather than skips.
        try #require(Subprocess.isAvailable("openssl"), "the openssl CLI is missing (.ci/run installs openssl)")
        directory = try TemporaryDirectory(prefix: "credbroker-tls")
        let dir = directory
        func openssl(_ arguments: [String]) throws {
            let result = try Subprocess.run("openssl", arguments, currentDirectory: dir.path, timeout: 60)
            try #require(result.status == 0, "openssl \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
        let newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        func makeCA(_ name: String) throws -> String {
            try openssl(["req", "-x509"] + newKey + [
                "-keyout", "\(name).key", "-out", "\(name).pem", "-days", "2", "-subj", "/CN=credbroker test \(name)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
            return dir.file("\(name).pem")
        }
        func makeServer(_ name: String, altNames: String) throws -> (certificate: String, key: String) {
            try openssl(["req", "-new"] + newKey + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name)"])
            try dir.write("\(name).ext", """
                subjectAltName=\(altNames)
                basicConstraints=CA:FALSE
                keyUsage=critical,digitalSignature
                extendedKeyUsage=serverAuth

                """)
            try openssl([
                "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "\(name).pem", "-days", "2", "-extfile", "\(name).ext",
            ])
            return (dir.file("\(name).pem"), dir.file("\(name).key"))
        }
        func pin(_ certificate: String) throws -> String {
            let result = try Subprocess.run("/bin/sh", ["-c", """
                openssl x509 -in '\(certificate)' -pubkey -noout | openssl pkey -pubin -outform der \
                | openssl dgst -sha256 -binary | base64
                """], timeout: 60)
            let encoded = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try #require(result.status == 0 && encoded.count == 44, "computing the pin failed: \(result.stderr)")
            return "sha256//" + encoded
        }
        caFile = try makeCA("ca")
        otherCAFile = try makeCA("other-ca")
        server = try makeServer("server", altNames: "IP:127.0.0.1,DNS:localhost")
        otherName = try makeServer("other", altNames: "DNS:other.example")
        serverPin = try pin(server.certificate)
        otherPin = try pin(otherName.certificate)
    }
}

@Suite struct TLSTests {
    @Test func rightCAFilePasses() async throws {
        let certificates = try Certificates()
        let server = try await TestServer(tls: certificates.server)
        let transport = try CurlTransport(options: HTTPTransportOptions(caFile: certificates.caFile))
        let body = Array("grant_type=client_credentials".utf8)
        for host in ["127.0.0.1", "localhost"] {
            let response = try await transport.send(HTTPRequest(method: "POST", url: server.url("/echo", host: host), body: body))
            #expect(response.status == 200)
            #expect(try Echo(response).bodyBytes == body)
        }
        // TLS connections are reused too.
        for _ in 0..<5 { _ = try await transport.send(get(server.url("/status/200"))) }
        #expect(try server.stats().connections <= 2)
    }

    @Test func wrongCAFails() async throws {
        let certificates = try Certificates()
        let server = try await TestServer(tls: certificates.server)
        let transport = try CurlTransport(options: HTTPTransportOptions(caFile: certificates.otherCAFile))
        let error = await failure(transport, get(server.url("/echo")))
        #expect(error?.kind == .tls)
        #expect(error?.message.hasPrefix("TLS with \"127.0.0.1\" failed: ") == true)
        #expect(try server.stats().paths.isEmpty)
    }

    @Test func systemStoreDoesNotTrustTheTestCA() async throws {
        let certificates = try Certificates()
        let server = try await TestServer(tls: certificates.server)
        let transport = try CurlTransport()
        #expect(await failure(transport, get(server.url("/echo")))?.kind == .tls)
        #expect(try server.stats().paths.isEmpty)
    }

    @Test func hostnameMismatchFails() async throws {
        let certificates = try Certificates()
        let server = try await TestServer(tls: certificates.otherName)
        let transport = try CurlTransport(options: HTTPTransportOptions(caFile: certificates.caFile))
        for host in ["127.0.0.1", "localhost"] {
            #expect(await failure(transport, get(server.url("/echo", host: host)))?.kind == .tls, "\(host)")
        }
        #expect(try server.stats().paths.isEmpty)
    }

    @Test func correctPinPasses() async throws {
        let certificates = try Certificates()
        let server = try await TestServer(tls: certificates.server)
        for pin in [certificates.serverPin, certificates.otherPin + ";" + certificates.serverPin] {
            let transport = try CurlTransport(options: HTTPTransportOptions(caFile: certificates.caFile, pinnedPublicKey: pin))
            #expect(try await transport.send(get(server.url("/status/200"))).status == 200)
        }
    }

    @Test func wrongPinFails() async throws {
        let certificates = try Certificates()
        let server = try await TestServer(tls: certificates.server)
        let transport = try CurlTransport(
            options: HTTPTransportOptions(caFile: certificates.caFile, pinnedPublicKey: certificates.otherPin))
        let error = await failure(transport, get(server.url("/echo")))
        #expect(error?.kind == .pinMismatch)
        #expect(error?.message.hasPrefix("public key of \"127.0.0.1\" does not match the pinned key") == true)
        #expect(try server.stats().paths.isEmpty)
        // A pin never replaces verification: the right pin with an untrusting CA still fails.
        let pinnedOnly = try CurlTransport(
            options: HTTPTransportOptions(caFile: certificates.otherCAFile, pinnedPublicKey: certificates.serverPin))
        #expect(await failure(pinnedOnly, get(server.url("/echo")))?.kind == .tls)
    }

    @Test func httpsAndLoopbackHTTPSideBySide() async throws {
        let certificates = try Certificates()
        let secure = try await TestServer(tls: certificates.server)
        let plain = try await TestServer()
        let transport = try CurlTransport(options: HTTPTransportOptions(caFile: certificates.caFile))
        #expect(try await transport.send(get(secure.url("/status/200"))).status == 200)
        #expect(try await transport.send(get(plain.url("/status/201"))).status == 201)
        // Plain http to the TLS port, and TLS to the plain port, fail cleanly.
        #expect(await failure(transport, get("http://127.0.0.1:\(secure.port)/status/200")) != nil)
        #expect(await failure(transport, get("https://127.0.0.1:\(plain.port)/status/200"))?.kind == .tls)
    }
}
