/// An error from the crypto layer. Messages are lowercase, name the object, and never hold
/// key material.
public struct CryptoError: Error, Sendable, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String { case authenticationFailed, invalidParameters, weakParameters, invalidKey, failed }
        private let value: Value
        /// The AEAD tag did not verify: wrong key, wrong associated data, or altered bytes.
        public static let authenticationFailed = Code(value: .authenticationFailed)
        /// Parameters outside the accepted bounds (refused before any allocation).
        public static let invalidParameters = Code(value: .invalidParameters)
        /// KDF parameters below the interactive floor without an explicit opt-in.
        public static let weakParameters = Code(value: .weakParameters)
        /// A PEM key that does not parse, is not RSA, or is too short.
        public static let invalidKey = Code(value: .invalidKey)
        /// The C library reported a failure (for example out of memory).
        public static let failed = Code(value: .failed)
        public var description: String { value.rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
