public import BrokerCore
import BrokerHTTP
import BrokerCrypto
import BrokerSystem
import BrokerVault
import BrokerWire
import FoundationEssentials
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// What `credbrokerd`'s flags say; nil means "from the config file, else the default".
public struct DaemonOptions: Sendable {
    public var mode: DaemonMode?
    public var config: String?
    public var vault: String?
    public var socket: String?
    public var policies: String?
    public var auditLog: String?
    public var unlockKeyFile: String?
    /// `--metrics-listen`, as given (checked by `configuration`).
    public var metricsListen: String?
    public var allowRoot = false
    public var environment: [String: String] = ProcessInfo.processInfo.environment

    public init() {}
}

/// A startup failure: the message names the object and the fix.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum Daemon {
    public static let version = "0.2.0"

    /// Resolves the configuration: defaults of the mode, then the config file, then flags.
    public static func configuration(_ options: DaemonOptions) throws -> Configuration {
        let uid = UserDatabase.effectiveUID
        let mode = options.mode ?? (UserDatabase.userName(of: uid) == "credbroker" ? .system : .user)
        let paths: DaemonPaths
        switch mode {
        case .system: paths = .system
        case .user:
            paths = DaemonPaths.user(environment: options.environment, uid: uid, home: UserDatabase.homeDirectory(of: uid)) { path in
                (try? FileSecurity.status(ofPath: path))??.isDirectory ?? false
            }
        }
        var configuration = Configuration(mode: mode, paths: paths)
        let configPath = options.config ?? paths.config
        do {
            if let text = try TrustedFile.read(configPath) {
                try configuration.apply(configText: text, file: configPath)
            } else if options.config != nil {
                throw DaemonError("config file \"\(configPath)\" does not exist")
            }
        } catch let error as FileSecurityError {
            throw DaemonError("refusing the config file: \(error.description)")
        } catch let error as ConfigurationError {
            // As every start-up failure: "credbrokerd: error: config …, key …: …".
            throw DaemonError(error.message)
        }
        if let v = options.vault { configuration.paths.vault = FileSecurity.absolute(v) }
        if let v = options.socket { configuration.paths.socket = FileSecurity.absolute(v) }
        if let v = options.policies { configuration.paths.policies = FileSecurity.absolute(v) }
        if let v = options.auditLog { configuration.paths.auditLog = FileSecurity.absolute(v) }
        if let v = options.unlockKeyFile { configuration.unlockKeyFile = FileSecurity.absolute(v) }
        if let v = options.metricsListen {
            switch MetricsListenAddress.parse(v) {
            case .success(let address): configuration.metricsListen = address
            case .failure(let error): throw DaemonError("--metrics-listen: \(error.message)")
            }
        }
        configuration.allowRoot = options.allowRoot
        return configuration
    }

    /// Reads and parses the policy directory (the same code `credbroker policy check` uses).
    public static func loadPolicies(directory: String) -> Result<PolicySet, ConfigurationError> {
        do {
            let files = try TrustedFile.readDirectory(directory)
            return .success(try PolicyParser.parse(files: files))
        } catch let error as FileSecurityError {
            return .failure(ConfigurationError("refusing the policies: \(error.description)"))
        } catch let error as PolicyError {
            return .failure(ConfigurationError(error.description))
        } catch {
            return .failure(ConfigurationError("cannot load the policies: \(error)"))
        }
    }

    /// Runs the daemon until SIGTERM or SIGINT. Throws a DaemonError when it cannot start.
    public static func run(_ options: DaemonOptions, logger: Logger) async throws {
        let configuration = try configuration(options)
        let environment = options.environment
        if configuration.mode == .system && UserDatabase.effectiveUID == 0 && !configuration.allowRoot {
            throw DaemonError("refusing to run as root in system mode; run as the credbroker user (the shipped unit does) or pass --allow-root")
        }
        let policies: PolicySet
        switch loadPolicies(directory: configuration.paths.policies) {
        case .success(let p): policies = p
        case .failure(let e): throw DaemonError(e.message)
        }
        if policies.rules.isEmpty {
            logger.warning("no policy rules loaded: every token request will be denied", metadata: ["policies": "\(configuration.paths.policies)"])
        }

        // The vault: open (locked) when it exists; unlock with a key file when configured.
        var vault: Vault?
        if (try? FileSecurity.status(ofPath: configuration.paths.vault)) ?? nil != nil {
            do { vault = try Vault.open(at: configuration.paths.vault) } catch {
                throw DaemonError("cannot open the vault: \(error.message)")
            }
        }
        var unlockedAtStart = false
        if let keyFile = configuration.unlockKeyFile, let v = vault {
            do {
                let bytes = try SecretFile.readKeyFile(path: keyFile, credentialsDirectory: environment["CREDENTIALS_DIRECTORY"])
                try v.unlock(try UnlockSecret.keyFile(bytes))
                unlockedAtStart = true
            } catch let error as FileSecurityError {
                throw DaemonError("cannot read the unlock key file: \(error.description)")
            } catch let error as VaultError {
                throw DaemonError("cannot unlock the vault with \"\(keyFile)\": \(error.message)")
            }
        }

        // One registry per daemon, nothing bootstrapped process-wide (DaemonMetrics).
        let metrics = DaemonMetrics()
        let audit: AuditLog
        do {
            audit = try AuditLog(path: configuration.paths.auditLog, settings: configuration.audit,
                                 publicKey: Broker.readPublicKey(vault: configuration.paths.vault), metrics: metrics,
                                 now: { Int64(Date().timeIntervalSince1970) })
        } catch {
            throw DaemonError("cannot use the audit log: \(error.description)")
        }
        audit.start(reason: "credbrokerd \(version) started in \(configuration.mode.rawValue) mode")

        let transport: CurlTransport
        do {
            var options = HTTPTransportOptions()
            options.caFile = configuration.oauth.caFile
            options.proxy = configuration.oauth.proxy
            options.connectTimeout = .milliseconds(Int64(configuration.oauth.connectTimeoutSeconds * 1000))
            options.totalTimeout = .milliseconds(Int64(configuration.oauth.totalTimeoutSeconds * 1000))
            transport = try CurlTransport(options: options)
        } catch {
            throw DaemonError("cannot set up HTTPS to the providers: \(error.message)")
        }
        let broker = Broker(configuration: configuration, policies: policies, vault: vault, audit: audit, metrics: metrics, logger: logger, version: version)
        let refresher = Refresher(broker: broker, transport: transport, settings: configuration.oauth)
        broker.refresher = refresher
        defer { refresher.shutdown() }
        if unlockedAtStart, let v = vault { try broker.didUnlock(v) }
        let policyDirectory = configuration.paths.policies
        let logins = LoginManager(broker: broker, refresher: refresher, transport: transport)
        let router = Router(broker: broker, refresher: refresher, logins: logins) { loadPolicies(directory: policyDirectory) }

        let listener = try Listener(configuration: configuration, router: router, broker: broker, logger: logger, environment: environment)
        let signals = SignalService(broker: broker, router: router, logger: logger)
        let idle = IdleLockService(broker: broker, router: router)
        let auditService = AuditService(audit: audit)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [
                .init(service: auditService),
                .init(service: signals),
                .init(service: idle),
                .init(service: listener),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        broker.shutdown()
    }
}

