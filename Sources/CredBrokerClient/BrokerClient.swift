public import Foundation
import BrokerCore
import BrokerWire
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A client of credbrokerd's socket API (docs/spec/api.md): access tokens for the caller,
/// the profiles it may use, and the API base URLs of their apps.
///
/// One `BrokerClient` keeps one HTTP/1.1 connection to the daemon open and shares it among
/// all its callers (requests are pipelined). Before the first request on a connection it
/// checks who serves the socket: the daemon must run as this process's user, root or the
/// `credbroker` user, or the client refuses it (`BrokerError.Code.untrustedDaemon`). When the
/// daemon restarts, the next call reconnects; a request that met a dropped connection is
/// sent once more, transparently (every request here is idempotent).
///
/// Tokens are cached in the process until they have less than `minValid` plus 10 s left, so
/// asking for a token before every provider call is cheap (well under a microsecond on a
/// hit). Create one client per process and share it.
///
/// ```swift
/// let broker = BrokerClient()                       // socket and profile from the environment
/// let token = try await broker.accessToken(provider: "google", scopes: ["calendar.readonly"])
/// request.setValue("Bearer \(token.value)", forHTTPHeaderField: "Authorization")
/// ```
public final class BrokerClient: Sendable {
    /// The sockets tried, in order.
    public let socketCandidates: [String]
    /// The profile used when a call names none: `profile:` of the initializer, else
    /// `$CREDBROKER_PROFILE`.
    public let defaultProfile: String?
    let apiBaseURLOverrides: [String: [String: String]]
    let callerUID: UInt32
    let isDaemonUser: @Sendable (UInt32) -> Bool
    let cache = TokenCache()

    private enum Link {
        case idle
        case connecting(EventLoopFuture<BrokerConnection>)
        case connected(BrokerConnection)
    }

    private let link = Mutex(Link.idle)
    private let profilesCache = Mutex<[BrokerProfile]?>(nil)
    private let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    /// - Parameters:
    ///   - socketPath: the daemon's socket; nil finds it as the CLI does: `$CREDBROKER_SOCKET`,
    ///     then the user-mode path (`$XDG_RUNTIME_DIR/credbroker/broker.sock`), then the
    ///     system path (`/run/credbroker/broker.sock`).
    ///   - profile: the profile for calls that name none; nil reads `$CREDBROKER_PROFILE`.
    ///   - apiBaseURLOverrides: API base URLs by app name and API name
    ///     (`["google": ["calendar": "https://..."]]`); they win over the daemon's.
    ///   - environment: where `CREDBROKER_SOCKET`, `CREDBROKER_PROFILE` and the XDG variables
    ///     are read (tests pass their own).
    public convenience init(socketPath: String? = nil, profile: String? = nil, apiBaseURLOverrides: [String: [String: String]] = [:],
                            environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.init(socketPath: socketPath, profile: profile, apiBaseURLOverrides: apiBaseURLOverrides, environment: environment,
                  callerUID: geteuid(), isDaemonUser: SystemUsers.isDaemonUser)
    }

