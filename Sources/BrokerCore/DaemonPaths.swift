/// Where the daemon keeps things in each mode (DESIGN.md's table), and where clients look
/// for its socket. Pure: the caller supplies the environment, the uid and a way to ask
/// whether a directory exists.
public struct DaemonPaths: Sendable, Equatable {
    public var socket: String
    public var vault: String
    public var config: String
    public var policies: String
    public var auditLog: String

    public init(socket: String, vault: String, config: String, policies: String, auditLog: String) {
        self.socket = socket
        self.vault = vault
        self.config = config
        self.policies = policies
        self.auditLog = auditLog
    }

    public static let system = DaemonPaths(
        socket: "/run/credbroker/broker.sock",
        vault: "/var/lib/credbroker/vault.db",
        config: "/etc/credbroker/credbrokerd.toml",
        policies: "/etc/credbroker/policies.d",
        auditLog: "/var/log/credbroker/audit.log")

    /// User mode: the XDG base directories, with the XDG spec's fallbacks (~/.local/share,
    /// ~/.config, ~/.local/state); the socket under $XDG_RUNTIME_DIR, else /run/user/UID when
    /// it exists, else /tmp/credbroker-UID (whose owner the daemon checks).
    public static func user(environment: [String: String], uid: UInt32, home: String?,
                            directoryExists: (String) -> Bool) -> DaemonPaths {
        let home = environment["HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home ?? "/"
        func xdg(_ name: String, _ fallback: String) -> String {
            if let value = environment[name], value.hasPrefix("/") { return value }
            return home + fallback
        }
        let data = xdg("XDG_DATA_HOME", "/.local/share")
        let config = xdg("XDG_CONFIG_HOME", "/.config")
        let state = xdg("XDG_STATE_HOME", "/.local/state")
        return DaemonPaths(
            socket: runtimeDirectory(environment: environment, uid: uid, directoryExists: directoryExists) + "/broker.sock",
            vault: data + "/credbroker/vault.db",
            config: config + "/credbroker/credbrokerd.toml",
            policies: config + "/credbroker/policies.d",
            auditLog: state + "/credbroker/audit.log")
    }

    /// The user-mode socket directory.
    public static func runtimeDirectory(environment: [String: String], uid: UInt32, directoryExists: (String) -> Bool) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            return runtime + "/credbroker"
        }
        if directoryExists("/run/user/\(uid)") { return "/run/user/\(uid)/credbroker" }
        return "/tmp/credbroker-\(uid)"
    }

    /// The sockets a client tries, in order: `--socket`, `$CREDBROKER_SOCKET`, the user
    /// path, then the system path.
    public static func clientCandidates(flag: String?, environment: [String: String], uid: UInt32,
                                        directoryExists: (String) -> Bool) -> [String] {
        if let flag, !flag.isEmpty { return [flag] }
        if let env = environment["CREDBROKER_SOCKET"], !env.isEmpty { return [env] }
        let user = runtimeDirectory(environment: environment, uid: uid, directoryExists: directoryExists) + "/broker.sock"
        return [user, system.socket]
    }
}