/// The socket listener: binds (or adopts systemd's fd 3), serves, and on graceful shutdown
/// stops accepting, lets in-flight requests finish (up to `drainSeconds`), then closes.
final class Listener: Service {
    let configuration: Configuration
    let router: Router
    let broker: Broker
    let logger: Logger
    let environment: [String: String]
    let registry: ConnectionRegistry
    let identities = IdentityResolver()

    init(configuration: Configuration, router: Router, broker: Broker, logger: Logger, environment: [String: String]) throws {
        self.configuration = configuration
        self.router = router
        self.broker = broker
        self.logger = logger
        self.environment = environment
        self.registry = ConnectionRegistry(limits: configuration.limits, metrics: broker.metrics)
    }

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.limits.threads ?? max(1, System.coreCount))
        // The metrics listener first: when its port is taken the daemon stops before
        // anyone could connect to the socket.
        var metricsServer: (any Channel)?
        if let address = configuration.metricsListen {
            let router = self.router
            do {
                metricsServer = try await MetricsServer.bind(address, group: group, limits: configuration.limits) { router.metrics.exposition() }
            } catch {
                try? await group.shutdownGracefully()
                throw DaemonError("cannot serve metrics on \(address) (--metrics-listen): \(error)")
            }
            var bound = address
            bound.port = metricsServer?.localAddress?.port ?? address.port
            logger.notice("serving metrics over TCP (loopback; GET /metrics only)", metadata: ["metrics": "\(bound)"])
        }
        let server: any Channel
        let activated: Bool
        do {
            (server, activated) = try await bind(group: group)
        } catch {
            try? await metricsServer?.close()
            try? await group.shutdownGracefully()
            throw error
        }
        let state = broker.currentState.rawValue
        logger.notice("listening", metadata: ["socket": "\(configuration.paths.socket)", "mode": "\(configuration.mode.rawValue)", "vault": "\(state)"])
        Systemd.notify("READY=1\nSTATUS=listening on \(configuration.paths.socket), vault \(state)", environment: environment)

        try? await gracefulShutdown()

        Systemd.notify("STOPPING=1", environment: environment)
        logger.notice("shutting down: draining requests")
        try? await server.close()
        try? await metricsServer?.close()
        let deadline = Date().addingTimeInterval(configuration.limits.drainSeconds)
        while registry.requestsInFlight > 0 && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for channel in registry.openChannels { try? await channel.close() }
        try? await group.shutdownGracefully()
        if !activated { _ = try? FileSecurity.remove(configuration.paths.socket) }
    }

    private func bind(group: MultiThreadedEventLoopGroup) async throws -> (any Channel, Bool) {
        let limits = configuration.limits
        let router = self.router
        let registry = self.registry
        let identities = self.identities
        let logger = self.logger
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 512)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                PeerCredentials.of(channel).flatMapThrowing { credentials in
                    let caller = identities.resolve(credentials)
                    switch registry.admit(channel, uid: credentials.uid) {
                    case .tooManyConnections:
                        logger.warning("connection refused: total connection cap", metadata: ["caller.uid": "\(caller.uid)", "caller.pid": "\(caller.pid)"])
                        TooMany.refuse(channel, message: "the daemon has too many connections; retry later")
                        return
                    case .tooManyForUID:
                        logger.warning("connection refused: per-uid connection cap", metadata: ["caller.uid": "\(caller.uid)", "caller.pid": "\(caller.pid)"])
                        TooMany.refuse(channel, message: "too many connections from uid \(caller.uid); retry later")
                        return
                    case .admitted:
                        break
                    }
                    channel.closeFuture.whenComplete { _ in registry.release(channel, uid: credentials.uid) }
                    try Listener.addHandlers(to: channel, caller: caller, router: router, registry: registry, limits: limits)
                }
            }
        if let fd = try Systemd.activatedSocket(environment: environment) {
            logger.notice("using the socket passed by systemd (fd 3)")
            return (try await bootstrap.withBoundSocket(fd).get(), true)
        }
        let path = configuration.paths.socket
        let directory = FileSecurity.parentDirectory(of: path)
        var group: UInt32?
        if configuration.mode == .system {
            guard let gid = UserDatabase.gid(ofGroup: configuration.clientGroup) else {
                throw DaemonError("the group \"\(configuration.clientGroup)\" does not exist; create it (the shipped sysusers.d file does) or set client_group in the config")
            }
            group = gid
        }
        do {
            try SocketPath.prepareDirectory(directory, mode: configuration.mode == .system ? 0o750 : 0o700, group: group)
        } catch {
            throw DaemonError("cannot prepare the socket directory: \(error.description)")
        }
        switch SocketPath.probe(path) {
        case .live:
            throw DaemonError("another credbrokerd is already listening on \"\(path)\"; stop it first, or choose another --socket")
        case .notASocket:
            throw DaemonError("\"\(path)\" exists and is not a socket; remove it or choose another --socket")
        case .stale:
            logger.notice("removing a stale socket", metadata: ["socket": "\(path)"])
            _ = try? FileSecurity.remove(path)
        case .none:
            break
        }
        // umask 077 is in force (ProcessHardening), so the socket is born 0700 at most; then
        // it gets exactly its mode: never more open than intended, not even for an instant.
        SocketPath.setUmask(0o077)
        let channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
        do {
            try SocketPath.setSocketPermissions(path, mode: configuration.mode == .system ? 0o660 : 0o600, group: group)
        } catch {
            try? await channel.close()
            throw DaemonError("cannot set the socket's mode: \(error.description)")
        }
        return (channel, false)
    }
}

