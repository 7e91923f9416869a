import APIClientCore
import BrokerHTTP
import Foundation
import Synchronization

/// A transport that answers from a handler and records what it was sent.
final class GraphFakeTransport: HTTPTransport {
    private let state = Mutex<[HTTPRequest]>([])
    private let handler: @Sendable (HTTPRequest, Int) -> BrokerHTTP.HTTPResponse

    /// `handler` gets each request and its 0-based number.
    init(_ handler: @escaping @Sendable (HTTPRequest, Int) -> BrokerHTTP.HTTPResponse) { self.handler = handler }

    var requests: [HTTPRequest] { state.withLock { $0 } }

    func send(_ request: HTTPRequest) async throws(HTTPTransportError) -> BrokerHTTP.HTTPResponse {
        let number = state.withLock { list in
            list.append(request)
            return list.count - 1
        }
        return handler(request, number)
    }

    /// A JSON answer.
    static func json(_ status: Int, _ object: Any, headers: [HTTPHeaderField] = []) -> BrokerHTTP.HTTPResponse {
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed])) ?? Data()
        return BrokerHTTP.HTTPResponse(status: status, headers: [HTTPHeaderField("Content-Type", "application/json")] + headers, body: Array(body))
    }
}

/// A token provider that hands out a fixed token and records what it was asked.
final class GraphFakeTokens: TokenProvider {
    private let asked = Mutex<[(scopes: [String], force: Bool)]>([])

    var calls: [(scopes: [String], force: Bool)] { asked.withLock { $0 } }

    func accessToken(scopes: [String], forceRefresh: Bool) async throws -> String {
        asked.withLock { $0.append((scopes, forceRefresh)) }
        return "fake-graph-token"
    }
}

/// The `$batch` payload a fake transport received.
struct GraphSentBatch {
    var steps: [[String: Any]]

    init(_ request: HTTPRequest) throws {
        let object = try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any]
        steps = object?["requests"] as? [[String: Any]] ?? []
    }

    var ids: [String] { steps.map { $0["id"] as? String ?? "?" } }
}
