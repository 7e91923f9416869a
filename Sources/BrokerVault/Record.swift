/// What a record holds. A struct, not an enum, so later kinds need no breaking change.
public struct RecordKind: Hashable, Sendable, Codable, CustomStringConvertible, RawRepresentable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// A provider app: client id, client secret, tenant, endpoint overrides.
    public static let providerApp = RecordKind(rawValue: "provider_app")
    /// A user's grant: account, scopes, refresh token, optional cached access token.
    public static let grant = RecordKind(rawValue: "grant")
    /// A service account: private key and client email.
    public static let serviceAccount = RecordKind(rawValue: "service_account")
    /// Vault-internal keys kept as records (for example the audit log's HMAC key).
    public static let internalKey = RecordKind(rawValue: "internal_key")
    public static let known: [RecordKind] = [.providerApp, .grant, .serviceAccount, .internalKey]
    public var description: String { rawValue }
}

/// The plaintext identity of a record: the only record metadata stored unencrypted.
public struct RecordID: Hashable, Sendable, Codable, CustomStringConvertible {
    public var profile: String
    public var kind: RecordKind
    public var name: String

    public init(profile: String, kind: RecordKind, name: String) {
        self.profile = profile
        self.kind = kind
        self.name = name
    }

    public var description: String { "\(kind) \"\(name)\" in profile \"\(profile)\"" }
}

/// Profile names: 1 to 64 of [A-Za-z0-9._-], starting with a letter or digit.
public enum ProfileName {
    public static func validate(_ name: String) throws(VaultError) {
        let bytes = Array(name.utf8)
        let ok = !bytes.isEmpty && bytes.count <= 64 && bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        } && bytes[0] != UInt8(ascii: ".") && bytes[0] != UInt8(ascii: "-") && bytes[0] != UInt8(ascii: "_")
        guard ok else {
            throw VaultError(.invalidArgument, "invalid profile name \"\(name)\": use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }
}

enum RecordName {
    static func validate(_ name: String) throws(VaultError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= VaultFormat.maxRecordNameBytes,
            !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw VaultError(.invalidArgument, "invalid record name: use 1 to \(VaultFormat.maxRecordNameBytes) bytes without control characters")
        }
    }
}
