import BrokerCLI
import BrokerTesting
import Foundation
import Testing

@Suite("revoke and secret rotate: arguments")
struct RevokeSecretArgumentTests {
    @Test("revoke without a terminal requires --yes")
    func revokeNeedsYes() throws {
        let r = try credbrokerWithoutDaemon(["revoke", "google", "--profile", "dev"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("pass --yes"))
    }

    @Test("secret rotate takes the secret from a file or the terminal, never from argv")
    func rotateArguments() throws {
        let missing = try credbrokerWithoutDaemon(["secret", "rotate", "google"])
        #expect(missing.status == 64 && missing.stderr.contains("missing --client-secret-file"))
        let argv = try credbrokerWithoutDaemon(["secret", "rotate", "google", "--client-secret", "hunter2"])
        #expect(argv.status == 64)
    }
}

@Suite("revoke and secret rotate against a fake daemon", .serialized)
struct RevokeSecretCommandTests {
    @Test("revoke --yes and secret rotate send what the routes take")
    func revokeAndRotate() throws {
        let d = try FakeDaemon()
        let revoke = try d.cli(["revoke", "google", "--profile", "dev", "--account", "me@example.com", "--yes"])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        #expect(d.requests("/v1/admin/revoke").first?["body"] as? [String: String] == ["profile": "dev", "app": "google", "account": "me@example.com"])
        #expect(revoke.stderr.contains("revoked google account me@example.com in profile dev (revoked at the provider)"))
        let rotate = try d.cli(["secret", "rotate", "google-work", "--profile", "dev", "--client-secret-file", "-"], stdin: "new-secret-canary\n")
        #expect(rotate.status == 0, "\(rotate.stderr)")
        #expect(d.requests("/v1/admin/secret/rotate").first?["body"] as? [String: String] == ["profile": "dev", "app": "google-work", "client_secret": "new-secret-canary"])
        #expect(!rotate.stderr.contains("canary"))
        let empty = try d.cli(["secret", "rotate", "google", "--client-secret-file", "-"], stdin: "\n")
        #expect(empty.status == 1 && empty.stderr.contains("the client secret from standard input is empty"))
    }

    @Test("revoke on a terminal asks first; no means nothing is sent")
    func interactiveRevoke() throws {
        let d = try FakeDaemon()
        let no = try d.tty([("[y/N] ", "n")], ["revoke", "google", "--profile", "dev"])
        #expect(no.stdout.contains("Revoke the grant of \"google\" in profile \"dev\"?") && no.stdout.contains("EXIT 1"), "\(no.stdout)")
        #expect(d.requests("/v1/admin/revoke").isEmpty)
        let yes = try d.tty([("[y/N] ", "yes")], ["revoke", "google", "--profile", "dev"])
        #expect(yes.stdout.contains("EXIT 0"))
        #expect(d.requests("/v1/admin/revoke").count == 1)
    }
}
