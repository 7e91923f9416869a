public import APIClientCore
import Foundation

/// One step of a JSON `$batch`: a request relative to the version root (`/me/events`),
/// optionally after other steps of the same `$batch` (`dependsOn`).
public struct GraphBatchRequest: Sendable {
    /// Unique among the steps of one `batch` call; nil takes the 1-based position
    /// (`"1"`, `"2"`, ...).
    public var id: String?
    public var method: String
    /// Relative to the version root, with its query: `/me/events?$top=5`.
    public var url: String
    /// Step headers; `Content-Type: application/json` is added to a step with a body.
    public var headers: [String: String]
    /// The step's JSON body, if any.
    public var body: [UInt8]?
    /// Ids of earlier steps that must succeed first (a step whose dependency failed gets
    /// 424). They must fall in the same chunk of 20: see `MicrosoftGraph.batch`.
    public var dependsOn: [String]
    /// The permissions the step needs. Nil infers them for the calendar, mail and contact
    /// paths from `GraphConfiguration.scopes`; other paths need them set.
    public var scopes: [String]?

    public init(
        id: String? = nil, method: String, url: String, headers: [String: String] = [:], body: [UInt8]? = nil,
        dependsOn: [String] = [], scopes: [String]? = nil
    ) {
        self.id = id
        self.method = method.uppercased()
        self.url = url
        self.headers = headers
        self.body = body
        self.dependsOn = dependsOn
        self.scopes = scopes
    }

    /// A step whose body is `body` encoded as JSON.
    public static func json(
        id: String? = nil, method: String, url: String, body: some Encodable, dependsOn: [String] = [], scopes: [String]? = nil
    ) throws -> GraphBatchRequest {
        let data = try JSONEncoder().encode(body)
        return GraphBatchRequest(id: id, method: method, url: url, body: Array(data), dependsOn: dependsOn, scopes: scopes)
    }

    /// `POST /me/events` with `event`.
    public static func createEvent(_ event: GraphEvent, id: String? = nil) throws -> GraphBatchRequest {
        try json(id: id, method: "POST", url: "/me/events", body: event)
    }
}

/// A step's answer, matched to its request by id.
public struct GraphBatchResponse: Sendable {
    public var id: String
    /// The step's HTTP status; 0 when Graph's answer had no usable response for the step.
    public var status: Int
    public var headers: [String: String]
    /// The step's body as JSON text (empty when there is none).
    public var body: [UInt8]
    /// Set when the step failed: its status mapped as for a single request (429 that
    /// outlasted the retries is `.rateLimited`, a step whose dependency failed is
    /// `.invalidRequest` with status 424), or `.invalidResponse` when Graph's answer had no
    /// usable response for it.
    public var error: APIError?

    public init(id: String, status: Int, headers: [String: String] = [:], body: [UInt8] = [], error: APIError? = nil) {
        self.id = id
        self.status = status
        self.headers = headers
        self.body = body
        self.error = error
    }

    /// Whether the step succeeded (2xx).
    public var isSuccess: Bool { error == nil && (200..<300).contains(status) }

    /// The body decoded as `T`; throws the step's `error` when it failed, and
    /// `.invalidResponse` when the body is not a `T`.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let error { throw error }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch {
            throw APIError(.invalidResponse, status: status, message: "microsoft graph answered batch request \"\(id)\" with a body that is not a \(T.self)")
        }
    }
}

extension MicrosoftGraph {
    /// Graph's limit on the steps of one JSON `$batch`.
    public static let maxBatchRequests = 20