    /// The designated initializer, with the caller's uid and the daemon-user check injectable
    /// (tests of the peer check).
    init(socketPath: String?, profile: String?, apiBaseURLOverrides: [String: [String: String]], environment: [String: String],
         callerUID: UInt32, isDaemonUser: @escaping @Sendable (UInt32) -> Bool) {
        socketCandidates = DaemonPaths.clientCandidates(flag: socketPath, environment: environment, uid: callerUID) { path in
            (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType == .typeDirectory
        }
        if let profile, !profile.isEmpty {
            defaultProfile = profile
        } else if let profile = environment["CREDBROKER_PROFILE"], !profile.isEmpty {
            defaultProfile = profile
        } else {
            defaultProfile = nil
        }
        self.apiBaseURLOverrides = apiBaseURLOverrides
        self.callerUID = callerUID
        self.isDaemonUser = isDaemonUser
    }

    deinit {
        if case .connected(let connection) = link.withLock({ $0 }) { connection.close() }
    }

    // MARK: Tokens

    /// An access token for `scopes` of a provider app's grant.
    ///
    /// - Parameters:
    ///   - profile: the profile; nil uses `defaultProfile` (`.noProfile` when there is none).
    ///   - provider: the provider app's name in the profile ("google", "microsoft").
    ///   - account: the account; nil when the profile has exactly one grant of the app that
    ///     this caller may use.
    ///   - scopes: full scope strings or the aliases of DESIGN.md (`calendar.readonly`,
    ///     `Mail.Read`); comma-separated lists are split.
    ///   - minValid: how long the token must stay valid (0 to 3600 s). A cached token is
    ///     served while it has this plus 10 s left.
    ///   - forceRefresh: ask the daemon for a new token even when the cached one is valid:
    ///     after a provider answered 401 to it. The daemon refreshes at most once per grant
    ///     and scope set per 30 s.
    /// - Throws: `BrokerError`: `denied`, `locked`, `reauthRequired` (with the `credbroker
    ///   login` command in `hint`), `notFound`, `badRequest`, `tooMany`, `unavailable`,
    ///   `unreachable`, `untrustedDaemon`, `noProfile`, `protocolError`.
    public func accessToken(profile: String? = nil, provider: String, account: String? = nil, scopes: [String],
                            minValid: Duration = .seconds(60), forceRefresh: Bool = false) async throws(BrokerError) -> AccessToken {
        guard let profile = profile ?? defaultProfile else { throw Self.noProfileError }
        let (seconds, attoseconds) = minValid.components
        guard (0...3600).contains(seconds) else {
            throw BrokerError(.badRequest, "minValid of \(seconds) s is outside 0 to 3600 s")
        }
        let need = Double(seconds) + Double(attoseconds) * 1e-18 + TokenCache.margin
        let exact = TokenCache.ExactKey(profile: profile, provider: provider, account: account, scopes: scopes)
        if !forceRefresh, let token = cache.lookup(exact, now: Date().timeIntervalSinceReferenceDate, need: need) {
            return token
        }
        return try await fetchToken(exact: exact, minValidSeconds: seconds, need: need, force: forceRefresh)
    }

    private func fetchToken(exact: TokenCache.ExactKey, minValidSeconds: Int64, need: Double, force: Bool) async throws(BrokerError) -> AccessToken {
        let full = ScopeAliases.expandAll(exact.scopes).sorted()
        guard !full.isEmpty else { throw BrokerError(.badRequest, "no scopes given for provider app \"\(exact.provider)\"") }
        let normal = TokenCache.NormalKey(profile: exact.profile, provider: exact.provider, account: exact.account, scopes: full)
        while true {
            switch cache.decide(exact: exact, normal: normal, now: Date().timeIntervalSinceReferenceDate, need: need, force: force) {
            case .hit(let token):
                return token
            case .follow:
                guard let result = await cache.join(normal) else { continue }
                return try result.get()
            case .lead(let owner):
                let request = TokenRequest(profile: exact.profile, provider: exact.provider, account: exact.account, scopes: full,
                                           minValidSeconds: Int(minValidSeconds), forceRefresh: force ? true : nil)
                let result: Result<AccessToken, BrokerError>
                do { result = .success(try await requestToken(request)) } catch { result = .failure(error) }
                cache.finish(exact: exact, normal: normal, result: result, owner: owner)
                return try result.get()
            }
        }
    }

    private func requestToken(_ request: TokenRequest) async throws(BrokerError) -> AccessToken {
        let body: [UInt8]
        do { body = Array(try JSONEncoder().encode(request)) } catch {
            throw BrokerError(.badRequest, "the token request cannot be encoded: \(error)")
        }
        let (answer, socket) = try await roundTrip(.POST, "/v1/token", body: body)
        let response = try Self.decode(TokenResponse.self, answer, socket: socket)
        guard let expiresAt = RFC3339.parse(response.expiresAt) else {
            throw BrokerError(.protocolError, "credbrokerd at \(socket) sent a token with an unreadable expires_at")
        }
        return AccessToken(value: response.accessToken, expiresAt: expiresAt, scopes: response.scopes, profile: response.profile,
                           provider: response.provider, account: response.account, tokenType: response.tokenType)
    }

    // MARK: Profiles and health

    /// The profiles, provider apps and accounts this caller may use (`GET /v1/profiles`).
    /// Also refreshes what `apiBaseURL` reads.
    public func profiles() async throws(BrokerError) -> [BrokerProfile] {
        let (answer, socket) = try await roundTrip(.GET, "/v1/profiles", body: nil)
        let response = try Self.decode(ProfilesResponse.self, answer, socket: socket)
        let profiles = response.profiles.map { profile in
            BrokerProfile(name: profile.name, apps: profile.apps.map {
                BrokerProfile.App(name: $0.name, type: $0.type, apiBaseURLs: $0.apiBaseURLs, accounts: $0.accounts)
            })
        }
        profilesCache.withLock { $0 = profiles }
        return profiles
    }

    /// The base URL of an API ("calendar", "gmail", "people", "graph") of a provider app: the
    /// override given to the initializer, else the daemon's (`GET /v1/profiles`, read once
    /// and kept; asked again when the app or API is not in it).
    ///
    /// - Throws: `BrokerError` `.notFound` when neither knows it; the errors of `profiles()`.
    public func apiBaseURL(_ api: String, profile: String? = nil, provider: String) async throws(BrokerError) -> String {
        if let url = apiBaseURLOverrides[provider]?[api] { return url }
        guard let profile = profile ?? defaultProfile else { throw Self.noProfileError }
        func find(_ profiles: [BrokerProfile]) -> String? {
            profiles.first { $0.name == profile }?.apps.first { $0.name == provider }?.apiBaseURLs[api]
        }
        if let cached = profilesCache.withLock({ $0 }), let url = find(cached) { return url }
        if let url = find(try await profiles()) { return url }
        throw BrokerError(.notFound, "credbrokerd knows no \"\(api)\" API base URL for provider app \"\(provider)\" in profile \"\(profile)\" (or this caller may not use it)",
                          hint: "check the app with credbroker status, or pass apiBaseURLOverrides")
    }

    /// Whether the daemon is up, and the vault's state (`GET /v1/health`). Answered in every
    /// vault state, to any caller that can connect.
    public func health() async throws(BrokerError) -> BrokerHealth {
        let (answer, socket) = try await roundTrip(.GET, "/v1/health", body: nil)
        let response = try Self.decode(HealthResponse.self, answer, socket: socket)
        return BrokerHealth(status: response.status, version: response.version, uptime: .seconds(response.uptimeSeconds), detail: response.detail)
    }

    /// Closes the connection to the daemon and forgets cached tokens and profiles. A later
    /// call connects again.
    public func shutdown() async {
        let state = link.withLock { state -> Link in
            let old = state
            state = .idle
            return old
        }
        switch state {
        case .connected(let connection): try? await connection.channel.close()
        case .connecting(let future): if let connection = try? await future.get() { try? await connection.channel.close() }
        case .idle: break
        }
        cache.removeAll()
        profilesCache.withLock { $0 = nil }
    }

    // MARK: Transport

    /// One request and its answer; a 4xx or 5xx answer throws the daemon's error. A request
    /// that met a connection the daemon had dropped goes once more on a new one.
    private func roundTrip(_ method: HTTPMethod, _ target: String, body: [UInt8]?) async throws(BrokerError) -> (WireAnswer, String) {
        var retried = false
        while true {
            let connection = try await connection()
            let answer: WireAnswer
            do {
                answer = try await connection.send(method: method, path: target, body: body)
            } catch {
                drop(connection)
                if error.retryable && !retried {
                    retried = true
                    continue
                }
                throw BrokerError(error.code, "talking to credbrokerd at \(connection.path) failed: \(error.reason)",
                                  hint: error.code == .unreachable ? Self.startHint : nil)
            }
            guard (200..<300).contains(answer.status) else { throw Self.error(from: answer, socket: connection.path) }
            return (answer, connection.path)
        }
    }

    /// The open connection, or a new one (only one connect runs at a time; others wait for it).
    private func connection() async throws(BrokerError) -> BrokerConnection {
        enum Step {
            case use(BrokerConnection)
            case wait(EventLoopFuture<BrokerConnection>)
            case start(EventLoopPromise<BrokerConnection>)
        }
        let group = self.group
        let step = link.withLock { state -> Step in
            switch state {
            case .connected(let connection) where connection.isActive:
                return .use(connection)
            case .connecting(let future):
                return .wait(future)
            case .connected, .idle:
                let promise = group.next().makePromise(of: BrokerConnection.self)
                state = .connecting(promise.futureResult)
                return .start(promise)
            }
        }
        switch step {
        case .use(let connection):
            return connection
        case .wait(let future):
            do { return try await future.get() } catch let error as BrokerError { throw error } catch {
                throw BrokerError(.unreachable, "cannot reach credbrokerd: \(error)", hint: Self.startHint)
            }
        case .start(let promise):
            do {
                let connection = try await connectFirstCandidate()
                link.withLock { $0 = .connected(connection) }
                promise.succeed(connection)
                return connection
            } catch {
                link.withLock { $0 = .idle }
                promise.fail(error)
                throw error
            }
        }
    }

    private func drop(_ connection: BrokerConnection) {
        link.withLock { state in
            if case .connected(let current) = state, current === connection { state = .idle }
        }
        connection.close()
    }

    /// Tries each candidate socket in order; the first that answers and passes the peer
    /// check wins.
    private func connectFirstCandidate() async throws(BrokerError) -> BrokerConnection {
        var reasons: [String] = []
        var untrusted = false
        for path in socketCandidates {
            for attempt in 1...2 {
                do {
                    return try await BrokerConnection.connect(path: path, group: group, callerUID: callerUID, isDaemonUser: isDaemonUser)
                } catch {
                    if error.retryable && attempt == 1 { continue }
                    if error.code == .untrustedDaemon { untrusted = true }
                    reasons.append("\(path): \(error.reason)")
                    break
                }
            }
        }
        if untrusted {
            throw BrokerError(.untrustedDaemon, "refusing credbrokerd at \(reasons.joined(separator: "; "))",
                              hint: "check who runs the daemon on that socket, or name the right one with CREDBROKER_SOCKET")
        }
        throw BrokerError(.unreachable, "cannot reach credbrokerd at \(reasons.joined(separator: "; "))", hint: Self.startHint)
    }

    static let startHint = "start it with credbrokerd --user or set CREDBROKER_SOCKET"
    static let noProfileError = BrokerError(.noProfile, "no profile given and CREDBROKER_PROFILE is not set",
                                            hint: "pass profile: or set CREDBROKER_PROFILE")

    // MARK: Answers

    static func decode<T: Decodable>(_ type: T.Type, _ answer: WireAnswer, socket: String) throws(BrokerError) -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(answer.body)) } catch {
            throw BrokerError(.protocolError, "credbrokerd at \(socket) sent an answer this client cannot read (HTTP \(answer.status))")
        }
    }

    /// The daemon's error, with its code, message, hint and retry delay as sent.
    static func error(from answer: WireAnswer, socket: String) -> BrokerError {
        let headerRetry = answer.headers.first(name: "Retry-After").flatMap { Int($0) }
        guard let body = try? JSONDecoder().decode(ErrorBody.self, from: Data(answer.body)) else {
            return BrokerError(.protocolError, "credbrokerd at \(socket) answered HTTP \(answer.status) without a readable error",
                               retryAfter: headerRetry.map { .seconds($0) })
        }
        let wire = body.error
        return BrokerError(BrokerError.Code(rawValue: wire.code.rawValue), wire.message, hint: wire.hint,
                           retryAfter: (wire.retryAfter ?? headerRetry).map { .seconds($0) })
    }
}
