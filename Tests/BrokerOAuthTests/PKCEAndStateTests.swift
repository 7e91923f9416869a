import BrokerOAuth
import Testing

@Suite("PKCE, login state, base64url and form encoding")
struct PKCEAndStateTests {
    @Test("RFC 7636 Appendix B: the S256 challenge of the example verifier")
    func rfc7636Vector() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        #expect(PKCE.challenge(for: verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        #expect(PKCE(verifier: verifier).challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        #expect(PKCE.isValidVerifier(verifier))
    }

    @Test("generated verifiers: 43 unreserved characters, distinct, with matching challenges")
    func generated() {
        var seen = Set<String>()
        for _ in 0..<200 {
            let pkce = PKCE.generate()
            #expect(pkce.verifier.utf8.count == 43)
            #expect(pkce.verifier.utf8.allSatisfy(FormEncoding.isUnreserved))
            #expect(PKCE.isValidVerifier(pkce.verifier))
            #expect(pkce.challenge == PKCE.challenge(for: pkce.verifier))
            #expect(pkce.challenge.utf8.count == 43)
            seen.insert(pkce.verifier)
        }
        #expect(seen.count == 200)
        #expect(!PKCE.isValidVerifier(String(repeating: "a", count: 42)))
        #expect(!PKCE.isValidVerifier(String(repeating: "a", count: 129)))
        #expect(PKCE.isValidVerifier(String(repeating: "a", count: 128)))
        #expect(!PKCE.isValidVerifier(String(repeating: "a", count: 42) + "+"))
    }

    @Test("state: 256 bits, distinct; matches only equal, non-empty strings")
    func state() {
        var seen = Set<String>()
        for _ in 0..<200 {
            let state = LoginState.generate()
            #expect(state.utf8.count == 43)
            #expect(Base64URL.decode(state)?.count == 32)
            seen.insert(state)
        }
        #expect(seen.count == 200)
        let s = LoginState.generate()
        #expect(LoginState.matches(s, String(s)))
        #expect(!LoginState.matches(s, LoginState.generate()))
        #expect(!LoginState.matches(s, String(s.dropLast())))
        #expect(!LoginState.matches(s, s + "A"))
        #expect(!LoginState.matches(s, ""))
        #expect(!LoginState.matches("", s))
        #expect(!LoginState.matches("", ""))
    }

    @Test("base64url: RFC 4648 vectors, no padding; decoding refuses padding and stray bits")
    func base64url() {
        let vectors: [(String, String)] = [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encode(plain) == encoded)
            #expect(Base64URL.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
        for bad in ["Zg==", "Z", "Zh", "Zm9v+", "Zm9v/", "Zm 9v"] { #expect(Base64URL.decode(bad) == nil, "\(bad)") }
    }

    @Test("form encoding keeps only unreserved characters and round-trips")
    func form() {
        let pairs = [("scope", "openid https://www.googleapis.com/auth/calendar"), ("redirect_uri", "http://127.0.0.1:5000/cb?x=1&y=2"), ("é", "a+b=c~d")]
        let text = FormEncoding.encode(pairs)
        #expect(text == "scope=openid%20https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcalendar&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcb%3Fx%3D1%26y%3D2&%C3%A9=a%2Bb%3Dc~d")
        let back = FormEncoding.decode(text)
        #expect(back?.map(\.0) == pairs.map(\.0))
        #expect(back?.map(\.1) == pairs.map(\.1))
        #expect(FormEncoding.decode("a=b+c")?.first?.1 == "b c")
        #expect(FormEncoding.decode("a=%zz") == nil)
        #expect(FormEncoding.decode("a=%4") == nil)
        #expect(FormEncoding.decode("a=%FF") == nil)
    }
}
