package import BrokerHTTP
import Foundation

/// Google's batch format (developers.google.com/calendar/api/guides/batch): a
/// `multipart/mixed` request whose parts are `application/http` requests, each with a
/// `Content-ID`, answered by a `multipart/mixed` response whose parts carry
/// `Content-ID: <response-ID>`, in any order.
package enum BatchMultipart {
    /// One call inside a batch request.
    struct Call {
        var id: String
        var method: String
        /// The path and query, e.g. `/calendar/v3/calendars/primary/events`.
        var path: String
        var body: [UInt8]
    }

    /// One answer inside a batch response.
    package struct Answer: Equatable {
        package var status: Int
        package var headers: [HTTPHeaderField]
        package var body: [UInt8]
    }

    static let crlf: [UInt8] = [13, 10]

    /// The request body. `boundary` must not occur in any call's body (the caller picks a
    /// random one and checks).
    static func encode(_ calls: [Call], boundary: String) -> [UInt8] {
        var out: [UInt8] = []
        for call in calls {
            var head = "--\(boundary)\r\nContent-Type: application/http\r\nContent-ID: <\(call.id)>\r\n\r\n"
            head += "\(call.method) \(call.path) HTTP/1.1\r\n"
            if !call.body.isEmpty {
                head += "Content-Type: application/json; charset=UTF-8\r\nContent-Length: \(call.body.count)\r\n"
            }
            head += "\r\n"
            out += Array(head.utf8)
            out += call.body
            out += crlf
        }
        out += Array("--\(boundary)--\r\n".utf8)
        return out
    }

    /// A boundary that occurs in none of `bodies`.
    static func boundary(avoiding bodies: [[UInt8]]) -> String {
        while true {
            var generator = SystemRandomNumberGenerator()
            let candidate = "batch_" + (0..<24).map { _ in String(UInt8.random(in: 0..<16, using: &generator), radix: 16) }.joined()
            let needle = Array(candidate.utf8)
            if !bodies.contains(where: { find(needle, in: $0, from: 0) != nil }) { return candidate }
        }
    }

    /// The `boundary` parameter of a `multipart/...` Content-Type, unquoted; nil when the
    /// type is not multipart or has no usable boundary (RFC 2046: 1–70 characters).
    package static func boundary(fromContentType contentType: String?) -> String? {
        guard let contentType else { return nil }
        let fields = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let type = fields.first, type.lowercased().hasPrefix("multipart/") else { return nil }
        for field in fields.dropFirst() {
            guard let equals = field.firstIndex(of: "="), field[..<equals].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else { continue }
            var value = field[field.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            guard (1...70).contains(value.count), !value.contains(where: { $0 == "\r" || $0 == "\n" }) else { return nil }
            return value
        }
        return nil
    }

    /// The answers of a batch response, by the call id their `Content-ID` names
    /// (`<response-ID>` gives `ID`). Parts that are not complete HTTP responses, that have
    /// no Content-ID, or whose Content-ID occurs twice are left out: their calls get no
    /// answer. When the closing delimiter is missing (a truncated answer), the last part
    /// counts only if its Content-Length says it is complete.
    package static func parse(_ body: [UInt8], boundary: String) -> [String: Answer] {
        let delimiter = Array("--\(boundary)".utf8)
        // Delimiters start a line: at the very start or right after LF.
        var starts: [Int] = []
        var search = 0
        while let found = find(delimiter, in: body, from: search) {
            if found == 0 || body[found - 1] == 10 { starts.append(found) }
            search = found + delimiter.count
        }
        var answers: [String: Answer] = [:]
        var duplicates: Set<String> = []
        for (index, start) in starts.enumerated() {
            let afterDelimiter = start + delimiter.count
            if body.count >= afterDelimiter + 2, body[afterDelimiter] == 45, body[afterDelimiter + 1] == 45 { break }  // "--": the end
            // The rest of the delimiter line (transport padding) is ignored.
            guard let lineEnd = firstIndex(of: 10, in: body, from: afterDelimiter) else { continue }
            let contentStart = lineEnd + 1
            let isLast = index == starts.count - 1
            var contentEnd = isLast ? body.count : starts[index + 1]
            if !isLast {
                // The CRLF (or LF) before the next delimiter belongs to the delimiter.
                if contentEnd > contentStart, body[contentEnd - 1] == 10 { contentEnd -= 1 }
                if contentEnd > contentStart, body[contentEnd - 1] == 13 { contentEnd -= 1 }
            }
            guard contentEnd >= contentStart else { continue }
            let part = Array(body[contentStart..<contentEnd])
            let requireLength = isLast  // no closing delimiter after this part: maybe truncated
            guard let (id, answer) = parsePart(part, requireCompleteLength: requireLength) else { continue }
            if answers[id] != nil || duplicates.contains(id) {
                answers[id] = nil
                duplicates.insert(id)
                continue
            }
            answers[id] = answer
        }
        return answers
    }

    /// One part: its headers (Content-ID), then an HTTP response.
    static func parsePart(_ part: [UInt8], requireCompleteLength: Bool) -> (String, Answer)? {
        guard let (partHeaders, inner) = splitHead(part) else { return nil }
        guard let rawID = partHeaders.first(where: { $0.name.lowercased() == "content-id" })?.value else { return nil }
        var id = rawID.trimmingCharacters(in: .whitespaces)
        if id.hasPrefix("<"), id.hasSuffix(">") { id = String(id.dropFirst().dropLast()) }
        guard id.hasPrefix("response-") else { return nil }
        id = String(id.dropFirst("response-".count))
        guard !id.isEmpty else { return nil }
        guard let (head, rest) = splitHead(inner, statusLine: true), let statusLine = head.statusLine else { return nil }
        let fields = statusLine.split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/"), let status = Int(fields[1]), (100...599).contains(status) else { return nil }
        var payload = rest
        if let lengthText = head.headers.first(where: { $0.name.lowercased() == "content-length" })?.value {
            guard let length = Int(lengthText.trimmingCharacters(in: .whitespaces)), length >= 0, length <= rest.count else { return nil }
            payload = Array(rest[0..<length])
        } else {
            if requireCompleteLength { return nil }
            while let last = payload.last, last == 10 || last == 13 { payload.removeLast() }
        }
        return (id, Answer(status: status, headers: head.headers, body: payload))
    }

    struct Head {
        var statusLine: String?
        var headers: [HTTPHeaderField]
    }

    /// Splits header lines (CRLF or LF, folded continuation lines joined) from what follows
    /// the empty line. Nil when there is no empty line.
    static func splitHead(_ bytes: [UInt8]) -> ([HTTPHeaderField], [UInt8])? {
        guard let (head, rest) = splitHead(bytes, statusLine: false) else { return nil }
        return (head.headers, rest)
    }

    static func splitHead(_ bytes: [UInt8], statusLine: Bool) -> (Head, [UInt8])? {
        var lines: [String] = []
        var position = 0
        // Tolerate blank lines before a status line (some servers send one).
        while true {
            guard let end = firstIndex(of: 10, in: bytes, from: position) else { return nil }
            var line = bytes[position..<end]
            if line.last == 13 { line = line.dropLast() }
            position = end + 1
            if line.isEmpty {
                if statusLine && lines.isEmpty { continue }
                break
            }
            lines.append(String(decoding: line, as: UTF8.self))
        }
        var head = Head(statusLine: nil, headers: [])
        if statusLine {
            guard !lines.isEmpty else { return nil }
            head.statusLine = lines.removeFirst()
        }
        // A continuation line belongs to the line before it: after a line that was not a
        // header it is dropped too, never joined to an earlier header.
        var continues = false
        for line in lines {
            if let first = line.first, first == " " || first == "\t" {
                guard continues else { continue }
                // A folded value continues after one space; a value that was empty on its
                // first line starts with the continuation, and a blank continuation adds
                // nothing (values carry no surrounding whitespace).
                let continuation = line.trimmingCharacters(in: .whitespaces)
                let value = head.headers[head.headers.count - 1].value
                if !continuation.isEmpty {
                    head.headers[head.headers.count - 1].value = value.isEmpty ? continuation : value + " " + continuation
                }
                continue
            }
            continues = false
            guard let colon = line.firstIndex(of: ":") else { continue }
            continues = true
            head.headers.append(HTTPHeaderField(
                String(line[..<colon]).trimmingCharacters(in: .whitespaces), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return (head, Array(bytes[position...]))
    }

    static func firstIndex(of byte: UInt8, in bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var index = start
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == needle[0] {
                var match = true
                for offset in 1..<needle.count where haystack[index + offset] != needle[offset] {
                    match = false
                    break
                }
                if match { return index }
            }
            index += 1
        }
        return nil
    }
}