    /// Runs `requests` through `POST {baseURL}/$batch`, 20 steps per `$batch` in order
    /// (50 steps are three `$batch`es: 20, 20 and 10), and answers one response per
    /// request, in request order.
    ///
    /// - A step answered 429 or 503 is sent again, alone with the other such steps of its
    ///   `$batch` (and the steps that failed with 424 because they depend on one), after the
    ///   largest `Retry-After` among them (or backoff with full jitter when none is given),
    ///   up to `configuration.api.retry.maxAttempts` times in all. A `Retry-After` over
    ///   `maxRetryAfter` ends the retries. Graph may have done a throttled write anyway, so
    ///   a retried create can exist twice.
    /// - Per-step failures are in each response's `error`; the call throws only when a
    ///   whole `$batch` fails (its own HTTP error, the token provider's error, or an answer
    ///   that is not a batch response), and then the earlier `$batch`es have already run.
    /// - The outer request asks for the union of the steps' permissions: every step runs
    ///   with that one token.
    ///
    /// Throws `.invalidRequest` before sending anything when ids repeat, a step depends on
    /// one that is not an earlier step of its own chunk of 20, a body is not JSON, or the
    /// permissions of a step cannot be inferred.
    public func batch(_ requests: [GraphBatchRequest]) async throws -> [GraphBatchResponse] {
        let chunks = try GraphBatchPlan.chunks(requests, scopes: configuration.scopes)
        var out: [GraphBatchResponse] = []
        out.reserveCapacity(requests.count)
        for chunk in chunks {
            out += try await runChunk(chunk)
        }
        return out
    }

    /// Creates `events` on the default calendar through `$batch`; one result per event, in
    /// order.
    public func batchCreateEvents(_ events: [GraphEvent]) async throws -> [Result<GraphEvent, APIError>] {
        let requests = try events.map { try GraphBatchRequest.createEvent($0) }
        return try await batch(requests).map { response in
            do {
                return .success(try response.decode(GraphEvent.self))
            } catch let error as APIError {
                return .failure(error)
            } catch {
                return .failure(APIError(.invalidResponse, status: response.status, message: "microsoft graph answered an event that could not be read"))
            }
        }
    }

    /// One chunk of at most 20 steps, with the retries of its throttled steps.
    func runChunk(_ chunk: [GraphBatchPlan.Step]) async throws -> [GraphBatchResponse] {
        let policy = configuration.api.retry
        var final: [String: GraphBatchResponse] = [:]
        var pending = chunk
        var attempt = 1
        defer { invalidate(after: chunk) }
        while !pending.isEmpty {
            let answers = try await sendBatch(pending)
            let retry = GraphBatchPlan.retryable(pending, answers)
            for step in pending where !retry.contains(step.id) { final[step.id] = answers[step.id] }
            if retry.isEmpty { break }
            let delays = pending.filter { retry.contains($0.id) }.compactMap { APIClient.retryAfter(answers[$0.id]?.headerValue("retry-after")) }
            let delay = delays.max() ?? policy.backoff(after: attempt)
            guard attempt < policy.maxAttempts, delay <= policy.maxRetryAfter else {
                for step in pending where retry.contains(step.id) { final[step.id] = answers[step.id] }
                break
            }
            try await clock.sleep(for: delay)
            attempt += 1
            pending = pending.filter { retry.contains($0.id) }
        }
        return chunk.map { step in
            var response = final[step.id] ?? GraphBatchResponse(id: step.id, status: 0)
            if response.error == nil, !(200..<300).contains(response.status) {
                response.error = response.status == 0
                    ? APIError(.invalidResponse, message: "microsoft graph's $batch answer has no usable response for request \"\(step.id)\"")
                    : GraphErrorDecoder.error(status: response.status, headers: response.headers.map { ($0.key, $0.value) }, body: response.body, scopes: step.scopes)
            }
            return response
        }
    }

