import BrokerCore
import BrokerHTTP
import BrokerSystem
import BrokerWire
import FoundationEssentials
import Logging
package import NIOCore

/// The daemon's request path without a socket, a vault or a network, for the fuzzers
/// (`Fuzz/`) and the tests that replay their corpora.
///
/// It holds a real Broker, Refresher, LoginManager and Router in user mode with no vault
/// (the state `credbrokerd` starts in before `vault init`), an audit log in `directory`
/// written by `settle()` instead of a writer thread, and a transport that refuses every
/// request. The vault thread is stopped at once, so a
/// route that gets as far as the vault answers with an error instead of creating, opening
/// or writing anything: what runs is everything the daemon does with a request before it
/// touches the vault (framing, limits, paths, content types, body parsing, validation,
/// admin checks, audit lines).
package final class RequestHarness: Sendable {
    let broker: Broker
    let refresher: Refresher
    let router: Router
    let registry: ConnectionRegistry
    let limits: Configuration.Limits
    /// A caller that is not the daemon's user, so not an admin (user mode).
    let visitor: Caller
    /// The daemon's own user: the admin of user mode.
    let admin: Caller

    /// - Parameter directory: an existing private (0700) directory for the audit log.
    package init(directory: String) throws {
        let uid = UserDatabase.effectiveUID
        let paths = DaemonPaths(socket: directory + "/broker.sock", vault: directory + "/vault.db", config: directory + "/credbrokerd.toml",
                                policies: directory + "/policies.d", auditLog: directory + "/audit.log")
        var configuration = Configuration(mode: .user, paths: paths)
        // Millions of requests a run: the per-uid rate cap would answer all but the first
        // 40,000 with too_many.
        configuration.limits.requestsPerSecondPerUID = 1 << 40
        configuration.limits.burstPerUID = 1 << 40
        configuration.audit.maxBytes = 1 << 20
        configuration.audit.keep = 1
        limits = configuration.limits
        let policies = Self.policies
        let logger = Logger(label: "credbrokerd", factory: { _ in SwiftLogNoOpLogHandler() })
        // The daemon's own metrics, so the fuzzers also run the counting on every request.
        let metrics = DaemonMetrics()
        let audit: AuditLog
        do {
            audit = try AuditLog(path: paths.auditLog, settings: configuration.audit, publicKey: nil, metrics: metrics, now: { Int64(Date().timeIntervalSince1970) })
        } catch {
            throw DaemonError("cannot use the audit log: \(error)")
        }
        audit.startWithoutWriter(reason: "request harness")
        broker = Broker(configuration: configuration, policies: policies, vault: nil, audit: audit, metrics: metrics, logger: logger, version: Daemon.version)
        broker.shutdown()
        refresher = Refresher(broker: broker, transport: NoNetwork(), settings: configuration.oauth)
        broker.refresher = refresher
        let logins = LoginManager(broker: broker, refresher: refresher, transport: NoNetwork())
        router = Router(broker: broker, refresher: refresher, logins: logins) { .success(policies) }
        registry = ConnectionRegistry(limits: limits, metrics: metrics)
        visitor = Caller(uid: uid &+ 1, gid: uid &+ 1, pid: 4242, userName: "visitor", groups: [uid &+ 1])
        admin = Caller(uid: uid, gid: uid, pid: 4243, userName: "admin", groups: [uid])
    }

    /// One rule for the visitor, so the policy code has something to decide with.
    static let policies: PolicySet = {
        var rule = PolicyRule(file: "harness.toml", name: "visitor")
        rule.uids = [UserDatabase.effectiveUID &+ 1]
        rule.profiles = ["dev"]
        rule.providers = ["google"]
        rule.scopes = ["https://www.googleapis.com/auth/calendar.readonly"]
        return PolicySet(rules: [rule], files: ["harness.toml"])
    }()

    /// Adds the daemon's connection handlers to `channel`, for a connection from a caller
    /// who is not an admin. Every route then answers at once (nothing waits for the
    /// vault), so the channel may be an EmbeddedChannel. `observer`, when given, goes
    /// between NIO's HTTP codec and the request handler: it sees every decoded request part
    /// (and must pass each on).
    package func addHandlers(to channel: any Channel, observer: (any ChannelHandler)? = nil) throws {
        try Listener.addHandlers(to: channel, caller: visitor, router: router, registry: registry, limits: limits, observer: observer)
    }

    /// Sends one request from the admin straight to the router (no HTTP framing) and waits
    /// for the answer; returns its status and body.
    package func route(method: String, path: String, query: [String: String] = [:], contentType: String? = "application/json",
                       body: [UInt8], eventLoop: any EventLoop) -> (status: Int, body: [UInt8]) {
        let request = Request(method: method, path: path, query: query, contentType: contentType, body: body,
                              caller: admin, auditCaller: AuditCaller(admin))
        let response: Response
        switch router.route(request, eventLoop: eventLoop) {
        case .now(let r):
            response = r
        case .later(let future):
            // As RequestHandler answers a failed future.
            response = (try? future.wait()) ?? .error(.internal, "internal error")
        }
        return (response.status, response.body)
    }

    /// Writes the audit lines queued so far, on the calling thread: the harness's audit log
    /// has no writer thread, so each input's lines are encoded, chained and written (and
    /// their memory freed) before the next input, as a fuzzer's leak check wants.
    package func settle() {
        broker.audit.writeQueued()
    }
}

/// A transport that sends nothing: the harness never reaches a provider.
private struct NoNetwork: HTTPTransport {
    func send(_ request: HTTPRequest) async throws(HTTPTransportError) -> BrokerHTTP.HTTPResponse {
        throw HTTPTransportError(.connect, "the request harness has no network")
    }
}
