import BrokerCore
import BrokerCrypto
import BrokerSystem
import BrokerVault
import BrokerWire
import FoundationEssentials
import Logging
import NIOCore

/// A route's answer: ready now (the hot path allocates no future), or later.
enum RouteResult {
    case now(Response)
    case later(EventLoopFuture<Response>)
}

/// Maps requests to the broker (docs/spec/api.md, one section per route).
final class Router: Sendable {
    let broker: Broker
    let refresher: Refresher
    let logins: LoginManager
    let reloadPolicies: @Sendable () -> Result<PolicySet, ConfigurationError>
    var logger: Logger { broker.logger }
    var audit: AuditLog { broker.audit }
    var metrics: DaemonMetrics { broker.metrics }

    init(broker: Broker, refresher: Refresher, logins: LoginManager, reloadPolicies: @escaping @Sendable () -> Result<PolicySet, ConfigurationError>) {
        self.broker = broker
        self.refresher = refresher
        self.logins = logins
        self.reloadPolicies = reloadPolicies
    }

    static let publicRoutes: [String: [String]] = [
        "/v1/health": ["GET"], "/v1/token": ["POST"], "/v1/profiles": ["GET"],
    ]
    static let adminRoutes: [String: [String]] = [
        "init": ["POST"], "unlock": ["POST"], "lock": ["POST"], "rotate": ["POST"], "passwd": ["POST"],
        "backup": ["POST"], "restore": ["POST"], "reload": ["POST"], "status": ["GET"], "audit/verify": ["POST"],
        "profiles": ["GET"], "slots": ["GET"], "add-slot": ["POST"], "remove-slot": ["POST"],
        "login/start": ["POST"], "login/complete": ["POST"], "login/poll": ["POST"], "revoke": ["POST"], "secret/rotate": ["POST"],
        "import": ["POST"],
    ]

    func route(_ request: Request, eventLoop: any EventLoop) -> RouteResult {
        let path = request.path
        if let methods = Self.publicRoutes[path] {
            guard methods.contains(request.method) else { return .now(wrongMethod(methods)) }
            switch path {
            case "/v1/health": return .now(.json(broker.health()))
            case "/v1/token": return token(request, eventLoop: eventLoop)
            default: return .now(profiles(request))
            }
        }
        if path.hasPrefix("/v1/admin/") {
            return admin(request, name: String(path.dropFirst("/v1/admin/".count)), eventLoop: eventLoop)
        }
        if path == "/v1/metrics" { return .now(metricsRoute(request)) }
        return .now(.error(.notFound, "no route \(Self.printable(path))"))
    }

