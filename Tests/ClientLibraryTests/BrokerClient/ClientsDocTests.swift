import BrokerTesting
import CredBrokerClient
import Foundation
import Testing

/// The curl and Python examples of docs/clients.md, run as written against the real daemon:
/// every fenced `sh` or `python` block right after a `<!-- tested -->` line.
@Suite("Broker client docs/clients.md examples")
struct ClientsDocTests {
    struct Example: Sendable, CustomStringConvertible {
        var language: String
        var code: String
        var line: Int
        var description: String { "\(language) block at docs/clients.md:\(line)" }
    }

    /// The marked blocks of a Markdown text.
    static func examples(in markdown: String) -> [Example] {
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var examples: [Example] = []
        var i = 0
        while i < lines.count {
            if lines[i].trimmingCharacters(in: .whitespaces) == "<!-- tested -->", i + 1 < lines.count, lines[i + 1].hasPrefix("```") {
                let language = String(lines[i + 1].dropFirst(3)).trimmingCharacters(in: .whitespaces)
                var body: [String] = []
                var j = i + 2
                while j < lines.count, !lines[j].hasPrefix("```") { body.append(lines[j]); j += 1 }
                examples.append(Example(language: language, code: body.joined(separator: "\n") + "\n", line: i + 3))
                i = j
            }
            i += 1
        }
        return examples
    }

    static var document: String {
        (try? String(contentsOfFile: BuiltProducts.packageRoot + "/docs/clients.md", encoding: .utf8)) ?? ""
    }

    @Test("docs/clients.md has tested curl and Python examples")
    func examplesAreMarked() {
        let examples = Self.examples(in: Self.document)
        #expect(examples.filter { $0.language == "sh" }.count >= 2)
        #expect(examples.filter { $0.language == "python" }.count >= 1)
        #expect(examples.allSatisfy { ["sh", "python"].contains($0.language) }, "\(examples)")
    }

    @Test("the marked examples run against credbrokerd and print a token or the daemon's JSON",
          .enabled(if: Subprocess.isAvailable("curl") && Subprocess.isAvailable("python3")))
    func examplesRun() async throws {
        try await ClientBed.with { bed in
            let client = BrokerClient(socketPath: bed.socketPath, profile: bed.profile)
            let token = try await client.accessToken(provider: "google", scopes: ["calendar.readonly"])
            await client.shutdown()
            var environment = ProcessInfo.processInfo.environment
            environment["CREDBROKER_SOCKET"] = bed.socketPath
            environment["CREDBROKER_PROFILE"] = bed.profile
            let examples = Self.examples(in: Self.document)
            #expect(!examples.isEmpty)
            for example in examples {
                let result: ProcessResult
                switch example.language {
                case "sh": result = try Subprocess.run("sh", ["-eu", "-c", example.code], environment: environment, timeout: 60)
                case "python": result = try Subprocess.run("python3", ["-c", example.code], environment: environment, timeout: 60)
                default: Issue.record("\(example): unknown language"); continue
                }
                #expect(result.status == 0, "\(example) failed: \(result.stderr)")
                let out = result.stdout
                if out.contains("access_token") {
                    // curl: the daemon's whole answer, the same token the library got.
                    let answer = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
                    #expect(answer?["access_token"] as? String == token.value, "\(example)")
                    #expect(answer?["account"] as? String == "alice@sandbox.test")
                } else if out.contains("\"status\"") {
                    let answer = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
                    #expect(answer?["status"] as? String == "ok", "\(example)")
                } else {
                    // Python: a prefix of the token (never all of it), the account, the expiry.
                    #expect(out.hasPrefix(String(token.value.prefix(16)) + "..."), "\(example) printed \(out)")
                    #expect(!out.contains(token.value))
                    #expect(out.contains("alice@sandbox.test"))
                }
            }
        }
    }
}
