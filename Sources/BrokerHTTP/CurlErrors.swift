import CCurl

/// libcurl's result codes as `HTTPTransportError`s. Messages name the host and what
/// failed, with libcurl's error-buffer text (which never holds a header value or a body);
/// never the URL's path or query, a header value or a body.
enum CurlErrors {
    static func cancelled(_ transfer: Transfer) -> HTTPTransportError {
        HTTPTransportError(.cancelled, "request to \"\(transfer.host)\" was cancelled")
    }

    /// - Parameters:
    ///   - connected: whether the connect phase (TCP, and TLS for https) completed, which
    ///     tells a connect timeout from a total one.
    ///   - detail: libcurl's error buffer, or empty.
    static func error(
        for code: CURLcode, transfer: Transfer, collector: ResponseCollector, connected: Bool, detail: String
    ) -> HTTPTransportError {
        let host = transfer.host
        let reason = detail.isEmpty ? unsafe String(cString: curl_easy_strerror(code)) : detail
        let limit = transfer.request.maxResponseBytes

        // Our own callbacks' verdicts first: they explain the code libcurl reports for them.
        if collector.exceededLimit && (code == CURLE_WRITE_ERROR || code == CURLE_FILESIZE_EXCEEDED) {
            return HTTPTransportError(.responseTooLarge, "response from \"\(host)\" exceeds the \(limit)-byte limit")
        }
        if collector.abortedForCancellation && code == CURLE_ABORTED_BY_CALLBACK {
            return cancelled(transfer)
        }

        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT:
            return HTTPTransportError(.connect, "could not connect to \"\(host)\": \(reason)")
        case CURLE_OPERATION_TIMEDOUT:
            // libcurl reports both limits with this code. Before the connect phase ends,
            // and when the connect limit is the shorter one, it was the connect limit.
            if !connected && transfer.connectTimeoutMilliseconds < transfer.totalTimeoutMilliseconds {
                return HTTPTransportError(.connect, "could not connect to \"\(host)\" in time: \(reason)")
            }
            return HTTPTransportError(.timeout, "request to \"\(host)\" timed out: \(reason)")
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return HTTPTransportError(.pinMismatch, "public key of \"\(host)\" does not match the pinned key: \(reason)")
        case CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CRL_BADFILE:
            return HTTPTransportError(.configuration, "TLS trust settings for \"\(host)\" could not be loaded: \(reason)")
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED,
             CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_INVALIDCERTSTATUS,
             CURLE_SSL_CLIENTCERT, CURLE_USE_SSL_FAILED:
            return HTTPTransportError(.tls, "TLS with \"\(host)\" failed: \(reason)")
        case CURLE_FILESIZE_EXCEEDED:
            return HTTPTransportError(.responseTooLarge, "response from \"\(host)\" exceeds the \(limit)-byte limit")
        case CURLE_ABORTED_BY_CALLBACK where transfer.isCancelled:
            return cancelled(transfer)
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return HTTPTransportError(.invalidURL, "URL for \"\(host)\" was refused by libcurl: \(reason)")
        case CURLE_BAD_FUNCTION_ARGUMENT, CURLE_UNKNOWN_OPTION, CURLE_NOT_BUILT_IN:
            return HTTPTransportError(.configuration, "request to \"\(host)\": libcurl cannot do it: \(reason)")
        default:
            return HTTPTransportError(.network, "request to \"\(host)\" failed: \(reason)")
        }
    }
}
