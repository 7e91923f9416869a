import BrokerCrypto
import Testing

@Suite("Password KDF (Argon2id)")
struct PasswordKDFTests {
    static let password = Array("correct horse battery staple".utf8)
    static let salt: [UInt8] = Array(0...15)

    @Test("known answers: Argon2id, password \"correct horse battery staple\", salt 00..0f", arguments: [
        (UInt64(2), UInt64(64 << 20), "c05ce4c4dd7e0e45ee6011cc59d068ade47df1b01fc0cf9cd4678bdf68a5b7b0"),
        (UInt64(3), UInt64(256 << 20), "aad608b5866cef907f47d5cae529ed01a91301c92c5d5fef46e1a65e394e5742"),
    ])
    func knownAnswers(ops: UInt64, mem: UInt64, expected: String) throws {
        let key = try PasswordKDF.deriveKey(
            from: SecretBytes(copying: Self.password),
            parameters: .init(opsLimit: ops, memLimitBytes: mem, salt: Self.salt), allowWeak: false)
        #expect(hexString(key.unsafeCopyToArray()) == expected)
    }

    @Test("out-of-bounds parameters are refused before any allocation")
    func outOfBounds() {
        let secret = SecretBytes(copying: Self.password)
        let cases: [PasswordKDF.Parameters] = [
            .init(opsLimit: 3, memLimitBytes: (4 << 30) + 1024, salt: Self.salt),
            .init(opsLimit: 3, memLimitBytes: UInt64.max, salt: Self.salt),
            .init(opsLimit: 17, memLimitBytes: 64 << 20, salt: Self.salt),
            .init(opsLimit: UInt64.max, memLimitBytes: 64 << 20, salt: Self.salt),
            .init(opsLimit: 0, memLimitBytes: 64 << 20, salt: Self.salt),
            .init(opsLimit: 2, memLimitBytes: 1024, salt: Self.salt),
            .init(opsLimit: 2, memLimitBytes: 64 << 20, salt: Array(Self.salt.dropLast())),
            .init(algorithm: "argon2i13", opsLimit: 2, memLimitBytes: 64 << 20, salt: Self.salt),
        ]
        for parameters in cases {
            // A 16 EiB or 4 GiB+ allocation attempt would take seconds or fail with ENOMEM
            // (code .failed); only the bounds check answers .invalidParameters.
            #expect(throws: CryptoError(.invalidParameters, "")) {
                do throws(CryptoError) { _ = try PasswordKDF.deriveKey(from: secret, parameters: parameters, allowWeak: true) } catch {
                    throw CryptoError(error.code, "")
                }
            }
        }
    }

    @Test("below the interactive floor only with allowWeak")
    func weakParameters() throws {
        let secret = SecretBytes(copying: Self.password)
        let weak = PasswordKDF.Parameters(opsLimit: 1, memLimitBytes: 8192, salt: Self.salt)
        #expect(weak.isWeak)
        #expect(throws: CryptoError(.weakParameters, "")) {
            do throws(CryptoError) { _ = try PasswordKDF.deriveKey(from: secret, parameters: weak, allowWeak: false) } catch { throw CryptoError(error.code, "") }
        }
        let key = try PasswordKDF.deriveKey(from: secret, parameters: weak, allowWeak: true)
        #expect(key.count == 32)
    }

    @Test("named strengths are libsodium's presets")
    func strengths() {
        #expect(PasswordKDF.Strength.interactive.opsLimit == 2 && PasswordKDF.Strength.interactive.memLimitBytes == 64 << 20)
        #expect(PasswordKDF.Strength.moderate.opsLimit == 3 && PasswordKDF.Strength.moderate.memLimitBytes == 256 << 20)
        #expect(PasswordKDF.Strength.sensitive.opsLimit == 4 && PasswordKDF.Strength.sensitive.memLimitBytes == 1 << 30)
        #expect(PasswordKDF.Strength.named("moderate") == .moderate)
        #expect(PasswordKDF.Strength.named("weak") == nil)
        #expect(PasswordKDF.Parameters.fresh(.moderate).salt != PasswordKDF.Parameters.fresh(.moderate).salt)
    }
}