    /// Sends one `$batch` and matches the answers to the steps by id.
    func sendBatch(_ steps: [GraphBatchPlan.Step]) async throws -> [String: GraphBatchResponse] {
        var scopes: [String] = []
        for scope in steps.flatMap(\.scopes) where !scopes.contains(scope) { scopes.append(scope) }
        var request = APIRequest(
            method: "POST", url: baseURL + "/$batch", headers: [.init("Content-Type", "application/json")],
            body: GraphBatchPlan.payload(steps), scopes: scopes)
        // Resending a batch of reads after a broken connection is harmless; of writes it is not.
        request.retryOnNetworkError = steps.allSatisfy { $0.request.method == "GET" }
        let response = try await client.send(request)
        return try GraphBatchPlan.parse(response.body, ids: steps.map(\.id))
    }

    /// Drops the cached groups a chunk's write steps touch (even failed ones: a throttled
    /// write may have been done).
    func invalidate(after chunk: [GraphBatchPlan.Step]) {
        var groups = Set<CacheGroup>()
        for step in chunk where step.request.method != "GET" {
            let path = step.path.lowercased()
            if path.hasPrefix("/me/calendars") { groups.insert(.calendars) }
            if path.hasPrefix("/me/event") || path.hasPrefix("/me/calendar") { groups.insert(.events) }
            if path.hasPrefix("/me/contact") { groups.insert(.contacts) }
        }
        for group in groups { client.invalidate(group) }
    }
}

extension GraphBatchResponse {
    func headerValue(_ name: String) -> String? {
        headers.first { $0.key.lowercased() == name }?.value
    }
}