extension Listener {
    /// The handlers of an admitted connection, in order: timeouts on the raw bytes, NIO's
    /// HTTP/1.1 codec (llhttp), then the request handler and the router. The fuzzers build
    /// the same pipeline on a channel without a socket (RequestHarness).
    static func addHandlers(to channel: any Channel, caller: Caller, router: Router, registry: ConnectionRegistry,
                            limits: Configuration.Limits, observer: (any ChannelHandler)? = nil) throws {
        let timeouts = ConnectionTimeoutHandler(requestTimeout: limits.requestTimeoutSeconds, idleTimeout: limits.idleTimeoutSeconds)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(timeouts)
        // Outbound header validation is off: every response header name and value is the
        // daemon's own constant or number, never caller input.
        try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: false, withOutboundHeaderValidation: false)
        let halfClose = HalfCloseTracker(timeouts: timeouts)
        try sync.addHandler(halfClose, position: .before(try sync.handler(type: HTTPServerPipelineHandler.self)))
        if let observer { try sync.addHandler(observer) }
        try sync.addHandler(RequestHandler(caller: caller, router: router, registry: registry, limits: limits, timeouts: timeouts,
                                           halfClose: halfClose))
    }
}

/// SIGHUP reloads the policies (keeping the old ones when the new are invalid); SIGUSR1
/// locks the vault.
struct SignalService: Service {
    let broker: Broker
    let router: Router
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup, .sigusr1)
        try? await cancelWhenGracefulShutdown {
            for await signal in signals {
                let event = AuditEvent(time: Int64(Date().timeIntervalSince1970), caller: nil, route: "signal \(signal)", result: "ok")
                if signal == .sighup {
                    _ = router.reload(event: event)
                } else if signal == .sigusr1 {
                    await lock(router: router, reason: "SIGUSR1", event: event)
                }
            }
        }
    }
}

