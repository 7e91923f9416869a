import BrokerCLI
import BrokerTesting
import Foundation
import Testing

/// A made-up key in the shape Google's console downloads (the key is not a real one).
let privateKeyCanary = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-PRIVATE-KEY-CANARY\n-----END PRIVATE KEY-----\n"

func serviceAccountJSON(dropping: [String] = [], overriding: [String: Any] = [:]) throws -> String {
    var object: [String: Any] = [
        "type": "service_account", "project_id": "demo-project", "private_key_id": "0123abcd",
        "private_key": privateKeyCanary, "client_email": "agent@demo-project.iam.gserviceaccount.com",
        "client_id": "109876543210", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    ]
    for key in dropping { object[key] = nil }
    object.merge(overriding) { _, new in new }
    return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}

@Suite("setup --service-account-file: Google key files")
struct ServiceAccountFileTests {
    @Test("the fields the daemon keeps are read")
    func parse() throws {
        let file = try ServiceAccountFile.parse(Array(try serviceAccountJSON().utf8), source: "\"key.json\"")
        #expect(file.clientID == "109876543210")
        #expect(file.key.clientEmail == "agent@demo-project.iam.gserviceaccount.com")
        #expect(file.key.privateKey == privateKeyCanary)
        #expect(file.key.privateKeyID == "0123abcd")
        #expect(file.key.tokenURI == "https://oauth2.googleapis.com/token")
        let minimal = try ServiceAccountFile.parse(Array(try serviceAccountJSON(dropping: ["private_key_id", "token_uri", "type"]).utf8), source: "x")
        #expect(minimal.key.privateKeyID == nil && minimal.key.tokenURI == nil)
    }

    @Test("missing and malformed fields are named; no message carries the key")
    func errors() throws {
        let cases: [(String, String)] = [
            (try serviceAccountJSON(dropping: ["client_email", "private_key"]), "lacks \"client_email\", \"private_key\""),
            (try serviceAccountJSON(dropping: ["client_id"]), "lacks \"client_id\""),
            (try serviceAccountJSON(overriding: ["private_key": ""]), "lacks \"private_key\""),
            (try serviceAccountJSON(overriding: ["private_key": 42]), "lacks \"private_key\""),
            (try serviceAccountJSON(overriding: ["type": "authorized_user"]), "not \"service_account\""),
            (try serviceAccountJSON(overriding: ["client_email": "nobody"]), "\"client_email\" is not an email address"),
            (try serviceAccountJSON(overriding: ["private_key": "MIIE-not-pem-PRIVATE-KEY-CANARY"]), "\"private_key\" is not a PEM private key"),
            (try serviceAccountJSON(overriding: ["token_uri": "http://evil.example/token"]), "\"token_uri\" must be an https:// URL"),
            ("[1, 2]", "not a JSON object"),
            ("{\"installed\": {\"client_id\": \"x\"}", "not a JSON object"),
        ]
        for (text, expected) in cases {
            do {
                _ = try ServiceAccountFile.parse(Array(text.utf8), source: "\"key.json\"")
                Issue.record("accepted: \(expected)")
            } catch {
                #expect(error.message.contains(expected), "\(error.message)")
                #expect(!error.message.contains("CANARY") && !(error.hint ?? "").contains("CANARY"))
            }
        }
    }

    @Test("setup never prints the key, whatever happens after reading it")
    func keyNeverPrinted() throws {
        let dir = try TemporaryDirectory()
        let good = try dir.write("key.json", try serviceAccountJSON())
        let bad = try dir.write("bad.json", try serviceAccountJSON(overriding: ["private_key": "PRIVATE-KEY-CANARY"]))
        for file in [good, bad] {
            let r = try credbroker(["setup", "google", "--name", "google-sa", "--service-account-file", file, "--scope", "calendar.readonly",
                                    "--socket", "/nonexistent/credbroker-test.sock"])
            #expect(r.status == 1, "\(r.stderr)")
            #expect(!r.stderr.contains("CANARY") && !r.stdout.contains("CANARY"))
        }
        let missing = try credbroker(["setup", "google", "--service-account-file", dir.file("none.json"), "--scope", "calendar"])
        #expect(missing.status == 1 && missing.stderr.contains("cannot read \"\(dir.file("none.json"))\""))
    }
}
