import BrokerCrypto
import Foundation

/// Batch endpoints: Google's multipart/mixed `/google/batch/calendar/v3` and Graph's JSON
/// `/microsoft/graph/v1.0/$batch`. Each inner request runs as if sent alone (counted,
/// faulted, authorized), with the outer Authorization header unless it has its own. Graph's
/// outer request itself needs a valid token (401 otherwise); Google's does not.
extension SandboxState {
    static let googleBatchLimit = 1000
    static let graphBatchLimit = 20

    /// The response to an inner request; a dropped connection becomes a 503 part and an
    /// injected delay is not applied inside a batch.
    func innerResponse(_ request: SandboxRequest) -> SandboxResponse {
        let reply = apiRequest(request)
        switch reply.action {
        case .respond(let response): return response
        case .drop: return apiError(request.path.hasPrefix("/microsoft") ? .microsoft : .google, 503, "Backend Error", googleStatus: "UNAVAILABLE", graphCode: "ServiceNotAvailable")
        }
    }

    func googleBatch(_ context: APIContext) -> SandboxResponse {
        let request = context.request
        let contentType = request.header("Content-Type") ?? ""
        guard request.mediaType == "multipart/mixed", let range = contentType.range(of: "boundary=") else {
            return googleError(400, "Batch requests must be multipart/mixed with a boundary.")
        }
        var boundary = String(contentType[range.upperBound...])
        if let semicolon = boundary.firstIndex(of: ";") { boundary = String(boundary[..<semicolon]) }
        boundary = boundary.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        let text = request.bodyText.replacingOccurrences(of: "\r\n", with: "\n")
        var parts = text.components(separatedBy: "--" + boundary)
        guard parts.count >= 2 else { return googleError(400, "The batch request contains no parts.") }
        parts.removeFirst()  // the preamble
        var responses: [(id: String, response: SandboxResponse)] = []
        for part in parts {
            if part.hasPrefix("--") { break }  // the closing delimiter
            let trimmed = part.drop { $0 == "\n" }
            guard let split = trimmed.range(of: "\n\n") else { continue }
            let partHeaders = Self.headerLines(String(trimmed[..<split.lowerBound]))
            let contentID = partHeaders.first { $0.name.lowercased() == "content-id" }?.value ?? ""
            let inner = String(trimmed[split.upperBound...])
            responses.append((contentID, googleBatchPart(inner, outer: request)))
            if responses.count > Self.googleBatchLimit { return googleError(400, "A batch request may contain at most \(Self.googleBatchLimit) calls.") }
        }
        guard !responses.isEmpty else { return googleError(400, "The batch request contains no parts.") }
        let outBoundary = "batch_" + Base64URL.encode(SecureRandom.bytes(12)).replacingOccurrences(of: "-", with: "x")
        var out = ""
        for (id, response) in responses {
            let responseID = id.hasPrefix("<") ? "<response-" + id.dropFirst() : "<response-\(id)>"
            let bodyText = String(decoding: response.body, as: UTF8.self)
            out += "--\(outBoundary)\r\nContent-Type: application/http\r\nContent-ID: \(responseID)\r\n\r\n"
            out += "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
            for header in response.headers { out += "\(header.name): \(header.value)\r\n" }
            out += "Content-Length: \(response.body.count)\r\n\r\n\(bodyText)\r\n"
        }
        out += "--\(outBoundary)--\r\n"
        return .text(200, out, contentType: "multipart/mixed; boundary=\(outBoundary)")
    }

