import APIClientCore
import BrokerHTTP
import GoogleAPIs
import MicrosoftGraph

/// `provider-answer`: what Google's and Microsoft's APIs answer the client libraries, through
/// the parsers an agent's process runs on every batch and every error: Google's
/// `multipart/mixed` batch answer (BatchMultipart), Graph's `$batch` JSON answer
/// (GraphBatchPlan), and both error decoders (Google's error envelope and
/// `WWW-Authenticate` challenge, Graph's error object, `Retry-After`).
///
/// Input: a letter that picks the parser, then
/// - `g`: the answer's Content-Type value up to the first LF, then the multipart body;
/// - `m`: the `$batch` JSON body (steps "1", "2", "3" and "a" were asked);
/// - anything else: a status byte (`statuses`, wrapping around), optional
///   `WWW-Authenticate: VALUE` and `Retry-After: VALUE` lines, then the error body.
///
/// Invariants: every Google batch answer names a Content-ID the body carries (bytes that
/// are not UTF-8 read as U+FFFD, folded lines joined by a space), has a status
/// of 100 to 599 and a body no longer than the input, and written out again as a batch
/// answer with the same boundary parses back to itself; every Graph answer is for a step
/// that was asked, under its own id, with a status of 100 to 599; a decoded error's
/// Retry-After is never negative, and its status is the answer's.
enum ProviderAnswerFuzz {
    static let target = FuzzTarget(
        name: "provider-answer", summary: "a parser letter, then a Google batch answer, a Graph $batch answer or an error answer",
        maxLength: 64 * 1024, run: run)

    static let statuses = [400, 401, 403, 404, 409, 410, 412, 429, 500, 503]
    static let graphIDs = ["1", "2", "3", "a"]

    static func run(_ input: [UInt8]) -> String? {
        guard let which = input.first else { return nil }
        let rest = Array(input.dropFirst())
        switch which {
        case UInt8(ascii: "g"): return google(rest)
        case UInt8(ascii: "m"): return graph(rest)
        default: return errors(rest)
        }
    }

    static func google(_ input: [UInt8]) -> String? {
        guard let newline = input.firstIndex(of: 10) else { return nil }
        let contentType = String(decoding: input[..<newline], as: UTF8.self)
        let body = Array(input[(newline + 1)...])
        guard let boundary = BatchMultipart.boundary(fromContentType: contentType) else { return nil }
        guard (1...70).contains(boundary.count), !boundary.contains("\r"), !boundary.contains("\n") else {
            return "an unusable boundary was accepted: \(boundary.debugDescription.prefix(80))"
        }
        let answers = BatchMultipart.parse(body, boundary: boundary)
        for (id, answer) in answers {
            // Bytes that are not UTF-8 come out as U+FFFD (they never match a call's id); a
            // folded Content-ID is its lines joined by a space.
            let pieces = "response-\(id)".split(whereSeparator: { $0 == " " || $0 == "\t" })
            let carried = pieces.allSatisfy { body.firstRange(of: Array($0.utf8)) != nil }
            guard !id.isEmpty, id.contains("\u{FFFD}") || carried else {
                return "an answer for a Content-ID the body does not carry: \(id.debugDescription.prefix(80))"
            }
            guard (100...599).contains(answer.status) else { return "an answer with status \(answer.status)" }
            guard answer.body.count <= body.count else { return "an answer body longer than the whole answer" }
        }
        // Written out again (what a well-formed answer with these parts looks like), the
        // parts parse back to themselves, unless a body holds the delimiter.
        let delimiter = Array("--\(boundary)".utf8)
        guard !answers.values.contains(where: { answer in
            answer.body.firstRange(of: delimiter) != nil || answer.headers.contains { Array("\($0.name): \($0.value)".utf8).firstRange(of: delimiter) != nil }
        }) else {
            return nil
        }
        let again = BatchMultipart.parse(write(answers, boundary: boundary), boundary: boundary)
        guard again == answers else {
            let differing = answers.keys.sorted().first { again[$0] != answers[$0] } ?? again.keys.sorted().first ?? "?"
            return "the answers written out again parse differently (Content-ID \(differing.debugDescription.prefix(80)))"
        }
        return nil
    }

    /// A batch answer as Google writes one: each part's Content-ID, an HTTP response, and
    /// the closing delimiter.
    static func write(_ answers: [String: BatchMultipart.Answer], boundary: String) -> [UInt8] {
        var out: [UInt8] = []
        for (id, answer) in answers.sorted(by: { $0.key < $1.key }) {
            out += Array("--\(boundary)\r\nContent-Type: application/http\r\nContent-ID: <response-\(id)>\r\n\r\nHTTP/1.1 \(answer.status) X\r\n".utf8)
            // The headers as they came, Content-Length (or its absence) included.
            for header in answer.headers { out += Array("\(header.name): \(header.value)\r\n".utf8) }
            out += [13, 10]
            out += answer.body
            out += [13, 10]
        }
        out += Array("--\(boundary)--\r\n".utf8)
        return out
    }

    static func graph(_ input: [UInt8]) -> String? {
        let answers: [String: GraphBatchResponse]
        do { answers = try GraphBatchPlan.parse(input, ids: graphIDs) } catch { return nil }
        for (id, answer) in answers {
            guard graphIDs.contains(id), answer.id == id else { return "an answer for a step that was not asked: \(id.debugDescription.prefix(80))" }
            guard (100...599).contains(answer.status) else { return "a step answer with status \(answer.status)" }
        }
        return nil
    }

    static func errors(_ input: [UInt8]) -> String? {
        guard let statusByte = input.first else { return nil }
        let status = statuses[Int(statusByte) % statuses.count]
        var rest = input.dropFirst()
        var headers: [HTTPHeaderField] = []
        for name in ["WWW-Authenticate", "Retry-After"] {
            let prefix = Array("\(name):".utf8)
            if rest.starts(with: prefix), let newline = rest.firstIndex(of: 10) {
                headers.append(HTTPHeaderField(name, String(decoding: rest[(rest.startIndex + prefix.count)..<newline], as: UTF8.self)))
                rest = rest[(newline + 1)...]
            }
        }
        let response = APIResponse(status: status, headers: headers, body: Array(rest))
        let request = APIRequest(method: "GET", url: "https://example.invalid/", scopes: ["https://www.googleapis.com/auth/calendar.readonly"])
        let decoders: [any APIErrorDecoder] = [GoogleErrorDecoder(), GraphErrorDecoder()]
        for decoder in decoders {
            let error = decoder.error(for: response, request: request)
            if let wait = error.retryAfter, wait < .zero { return "a negative Retry-After from \(type(of: decoder))" }
            guard error.status == status else { return "\(type(of: decoder)) reported status \(error.status.map(String.init) ?? "none") for \(status)" }
            _ = decoder.isRateLimit(response)
        }
        return nil
    }
}
