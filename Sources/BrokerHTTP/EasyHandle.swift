import CCurl

/// One libcurl easy handle and its error buffer. Reused transfer after transfer
/// (curl_easy_reset between them), so it keeps its connection cache, DNS cache and TLS
/// sessions: the next request to the same host reuses the open connection.
///
/// Used by one transfer thread at a time; `TransferPool` hands it from thread to thread
/// under its lock.
@safe
final class EasyHandle {
    private let handle: UnsafeMutableRawPointer
    /// CURLOPT_ERRORBUFFER: libcurl writes its detailed message here during a transfer.
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        CurlGlobal.initialize()
        guard let handle = unsafe curl_easy_init() else { return nil }
        unsafe self.handle = handle
        unsafe errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        unsafe errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        unsafe curl_easy_cleanup(handle)
        unsafe errorBuffer.deallocate()
    }

    /// Runs `transfer` to completion on the calling thread (which must not be a Swift
    /// concurrency or event-loop thread: this blocks for up to the total timeout).
    func perform(_ transfer: Transfer, options: HTTPTransportOptions) -> Result<HTTPResponse, HTTPTransportError> {
        if transfer.isCancelled { return .failure(CurlErrors.cancelled(transfer)) }
        let collector = ResponseCollector(for: transfer)
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        unsafe curl_easy_reset(handle)
        unsafe errorBuffer[0] = 0

        let outcome: Result<CURLcode, HTTPTransportError> = withExtendedLifetime(collector) {
            unsafe transfer.request.body.withUnsafeBytes { body in
                do throws(HTTPTransportError) {
                    unsafe headerList = try unsafe makeHeaderList(transfer, options: options)
                    try unsafe configure(transfer, options: options, collector: collector, headerList: headerList, body: body)
                } catch {
                    return .failure(error)
                }
                // Everything libcurl points at lives until here: the body (inside
                // withUnsafeBytes), the collector (withExtendedLifetime), the header list,
                // the CURLU (the transfer) and the error buffer (self).
                return unsafe .success(curl_easy_perform(handle))
            }
        }
        let detail = unsafe errorBuffer[0] == 0 ? "" : String(cString: errorBuffer)
        let result = finish(outcome, transfer: transfer, collector: collector, detail: detail)
        // Drop every pointer into this transfer from the handle (its connections stay),
        // then wipe and free the header lines, which may carry a token or a secret.
        unsafe curl_easy_reset(handle)
        unsafe ccurl_slist_wipe_free_all(headerList)
        return result
    }

    private func finish(
        _ outcome: Result<CURLcode, HTTPTransportError>, transfer: Transfer, collector: ResponseCollector, detail: String
    ) -> Result<HTTPResponse, HTTPTransportError> {
        let code: CURLcode
        switch outcome {
        case .failure(let error):
            collector.wipeBody()
            return .failure(error)
        case .success(let performed):
            code = performed
        }
        guard code == CURLE_OK else {
            collector.wipeBody()
            var connectTime: curl_off_t = 0
            var tlsTime: curl_off_t = 0
            _ = unsafe ccurl_getinfo_off_t(handle, CURLINFO_CONNECT_TIME_T, &connectTime)
            _ = unsafe ccurl_getinfo_off_t(handle, CURLINFO_APPCONNECT_TIME_T, &tlsTime)
            let connected = transfer.url.isHTTPS ? tlsTime > 0 : connectTime > 0
            return .failure(CurlErrors.error(
                for: code, transfer: transfer, collector: collector, connected: connected, detail: detail))
        }
        var status = 0
        _ = unsafe ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: collector.headers, body: collector.takeBody()))
    }

    /// The caller's headers and ours as a curl_slist (libcurl copies each line; the list is
    /// wiped when freed). A header with an empty value is sent as `Name;`, libcurl's
    /// spelling for it (`Name:` would remove the header instead).
    private func makeHeaderList(_ transfer: Transfer, options: HTTPTransportOptions) throws(HTTPTransportError) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        // One scratch buffer, big enough for the longest line so it never reallocates
        // (a reallocation would leave an unwiped copy behind), wiped after each line.
        var line: [UInt8] = []
        line.reserveCapacity(transfer.request.headers.reduce(64) { max($0, $1.name.utf8.count + $1.value.utf8.count + 4) })
        func append(_ name: String, _ value: String?) throws(HTTPTransportError) {
            line.removeAll(keepingCapacity: true)
            line.append(contentsOf: name.utf8)
            if let value, !value.isEmpty {
                line.append(contentsOf: ": ".utf8)
                line.append(contentsOf: value.utf8)
            } else if value != nil {
                line.append(UInt8(ascii: ";"))
            } else {
                line.append(UInt8(ascii: ":"))
            }
            line.append(0)
            let appended = unsafe line.withUnsafeBufferPointer { bytes in
                unsafe bytes.withMemoryRebound(to: CChar.self) { unsafe curl_slist_append(list, $0.baseAddress) }
            }
            unsafe line.withUnsafeMutableBytes { unsafe ccurl_wipe($0.baseAddress!, $0.count) }
            guard let appended = unsafe appended else {
                unsafe ccurl_slist_wipe_free_all(list)
                throw HTTPTransportError(.network, "request to \"\(transfer.host)\": out of memory for its headers")
            }
            unsafe list = appended
        }
        for field in transfer.request.headers { try append(field.name, field.value) }
        for name in transfer.suppressedHeaders { try append(name, nil) }
        return unsafe list
    }

    private func configure(
        _ transfer: Transfer, options: HTTPTransportOptions, collector: ResponseCollector,
        headerList: UnsafeMutablePointer<curl_slist>?, body: UnsafeRawBufferPointer
    ) throws(HTTPTransportError) {
        let host = transfer.host
        func check(_ code: CURLcode, _ what: String) throws(HTTPTransportError) {
            guard code == CURLE_OK else {
                let reason = unsafe String(cString: curl_easy_strerror(code))
                throw HTTPTransportError(.configuration, "request to \"\(host)\": libcurl refused \(what): \(reason)")
            }
        }
        func set(_ option: CURLoption, _ value: Int, _ what: String) throws(HTTPTransportError) {
            try check(unsafe ccurl_setopt_long(handle, option, value), what)
        }
        func set(_ option: CURLoption, _ value: String, _ what: String) throws(HTTPTransportError) {
            try check(unsafe ccurl_setopt_string(handle, option, value), what)
        }
        let context = unsafe Unmanaged.passUnretained(collector).toOpaque()

        try unsafe check(ccurl_setopt_pointer(handle, CURLOPT_CURLU, UnsafeRawPointer(transfer.url.handle)), "the URL")
        try unsafe check(ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer), "the error buffer")
        // Threads: no signals (SIGALRM for DNS timeouts is process-wide).
        try set(CURLOPT_NOSIGNAL, 1, "NOSIGNAL")
        // Never another protocol, even through a URL libcurl would accept; never a redirect:
        // the caller sees the 3xx and decides.
        try set(CURLOPT_PROTOCOLS_STR, "http,https", "the protocol list")
        try set(CURLOPT_FOLLOWLOCATION, 0, "FOLLOWLOCATION")
        // TLS verification is always on; a CA file or a pin narrow it, never loosen it.
        try set(CURLOPT_SSL_VERIFYPEER, 1, "SSL_VERIFYPEER")
        try set(CURLOPT_SSL_VERIFYHOST, 2, "SSL_VERIFYHOST")
        try set(CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2, "the minimum TLS version")
        if let caFile = options.caFile { try set(CURLOPT_CAINFO, caFile, "the CA file") }
        if let pin = options.pinnedPublicKey { try set(CURLOPT_PINNEDPUBLICKEY, pin, "the pinned key") }
        if transfer.url.isLoopback {
            // A loopback URL means this host: a proxy would reach its own loopback instead,
            // and plain http would cross the network.
            try set(CURLOPT_NOPROXY, "*", "NOPROXY")
        } else if let proxy = options.proxy {
            try set(CURLOPT_PROXY, proxy, "the proxy")
        }
        try set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1, "SUPPRESS_CONNECT_HEADERS")
        try set(CURLOPT_USERAGENT, options.userAgent, "the user agent")
        try set(CURLOPT_CONNECTTIMEOUT_MS, transfer.connectTimeoutMilliseconds, "the connect timeout")
        try set(CURLOPT_TIMEOUT_MS, transfer.totalTimeoutMilliseconds, "the timeout")

        let method = transfer.request.method
        if method == "HEAD" {
            try set(CURLOPT_NOBODY, 1, "NOBODY")
        } else if transfer.sendsBody {
            try set(CURLOPT_POST, 1, "POST")
            // POSTFIELDS does not copy: libcurl reads the caller's bytes in place, so no
            // second copy of a secret is made. An empty body still needs a pointer, or
            // libcurl would read the body from stdin.
            let bytes = unsafe body.baseAddress ?? UnsafeRawPointer(emptyBody.utf8Start)
            try unsafe check(ccurl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)), "the body size")
            try unsafe check(ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, bytes), "the body")
            if method != "POST" { try set(CURLOPT_CUSTOMREQUEST, method, "the method") }
        } else {
            try set(CURLOPT_HTTPGET, 1, "HTTPGET")
            if method != "GET" { try set(CURLOPT_CUSTOMREQUEST, method, "the method") }
        }
        if let headerList = unsafe headerList {
            try unsafe check(ccurl_setopt_pointer(handle, CURLOPT_HTTPHEADER, headerList), "the headers")
        }

        try unsafe check(ccurl_setopt_write_callback(handle, curlWriteCallback), "the body callback")
        try unsafe check(ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context), "the body callback data")
        try unsafe check(ccurl_setopt_header_callback(handle, curlHeaderCallback), "the header callback")
        try unsafe check(ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context), "the header callback data")
        try unsafe check(ccurl_setopt_xferinfo_callback(handle, curlProgressCallback), "the progress callback")
        try unsafe check(ccurl_setopt_pointer(handle, CURLOPT_XFERINFODATA, context), "the progress callback data")
        try set(CURLOPT_NOPROGRESS, 0, "NOPROGRESS")
    }
}

/// A valid pointer for an empty body (static storage, never freed).
private let emptyBody: StaticString = ""