    static func headerLines(_ text: String) -> [(name: String, value: String)] {
        text.split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]).trimmingCharacters(in: .whitespaces), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }

    /// One `application/http` part: a request line, headers, an empty line, a body.
    func googleBatchPart(_ text: String, outer: SandboxRequest) -> SandboxResponse {
        let head: String, body: String
        if let split = text.range(of: "\n\n") {
            head = String(text[..<split.lowerBound])
            body = String(text[split.upperBound...]).trimmingCharacters(in: .newlines)
        } else {
            head = text.trimmingCharacters(in: .newlines)
            body = ""
        }
        var lines = head.split(separator: "\n").map(String.init)
        guard !lines.isEmpty else { return googleError(400, "Invalid batch part.") }
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return googleError(400, "Invalid request line in a batch part.") }
        var target = String(requestLine[1])
        if target.hasPrefix("https://www.googleapis.com") { target = String(target.dropFirst("https://www.googleapis.com".count)) }
        if !target.hasPrefix("/google/") { target = "/google" + (target.hasPrefix("/") ? target : "/" + target) }
        guard target.hasPrefix("/google/calendar/v3/") else {
            return googleError(400, "This batch endpoint accepts only Calendar API v3 requests, not \(target).")
        }
        var headers = Self.headerLines(lines.joined(separator: "\n"))
        if !headers.contains(where: { $0.name.lowercased() == "authorization" }), let auth = outer.header("Authorization") {
            headers.append(("Authorization", auth))
        }
        return innerResponse(SandboxRequest(method: String(requestLine[0]), target: target, headers: headers, body: Array(body.utf8)))
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 410: return "Gone"
        case 424: return "Failed Dependency"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }

    func graphBatch(_ context: APIContext) -> SandboxResponse {
        guard let body = JSON.object(context.request.body), let requests = body["requests"] as? [Any] else {
            return graphError(400, "BadRequest", "Invalid batch payload format.")
        }
        guard !requests.isEmpty else { return graphError(400, "BadRequest", "Invalid batch payload format.") }
        guard requests.count <= Self.graphBatchLimit else {
            return graphError(400, "BadRequest", "Number of batch request steps exceeds the maximum of \(Self.graphBatchLimit).")
        }
        var ids = Set<String>()
        for item in requests {
            guard let object = item as? [String: Any], let id = object["id"] as? String, object["method"] is String, object["url"] is String else {
                return graphError(400, "BadRequest", "Invalid batch payload format.")
            }
            guard ids.insert(id).inserted else { return graphError(400, "BadRequest", "Batch request contains duplicate ids: \(id).") }
        }
        var statuses: [String: Int] = [:]
        var responses: [[String: Any]] = []
        for item in requests {
            let object = item as? [String: Any] ?? [:]
            let id = object["id"] as? String ?? ""
            let dependsOn = (object["dependsOn"] as? [Any] ?? []).compactMap { $0 as? String }
            for dependency in dependsOn where statuses[dependency] == nil {
                return graphError(400, "BadRequest", "Batch request \(id) depends on \(dependency), which is not an earlier request in the batch.")
            }
            if dependsOn.contains(where: { (statuses[$0] ?? 0) >= 400 }) {
                statuses[id] = 424
                let error: [String: Any] = ["code": "FailedDependency", "message": "The request was not run because a request it depends on failed."]
                responses.append(["id": id, "status": 424, "body": ["error": error]])
                continue
            }
            let url = object["url"] as? String ?? ""
            var headers: [(name: String, value: String)] = []
            for (name, value) in object["headers"] as? [String: Any] ?? [:] { if let text = value as? String { headers.append((name, text)) } }
            if !headers.contains(where: { $0.name.lowercased() == "authorization" }), let auth = context.request.header("Authorization") {
                headers.append(("Authorization", auth))
            }
            var innerBody: [UInt8] = []
            if let payload = object["body"] {
                guard headers.contains(where: { $0.name.lowercased() == "content-type" }) else {
                    return graphError(400, "BadRequest", "Write request id : \(id) does not contain Content-Type header or body.")
                }
                innerBody = JSON.encode(payload)
            }
            let target = "/microsoft/graph/v1.0" + (url.hasPrefix("/") ? url : "/" + url)
            let response: SandboxResponse
            if target.hasPrefix("/microsoft/graph/v1.0/$batch") {
                response = graphError(400, "BadRequest", "Nested batch requests are not supported.")
            } else {
                response = innerResponse(SandboxRequest(method: (object["method"] as? String ?? "GET").uppercased(), target: target, headers: headers, body: innerBody))
            }
            statuses[id] = response.status
            var entry: [String: Any] = ["id": id, "status": response.status]
            var outHeaders: [String: Any] = [:]
            for header in response.headers where header.name.lowercased() != "content-length" { outHeaders[header.name] = header.value }
            entry["headers"] = outHeaders
            if let parsed = JSON.object(response.body) { entry["body"] = parsed }
            responses.append(entry)
        }
        return .json(200, ["responses": responses])
    }
}
