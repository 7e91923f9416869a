/// An error starting or configuring the sandbox: a refused bind address, a bad seed file,
/// a malformed control request.
public struct SandboxError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
