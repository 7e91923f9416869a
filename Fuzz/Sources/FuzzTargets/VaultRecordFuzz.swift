import BrokerCrypto
import BrokerVault
import Synchronization

/// `vault-record`: a record payload through the vault's own sealing, opening and decoding
/// (Vault.sealRecord, openRecord, payload(_:from:id:)), with a real unlocked vault made
/// once, and the sealed row then altered.
///
/// Input: a byte that picks the payload type (low two bits: provider app, grant, service
/// account, internal key) and how the sealed row is altered (the next three bits: not at
/// all, a flipped byte, truncated, extended, moved to another record, another key
/// generation, another nonce, nonce and ciphertext swapped), then the plaintext.
///
/// Invariants: the row opens to exactly the plaintext; the plaintext decodes to its type
/// or fails as an integrity failure or an unsupported version, never otherwise; a payload
/// that decodes, written back, reads back the same; an altered row never opens (always an
/// integrity failure).
enum VaultRecordFuzz {
    static let target = FuzzTarget(
        name: "vault-record", summary: "a payload-type and tamper byte, then a record plaintext, sealed, opened and decoded by a real vault",
        maxLength: 8 * 1024, prepare: { _ = run([0]) }, run: run)

    /// One owner at a time (Vault is not Sendable): the vault, made on first use.
    static let shared = Mutex<Vault?>(nil)

    static func run(_ input: [UInt8]) -> String? {
        guard let first = input.first else { return nil }
        let plaintext = Array(input.dropFirst())
        return shared.withLock { slot -> String? in
            if slot == nil { slot = makeVault() }
            return check(slot!, kind: Int(first & 3), tamper: Int(first >> 2) & 7, plaintext: plaintext)
        }
    }

    static func makeVault() -> Vault {
        let path = Scratch.directory("vault-record") + "/vault.db"
        do {
            let created = try Vault.create(at: path, passphrase: SecretBytes(copying: Array("fuzzing passphrase".utf8)), strength: .interactive)
            return created.vault
        } catch {
            fatalError("cannot create the fuzzing vault: \(error)")
        }
    }

    static let kinds: [RecordKind] = [.providerApp, .grant, .serviceAccount, .internalKey]

    static func check(_ vault: Vault, kind: Int, tamper: Int, plaintext: [UInt8]) -> String? {
        let id = RecordID(profile: "dev", kind: kinds[kind], name: "google")
        let secret = SecretBytes(copying: plaintext)
        let generation: Int64
        let box: AEAD.SealedBox
        do throws(VaultError) {
            let sealed = try vault.sealRecord(secret, as: id)
            generation = sealed.generation
            box = sealed.box
        } catch {
            return "sealing failed: \(error)"
        }
        do throws(VaultError) {
            let opened = try vault.openRecord(id, generation: generation, box: box)
            let same = opened.constantTimeEquals(plaintext)
            guard same else { return "the record opened to other bytes" }
            if let problem = decode(opened, kind: kind, id: id) { return problem }
        } catch {
            return "an untouched record did not open: \(error)"
        }

        var altered = box
        var alteredID = id
        var alteredGeneration = generation
        let position = plaintext.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xFFFF }
        switch tamper {
        case 0:
            return nil
        case 1:
            let i = position % altered.ciphertext.count
            altered.ciphertext[i] ^= 1 << UInt8(position % 8)
        case 2:
            altered.ciphertext.removeLast(1 + position % altered.ciphertext.count)
        case 3:
            altered.ciphertext.append(UInt8(truncatingIfNeeded: position))
        case 4:
            let moves = [RecordID(profile: "prod", kind: id.kind, name: id.name), RecordID(profile: id.profile, kind: kinds[(kind + 1) % 4], name: id.name),
                         RecordID(profile: id.profile, kind: id.kind, name: "google2")]
            alteredID = moves[position % moves.count]
        case 5:
            alteredGeneration = generation &+ Int64(1 + position % 3)
        case 6:
            altered.nonce[position % altered.nonce.count] ^= 0x80
        default:
            altered = AEAD.SealedBox(nonce: box.ciphertext, ciphertext: box.nonce)
        }
        do throws(VaultError) {
            _ = try vault.openRecord(alteredID, generation: alteredGeneration, box: altered)
            return "an altered record opened (alteration \(tamper))"
        } catch {
            guard error.code == .integrityFailure else { return "an altered record gave \(error.code), not an integrity failure" }
        }
        return nil
    }

    static func decode(_ opened: borrowing SecretBytes, kind: Int, id: RecordID) -> String? {
        switch kind {
        case 0: return roundTrip(ProviderAppPayload.self, opened, id: id)
        case 1: return roundTrip(GrantPayload.self, opened, id: id)
        case 2: return roundTrip(ServiceAccountPayload.self, opened, id: id)
        default: return nil // internal keys are raw bytes, not JSON
        }
    }

    /// Decodes; a payload that decodes must survive being written back and read again.
    static func roundTrip<P: RecordPayload & Equatable>(_ type: P.Type, _ opened: borrowing SecretBytes, id: RecordID) -> String? {
        let payload: P
        do throws(VaultError) {
            payload = try Vault.payload(P.self, from: opened, id: id)
        } catch {
            guard error.code == .integrityFailure || error.code == .unsupportedVersion else {
                return "a payload failed with \(error.code), not an integrity failure or an unsupported version"
            }
            return nil
        }
        do throws(VaultError) {
            let written = try Vault.plaintext(of: payload, name: id.name)
            let again = try Vault.payload(P.self, from: written, id: id)
            let written2 = try Vault.plaintext(of: again, name: id.name)
            let third = try Vault.payload(P.self, from: written2, id: id)
            guard third == again else { return "a \(P.kind) payload reads back differently once written" }
        } catch {
            return "a \(P.kind) payload that was read cannot be written and read back: \(error)"
        }
        return nil
    }
}
