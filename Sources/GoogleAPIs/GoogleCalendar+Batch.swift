public import APIClientCore
import BrokerHTTP
import Foundation

extension GoogleCalendar {
    /// Creates events through Google's batch endpoint (`POST /batch/calendar/v3`,
    /// `multipart/mixed`), `GoogleConfiguration.callsPerBatch` calls per request.
    ///
    /// Each event gets its own result, in the order given: the created event, or the
    /// `APIError` of its part. Parts answered with a rate limit (429, Google's 403
    /// `rateLimitExceeded`) or 503 are sent again in a smaller batch after a backoff
    /// (Retry-After honoured) up to the retry policy's attempts; parts answered 401 are sent
    /// again once after a forced token refresh. Every call counts against the rate limiter,
    /// as Google counts it against the quota. An event whose answer is missing or unreadable
    /// gets `.invalidResponse`: it may have been created.
    ///
    /// - Throws: only what the token provider throws (for example the broker's `denied`)
    ///   and cancellation; a failure of a whole batch request becomes the result of each of
    ///   the events it carried and of those not yet sent.
    public func batchCreateEvents(_ events: [CalendarEvent], calendarId: String = "primary") async throws -> [Result<CalendarEvent, APIError>] {
        guard !events.isEmpty else { return [] }
        guard !batchURL.isEmpty else {
            let error = APIError(.invalidRequest, message: "no calendar batch url: the calendar base url does not end in /calendar/v3; set baseURLs[\"batch\"]")
            return events.map { _ in .failure(error) }
        }
        let encoder = JSONEncoder()
        let bodies = try events.map { Array(try encoder.encode($0)) }
        let path = (URLComponents(string: eventsURL(calendarId))?.percentEncodedPath) ?? ""
        var results = [Result<CalendarEvent, APIError>?](repeating: nil, count: events.count)
        var start = 0
        while start < events.count {
            let chunk = Array(start..<min(start + callsPerBatch, events.count))
            start += chunk.count
            do {
                try await createChunk(chunk, bodies: bodies, path: path, results: &results)
            } catch let error as APIError {
                for index in results.indices where results[index] == nil { results[index] = .failure(error) }
                break
            }
        }
        return results.map { $0 ?? .failure(APIError(.invalidResponse, message: "google's batch answer has no part for this event; it may have been created")) }
    }

    /// Sends one chunk, then its retryable parts again, until each has a result.
    private func createChunk(_ chunk: [Int], bodies: [[UInt8]], path: String, results: inout [Result<CalendarEvent, APIError>?]) async throws {
        let decoder = GoogleErrorDecoder()
        var pending = chunk
        var attempt = 1
        var refreshed = false
        while !pending.isEmpty {
            let answers = try await sendBatch(pending.map { BatchMultipart.Call(id: "item-\($0)", method: "POST", path: path, body: bodies[$0]) })
            var again: [Int] = []
            var refresh = false
            var wait: Duration = .zero
            for index in pending {
                guard let answer = answers["item-\(index)"] else {
                    results[index] = .failure(APIError(.invalidResponse, message: "google's batch answer has no readable part for this event; it may have been created"))
                    continue
                }
                if (200..<300).contains(answer.status) {
                    if let event = try? JSONDecoder().decode(CalendarEvent.self, from: Data(answer.body)) {
                        results[index] = .success(event)
                    } else {
                        results[index] = .failure(APIError(.invalidResponse, status: answer.status, message: "google's batch answer for this event is not an event"))
                    }
                    continue
                }
                let error = decoder.error(status: answer.status, headers: answer.headers, body: answer.body, scopes: scopes.calendarWrite)
                if answer.status == 401, !refreshed {
                    refresh = true
                    again.append(index)
                    continue
                }
                let retryable = answer.status == 429 || answer.status == 503
                    || (answer.status == 403 && decoder.isRateLimit(status: answer.status, body: answer.body))
                // A 503's Retry-After counts too, though only rate limits carry it in the error.
                let retryAfter = APIClient.retryAfter(answer.headers.first { $0.name.lowercased() == "retry-after" }?.value) ?? .zero
                if retryable, attempt < retry.maxAttempts, retryAfter <= retry.maxRetryAfter {
                    wait = max(wait, retryAfter)
                    again.append(index)
                    continue
                }
                results[index] = .failure(error)
            }
            if again.isEmpty { return }
            if refresh {
                _ = try await tokens.accessToken(scopes: scopes.calendarWrite, forceRefresh: true)
                refreshed = true
            }
            if again.contains(where: { answers["item-\($0)"]?.status != 401 }) {
                try await clock.sleep(for: max(wait, retry.backoff(after: attempt)))
                attempt += 1
            }
            pending = again
        }
    }

    /// One batch request through the executor (rate limit, token, outer retries), with the
    /// limiter charged for every call beyond the one the executor takes.
    private func sendBatch(_ calls: [BatchMultipart.Call]) async throws -> [String: BatchMultipart.Answer] {
        for _ in 1..<max(calls.count, 1) { try await client.limiter.acquire() }
        let boundary = BatchMultipart.boundary(avoiding: calls.map(\.body))
        let request = APIRequest(
            method: "POST", url: batchURL, headers: [HTTPHeaderField("Content-Type", "multipart/mixed; boundary=\(boundary)")],
            body: BatchMultipart.encode(calls, boundary: boundary), scopes: scopes.calendarWrite, invalidates: [.events])
        let response = try await client.send(request)
        guard let answerBoundary = BatchMultipart.boundary(fromContentType: response.header("Content-Type")) else {
            throw APIError(.invalidResponse, status: response.status, message: "google's batch answer is not multipart/mixed with a boundary; the events may have been created")
        }
        return BatchMultipart.parse(response.body, boundary: answerBoundary)
    }
}
