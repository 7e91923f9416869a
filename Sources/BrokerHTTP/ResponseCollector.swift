import CCurl

/// What libcurl's callbacks build during one transfer: the final response's headers and
/// body, with the size cap and cancellation applied as the bytes arrive.
///
/// Used by one transfer thread only, from `EasyHandle.perform` and from the callbacks that
/// libcurl calls inside `curl_easy_perform` on that same thread.
@safe
final class ResponseCollector {
    private let transfer: Transfer
    private let limit: Int
    private let expectsBody: Bool
    private(set) var headers: [HTTPHeaderField] = []
    private(set) var body: [UInt8] = []
    /// Set when the body (or its announced Content-Length) exceeded the cap and a callback
    /// stopped the transfer.
    private(set) var exceededLimit = false
    /// Set when the progress callback stopped the transfer for a cancelled task.
    private(set) var abortedForCancellation = false
    /// The status of the response whose headers are arriving.
    private var status = 0
    /// The blank line after the current response's headers arrived; later lines are
    /// trailers and are not kept.
    private var headerBlockComplete = false

    /// The most memory reserved up front from a Content-Length; a longer body grows as it
    /// arrives.
    static let maxReservationBytes = 8 << 20

    /// The most header bytes one transfer may receive.
    static let maxHeaderBytes = 64 * 1024
    private var headerBytes = 0

    init(for transfer: Transfer) {
        self.transfer = transfer
        self.limit = transfer.request.maxResponseBytes
        self.expectsBody = transfer.request.method != "HEAD"
    }

    /// One header line as libcurl delivers it (CRLF included). Returns false to stop the
    /// transfer.
    func receiveHeaderLine(_ raw: UnsafeRawBufferPointer) -> Bool {
        // Headers are bounded too (libcurl before 8.3 caps only each line): all header
        // lines of a transfer, interim responses included, count against one budget.
        headerBytes += raw.count
        if headerBytes > Self.maxHeaderBytes {
            exceededLimit = true
            return false
        }
        var bytes = unsafe Array(raw)
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        if bytes.starts(with: "HTTP/".utf8) {
            // A new response: an interim 1xx, a proxy's answer or the final one. Only the
            // last one's headers are the response's.
            headers.removeAll()
            headerBlockComplete = false
            let fields = bytes.split(separator: UInt8(ascii: " "), maxSplits: 2)
            status = fields.count >= 2 ? Int(String(decoding: fields[1], as: UTF8.self)) ?? 0 : 0
            return true
        }
        if bytes.isEmpty {
            headerBlockComplete = true
            return true
        }
        guard !headerBlockComplete else { return true }
        if let first = bytes.first, first == 0x20 || first == 0x09 {
            // obs-fold: a continuation of the previous field's value.
            if !headers.isEmpty {
                headers[headers.count - 1].value += " " + String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
            }
            return true
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return true }
        let name = String(decoding: bytes[..<colon], as: UTF8.self)
        let value = String(decoding: bytes[(colon + 1)...], as: UTF8.self).trimmingWhitespace()
        headers.append(HTTPHeaderField(name, value))
        if expectsBody && status >= 200 && status != 204 && status != 304 && name.lowercased() == "content-length" {
            // Refuse an announced oversized body before any of it arrives.
            guard let length = Int(value), length >= 0 else { return true }
            if length > limit {
                exceededLimit = true
                return false
            }
            // Room for the announced body at once (no regrowth, so no stray copies), within
            // reason: a caller may allow far more than it expects.
            let reservation = min(length, ResponseCollector.maxReservationBytes)
            if reservation > body.capacity { body.reserveCapacity(reservation) }
        }
        return true
    }

    /// A piece of the body. Returns false to stop the transfer (the cap would be passed).
    func receiveBody(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard chunk.count <= limit - body.count else {
            exceededLimit = true
            return false
        }
        if body.count + chunk.count > body.capacity {
            // Grow by hand so the old buffer is wiped, not just freed: the body may be a
            // token response.
            var bigger: [UInt8] = []
            bigger.reserveCapacity(min(limit, max(body.capacity * 2, body.count + chunk.count, 4096)))
            bigger.append(contentsOf: body)
            wipeBody()
            body = bigger
        }
        unsafe body.append(contentsOf: chunk)
        return true
    }

    /// Whether the transfer should stop now: the task was cancelled.
    func shouldAbort() -> Bool {
        if transfer.isCancelled {
            abortedForCancellation = true
            return true
        }
        return false
    }

    /// Hands the body over (the collector keeps no copy).
    func takeBody() -> [UInt8] {
        defer { body = [] }
        return body
    }

    /// Zeroes what arrived of a body that will not be returned.
    func wipeBody() {
        unsafe body.withUnsafeMutableBytes { bytes in
            if let base = bytes.baseAddress { unsafe ccurl_wipe(base, bytes.count) }
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }
}

// The C callbacks. Their context pointer is the collector, passed unretained: `perform`
// keeps it alive (withExtendedLifetime) for the whole of curl_easy_perform.

let curlWriteCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    buffer, size, count, context in
    guard let context = unsafe context else { return 0 }
    let collector = unsafe Unmanaged<ResponseCollector>.fromOpaque(context).takeUnretainedValue()
    let total = size * count
    let chunk = unsafe UnsafeRawBufferPointer(start: buffer, count: buffer == nil ? 0 : total)
    return unsafe collector.receiveBody(chunk) ? total : 0
}

let curlHeaderCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    buffer, size, count, context in
    guard let context = unsafe context else { return 0 }
    let collector = unsafe Unmanaged<ResponseCollector>.fromOpaque(context).takeUnretainedValue()
    let total = size * count
    let line = unsafe UnsafeRawBufferPointer(start: buffer, count: buffer == nil ? 0 : total)
    return unsafe collector.receiveHeaderLine(line) ? total : 0
}

/// libcurl calls it often while data moves and about once a second while it waits; a
/// non-zero answer ends the transfer with CURLE_ABORTED_BY_CALLBACK.
let curlProgressCallback: @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> Int32 = {
    context, _, _, _, _ in
    guard let context = unsafe context else { return 0 }
    let collector = unsafe Unmanaged<ResponseCollector>.fromOpaque(context).takeUnretainedValue()
    return collector.shouldAbort() ? 1 : 0
}
