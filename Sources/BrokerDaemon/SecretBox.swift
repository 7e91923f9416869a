import BrokerCrypto

/// A reference to SecretBytes, so a secret can sit in an optional or a dictionary (noncopyable
/// values cannot yet). The bytes are freed (and wiped) when the last reference goes.
///
/// @unchecked Sendable: the bytes are immutable after init; SecretBytes is itself Sendable.
final class SecretBox: @unchecked Sendable {
    let bytes: SecretBytes
    init(_ bytes: consuming SecretBytes) { self.bytes = bytes }
}