/// Locks the vault on the vault thread and waits for it.
func lock(router: Router, reason: String, event: AuditEvent) async {
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    if case .later(let future) = router.lockVault(event: event, eventLoop: loop, reason: reason) {
        _ = try? await future.get()
    }
}

/// Locks the vault after `idle_lock_seconds` without a token request.
struct IdleLockService: Service {
    let broker: Broker
    let router: Router

    func run() async throws {
        guard let limit = broker.configuration.idleLockSeconds else {
            try? await gracefulShutdown()
            return
        }
        // Cancelled at graceful shutdown: that ends the loop, not the daemon with an error.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(500))
                if broker.currentState == .unlocked && broker.idleSeconds(now: Date()) >= Double(limit) {
                    let event = AuditEvent(time: Int64(Date().timeIntervalSince1970), caller: nil, route: "idle timeout", result: "ok")
                    await lock(router: router, reason: "idle for \(limit) s", event: event)
                }
            }
        }
    }
}

/// Flushes and stops the audit writer last, after the listener has drained.
struct AuditService: Service {
    let audit: AuditLog

    func run() async throws {
        try? await gracefulShutdown()
        audit.record(AuditEvent(time: Int64(Date().timeIntervalSince1970), caller: nil, route: "shutdown", result: "ok"))
        audit.stop()
    }
}