/// The pure parts of `$batch`: validating and splitting the steps, the payload, parsing the
/// answer, and choosing what to retry.
package enum GraphBatchPlan {
    struct Step: Sendable {
        var id: String
        var request: GraphBatchRequest
        /// The url with a leading `/`.
        var path: String
        var scopes: [String]
    }

    static func invalid(_ message: String) -> APIError { APIError(.invalidRequest, message: message) }

    /// Assigns ids, checks them, the dependencies, the bodies and the scopes, and splits the
    /// steps into chunks of at most `MicrosoftGraph.maxBatchRequests`.
    static func chunks(_ requests: [GraphBatchRequest], scopes: GraphScopes) throws -> [[Step]] {
        let size = MicrosoftGraph.maxBatchRequests
        var seen: [String: Int] = [:]
        var steps: [Step] = []
        for (index, var request) in requests.enumerated() {
            request.method = request.method.uppercased()
            let id = request.id ?? String(index + 1)
            guard !id.isEmpty else { throw invalid("batch request \(index + 1) has an empty id; give it a unique one or leave it nil") }
            if let first = seen[id] {
                throw invalid("batch request id \"\(id)\" is used by requests \(first + 1) and \(index + 1); ids must be unique")
            }
            seen[id] = index
            guard !request.url.contains("://"), !request.url.hasPrefix("//") else {
                throw invalid("batch request \"\(id)\" has the absolute url \"\(APIRequest.printable(request.url))\"; give it relative to the version root, like /me/events")
            }
            let path = request.url.hasPrefix("/") ? request.url : "/" + request.url
            for dependency in request.dependsOn {
                guard let at = seen[dependency], at < index else {
                    throw invalid("batch request \"\(id)\" depends on \"\(dependency)\", which is not an earlier request; list dependencies before the requests that need them")
                }
                guard at / size == index / size else {
                    throw invalid("batch request \"\(id)\" (number \(index + 1)) depends on \"\(dependency)\" (number \(at + 1)), which falls in an earlier $batch: requests go \(size) to a $batch and Graph keeps dependencies within one, so keep dependent requests within the same \(size)")
                }
            }
            if let body = request.body, (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) == nil {
                throw invalid("batch request \"\(id)\" has a body that is not JSON")
            }
            let needed = try request.scopes ?? scopes.scope(method: request.method, path: path).map { [$0] } ?? {
                throw invalid("batch request \"\(id)\" to \(path) has no scopes and none can be inferred; set its scopes")
            }()
            steps.append(Step(id: id, request: request, path: path, scopes: needed))
        }
        return stride(from: 0, to: steps.count, by: size).map { Array(steps[$0..<min($0 + size, steps.count)]) }
    }

    /// `{"requests": [...]}` with each step's body inserted as JSON. Dependencies on steps
    /// that are not in `steps` (they succeeded in an earlier attempt) are left out.
    static func payload(_ steps: [Step]) -> [UInt8] {
        let ids = Set(steps.map(\.id))
        let requests: [[String: Any]] = steps.map { step in
            var object: [String: Any] = ["id": step.id, "method": step.request.method, "url": step.path]
            var headers = step.request.headers
            if let body = step.request.body, let value = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) {
                object["body"] = value
                if !headers.keys.contains(where: { $0.lowercased() == "content-type" }) { headers["Content-Type"] = "application/json" }
            }
            if !headers.isEmpty { object["headers"] = headers }
            let dependsOn = step.request.dependsOn.filter { ids.contains($0) }
            if !dependsOn.isEmpty { object["dependsOn"] = dependsOn }
            return object
        }
        let data = (try? JSONSerialization.data(withJSONObject: ["requests": requests], options: [.withoutEscapingSlashes])) ?? Data()
        return Array(data)
    }

    /// The answers by step id. An answer that is not a batch response throws
    /// `.invalidResponse`; a step with no answer, or with two, gets a response with status 0
    /// (reported as `.invalidResponse`); answers for ids that were not asked are ignored.
    package static func parse(_ body: [UInt8], ids: [String]) throws -> [String: GraphBatchResponse] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let entries = object["responses"] as? [Any]
        else {
            throw APIError(.invalidResponse, status: 200, message: "microsoft graph answered a $batch with a body that is not a batch response")
        }
        let wanted = Set(ids)
        var answers: [String: GraphBatchResponse] = [:]
        var duplicated = Set<String>()
        for entry in entries {
            guard let entry = entry as? [String: Any], let id = entry["id"] as? String, wanted.contains(id) else { continue }
            guard answers[id] == nil, !duplicated.contains(id) else {
                duplicated.insert(id)
                answers[id] = nil
                continue
            }
            guard let status = (entry["status"] as? NSNumber)?.intValue, (100...599).contains(status) else {
                duplicated.insert(id)  // unusable: treated like an ambiguous answer
                continue
            }
            var headers: [String: String] = [:]
            for (name, value) in entry["headers"] as? [String: Any] ?? [:] {
                if let text = value as? String { headers[name] = text } else if let number = value as? NSNumber { headers[name] = number.stringValue }
            }
            answers[id] = GraphBatchResponse(id: id, status: status, headers: headers, body: bodyBytes(entry["body"], headers: headers))
        }
        for id in duplicated { answers[id] = nil }
        return answers
    }

    /// A step body: JSON as JSON text; a string under a non-JSON content type is base64 (as
    /// Graph sends binary bodies), else its UTF-8.
    static func bodyBytes(_ value: Any?, headers: [String: String]) -> [UInt8] {
        guard let value, !(value is NSNull) else { return [] }
        let contentType = headers.first { $0.key.lowercased() == "content-type" }?.value.lowercased() ?? "application/json"
        if let text = value as? String, !contentType.contains("json") {
            return Data(base64Encoded: text).map(Array.init) ?? Array(text.utf8)
        }
        let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .withoutEscapingSlashes])
        return data.map(Array.init) ?? []
    }

    /// The steps to send again: those answered 429 or 503, and those answered 424 that
    /// depend (directly or through others) on one of them.
    static func retryable(_ steps: [Step], _ answers: [String: GraphBatchResponse]) -> Set<String> {
        var retry = Set<String>()
        for step in steps {
            guard let status = answers[step.id]?.status else { continue }
            if status == 429 || status == 503 {
                retry.insert(step.id)
            } else if status == 424, step.request.dependsOn.contains(where: retry.contains) {
                retry.insert(step.id)
            }
        }
        return retry
    }
}
