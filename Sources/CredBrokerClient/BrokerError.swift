/// An error from credbrokerd or from reaching it.
///
/// The codes of the socket API (docs/spec/api.md, "Errors") keep the wire's raw strings, so
/// `BrokerError.Code.locked.rawValue == "locked"`; a code a newer daemon sends that this
/// library does not know keeps its raw string too. The client adds a few of its own:
/// `unreachable`, `untrustedDaemon`, `protocolError` and `noProfile`.
///
/// `message` is lowercase, names the object (the socket path, the profile) and never holds a
/// token. `hint` is the command or setting that fixes it, when there is one.
public struct BrokerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable error code. Compare with the static members.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The vault is locked: `credbroker vault unlock`.
        public static let locked = Code(rawValue: "locked")
        /// The policy does not allow this caller the request (the daemon says no more).
        public static let denied = Code(rawValue: "denied")
        /// No such grant, profile or API base URL.
        public static let notFound = Code(rawValue: "not_found")
        /// The grant needs a new login; `hint` is the `credbroker login` command.
        public static let reauthRequired = Code(rawValue: "reauth_required")
        /// The daemon rejected the request as malformed (e.g. several accounts and none named).
        public static let badRequest = Code(rawValue: "bad_request")
        /// A connection or rate cap; `retryAfter` says when to try again.
        public static let tooMany = Code(rawValue: "too_many")
        /// No vault, the audit log cannot be written, or the provider is failing; `retryAfter`
        /// when the daemon gave one.
        public static let unavailable = Code(rawValue: "unavailable")
        /// A bug in the daemon.
        public static let `internal` = Code(rawValue: "internal")
        /// No daemon answered at any candidate socket.
        public static let unreachable = Code(rawValue: "unreachable")
        /// The socket is served by a process that is neither this user, root nor the
        /// `credbroker` user: a look-alike that could hand out someone else's token.
        public static let untrustedDaemon = Code(rawValue: "untrusted_daemon")
        /// The daemon's answer could not be read.
        public static let protocolError = Code(rawValue: "protocol_error")
        /// No profile was given and `CREDBROKER_PROFILE` is not set.
        public static let noProfile = Code(rawValue: "no_profile")

        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    /// The command that fixes it (`credbroker login google --profile dev --scope ...` for
    /// `reauthRequired`, `credbroker vault unlock` for `locked`), when known.
    public var hint: String?
    /// For `tooMany` and `unavailable`: how long to wait before trying again.
    public var retryAfter: Duration?

    public init(_ code: Code, _ message: String, hint: String? = nil, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.retryAfter = retryAfter
    }

    /// `code: message (hint: ...)`. Never contains a token.
    public var description: String {
        var text = "\(code): \(message)"
        if let hint { text += " (hint: \(hint))" }
        if let retryAfter { text += " (retry after \(retryAfter.components.seconds) s)" }
        return text
    }
}