    static func printable(_ path: String) -> String {
        let cut = path.prefix(200)
        return "\"" + String(cut.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }) + "\""
    }

    func wrongMethod(_ allowed: [String]) -> Response {
        var r = Response.error(.badRequest, "method not allowed; use \(allowed.joined(separator: " or "))", status: 405)
        r.headers.append(("Allow", allowed.joined(separator: ", ")))
        return r
    }

    /// Bodies must be application/json (parameters such as charset allowed).
    static func checkContentType(_ request: Request) throws(WireError) {
        if let contentType = request.contentType, contentType == "application/json" {
            guard !request.body.isEmpty else { throw WireError(.badRequest, "the request needs a JSON body") }
            return
        }
        if let contentType = request.contentType {
            let media = contentType.split(separator: ";").first.map { String($0).trimmingASCIIWhitespace().lowercased() } ?? ""
            guard media == "application/json" else {
                throw WireError(.badRequest, "the body must be application/json, not \(Self.printable(media))")
            }
        } else if !request.body.isEmpty {
            throw WireError(.badRequest, "the body must be application/json (no Content-Type given)")
        }
        guard !request.body.isEmpty else { throw WireError(.badRequest, "the request needs a JSON body") }
    }

    func decode<T: Decodable>(_ type: T.Type, _ request: Request) -> Result<T, WireError> {
        do { try Self.checkContentType(request) } catch { return .failure(error) }
        do {
            return .success(try JSONDecoder.wire.decode(T.self, from: Data(request.body)))
        } catch let error as DecodingError {
            return .failure(WireError(.badRequest, "invalid JSON body: \(Self.describe(error))"))
        } catch {
            return .failure(WireError(.badRequest, "invalid JSON body"))
        }
    }

    /// A DecodingError described by its kind and path only (values may be secrets).
    static func describe(_ error: DecodingError) -> String {
        func path(_ c: [any CodingKey]) -> String { c.isEmpty ? "the body" : "\"" + c.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") + "\"" }
        switch error {
        case .typeMismatch(_, let c): return "\(path(c.codingPath)) has the wrong type"
        case .valueNotFound(_, let c): return "\(path(c.codingPath)) is null or missing"
        case .keyNotFound(let k, let c): return "\(path(c.codingPath + [k])) is missing"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not valid JSON (or not UTF-8)" : "\(path(c.codingPath)) is malformed"
        @unknown default: return "malformed"
        }
    }

    // MARK: - Token

    func token(_ request: Request, eventLoop: any EventLoop) -> RouteResult {
        let now = Date()
        var event = AuditEvent(time: Int64(now.timeIntervalSince1970), caller: request.auditCaller, route: "/v1/token", result: "ok")
        let parsed: TokenRequest
        do {
            try Self.checkContentType(request)
            parsed = try TokenRequest(json: request.body)
        } catch {
            let wire = (error as? WireError) ?? WireError(.badRequest, "invalid JSON body: \((error as? JSONError)?.message ?? "malformed")")
            event.result = wire.code.rawValue
            event.detail = wire.message
            audit.record(event)
            metrics.tokens(provider: nil).countRefused(wire.code)
            return .now(.error(wire))
        }
        let scopes = ScopeAliases.expandAll(parsed.scopes)
        if let problem = Self.validate(parsed, scopes: scopes) {
            // The caller's values are not copied into the audit line: only validated, bounded
            // fields reach the log (a flood of 64 KiB bodies must not fill it).
            event.result = "bad_request"
            event.detail = problem
            audit.record(event)
            metrics.tokens(provider: parsed.provider).countRefused(.badRequest)
            return .now(.error(.badRequest, problem))
        }
        event.profile = parsed.profile
        event.provider = parsed.provider
        event.account = parsed.account
        event.scopes = scopes
        let caller = request.caller
        switch broker.token(parsed, scopes: scopes, caller: caller, event: &event, now: now) {
        case .done(let result):
            if case .success = result { metrics.cacheHit() }
            return .now(finish(result, event: event, caller: caller))
        case .needsLoad(let key):
            metrics.cacheMiss()
            return .later(broker.loadGrant(key, request: parsed, scopes: scopes, caller: caller, event: event, eventLoop: eventLoop).flatMap { [self] outcome, event in
                switch outcome {
                case .done(let result): return eventLoop.makeSucceededFuture(finish(result, event: event, caller: caller))
                case .needsRefresh(let need): return refresh(need, event: event, caller: caller, eventLoop: eventLoop)
                case .needsLoad: return eventLoop.makeSucceededFuture(finish(.failure(WireError(.internal, "the grant could not be loaded")), event: event, caller: caller))
                }
            })
        case .needsRefresh(let need):
            metrics.cacheMiss()
            return .later(refresh(need, event: event, caller: caller, eventLoop: eventLoop))
        }
    }

    /// Waits for the refresher (joining a refresh in flight), then answers from the cache.
    private func refresh(_ need: Broker.RefreshNeed, event: AuditEvent, caller: Caller, eventLoop: any EventLoop) -> EventLoopFuture<Response> {
        let promise = eventLoop.makePromise(of: Response.self)
        // Runs on `eventLoop`: the answer is written without another hop.
        refresher.obtain(need, on: eventLoop) { [self] outcome in
            let result: Result<Broker.TokenAnswer, WireError>
            switch outcome {
            case .failure(let e): result = .failure(e)
            case .success: result = broker.answerAfterRefresh(need, now: Date())
            }
            promise.succeed(finish(result, event: event, caller: caller))
        }
        return promise.futureResult
    }

    static func validate(_ r: TokenRequest, scopes: [String]) -> String? {
        if r.profile.isEmpty || r.profile.utf8.count > 64 { return "\"profile\" must be 1 to 64 bytes" }
        if r.provider.isEmpty || r.provider.utf8.count > 64 { return "\"provider\" must be 1 to 64 bytes" }
        if let a = r.account, a.isEmpty || a.utf8.count > 320 { return "\"account\" must be 1 to 320 bytes" }
        if scopes.isEmpty { return "\"scopes\" must name at least one scope" }
        if scopes.count > 64 { return "\"scopes\" names more than 64 scopes" }
        if scopes.contains(where: { $0.utf8.count > 512 }) { return "a scope is longer than 512 bytes" }
        if let m = r.minValidSeconds, m < 0 || m > 3600 { return "\"min_valid_seconds\" must be in 0...3600" }
        return nil
    }

    private func finish(_ result: Result<Broker.TokenAnswer, WireError>, event: AuditEvent, caller: Caller) -> Response {
        var event = event
        switch result {
        case .success(let token):
            event.account = token.account
            event.tokenFingerprint = token.fingerprint
            event.result = "ok"
            audit.record(event)
            token.served.countGranted()
            return Response(status: 200, body: token.body)
        case .failure(let error):
            event.result = error.code.rawValue
            if event.detail == nil { event.detail = error.message }
            audit.record(event)
            metrics.tokens(provider: event.provider).countRefused(error.code)
            if error.code == .denied {
                logger.notice("token denied", metadata: ["caller.uid": "\(caller.uid)", "caller.pid": "\(caller.pid)",
                                                         "credential": "\(event.profile ?? "")/\(event.provider ?? "")/\(event.account ?? "-")",
                                                         "reason": "\(event.detail ?? "")"])
            }
            return .error(error)
        }
    }

    // MARK: - Metrics

    /// `GET /v1/metrics`: the caller's right first (a refused caller learns nothing, not
    /// even the method), then the method.
    func metricsRoute(_ request: Request) -> Response {
        let caller = request.caller
        guard broker.mayReadMetrics(caller) else {
            var event = AuditEvent(time: Int64(Date().timeIntervalSince1970), caller: request.auditCaller, route: "/v1/metrics", result: "denied")
            event.decision = "deny"
            event.detail = "not an admin, and no rule matching the caller grants metrics"
            audit.record(event)
            logger.notice("metrics denied", metadata: ["caller.uid": "\(caller.uid)", "caller.pid": "\(caller.pid)"])
            return .error(.denied, "not allowed")
        }
        guard request.method == "GET" else { return wrongMethod(["GET"]) }
        return metricsResponse()
    }

    /// The exposition, as both listeners answer it.
    func metricsResponse() -> Response {
        var response = Response(status: 200, body: metrics.exposition())
        response.contentType = DaemonMetrics.contentType
        return response
    }

    // MARK: - Profiles

    func profiles(_ request: Request) -> Response {
        switch broker.profiles(for: request.caller) {
        case .success(let r): return .json(r)
        case .failure(let e): return .error(e)
        }
    }
}
