import CCurl
import Glibc

/// `HTTPTransport` over the system libcurl (DESIGN.md, "HTTP to providers").
///
/// - Every URL passes `HTTPRequest.validateURL(_:)` before any connection: https, or http
///   to loopback only.
/// - TLS peer and host verification are always on; `caFile` and `pinnedPublicKey` narrow
///   trust, nothing loosens it. TLS 1.2 at least.
/// - Only http and https, and redirects are never followed: a 3xx is returned as it is.
/// - A response body longer than `request.maxResponseBytes` is dropped (and wiped) as soon
///   as it is known to be too long: at its Content-Length, or at the byte that passes it.
/// - Transfers run on the transport's own threads (`TransferPool`), so `send` never blocks
///   a Swift concurrency or event-loop thread. A cancelled task's transfer is stopped within
///   about a second (libcurl's progress callback) and `send` throws `.cancelled`.
///
/// Make one transport and share it: its handles keep connections open for reuse. Releasing
/// it lets its threads exit once idle.
public final class CurlTransport: HTTPTransport {
    public let options: HTTPTransportOptions
    private let pool: TransferPool

    /// The version of libcurl in use, e.g. "7.88.1".
    public static var libcurlVersion: String {
        CurlGlobal.initialize()
        guard let info = unsafe ccurl_version_info(), let version = unsafe info.pointee.version else { return "unknown" }
        return unsafe String(cString: version)
    }

    /// The oldest libcurl this transport accepts: CURLOPT_PROTOCOLS_STR arrived in 7.85.0.
    static let minimumLibcurlVersion: UInt32 = 0x07_55_00

    /// Checks `options` and libcurl.
    ///
    /// - Throws: `.configuration` when a timeout is not positive, `maxConcurrentTransfers`
    ///   is outside 1...64, the CA file is not a readable regular file holding a PEM
    ///   certificate, the pin is not `sha256//BASE64[;sha256//BASE64...]`, the proxy or the
    ///   user agent holds spaces or control characters, or libcurl is too old, built
    ///   without TLS, or fails to initialise.
    public init(options: HTTPTransportOptions = HTTPTransportOptions()) throws(HTTPTransportError) {
        try CurlTransport.check(options)
        try CurlTransport.checkLibcurl()
        self.options = options
        self.pool = TransferPool(options: options)
    }

    deinit { pool.shutdown() }

    public func send(_ request: HTTPRequest) async throws(HTTPTransportError) -> HTTPResponse {
        let transfer = try Transfer(request, options: options)
        if Task.isCancelled { throw CurlErrors.cancelled(transfer) }
        let pool = self.pool
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                pool.submit(TransferPool.Job(transfer: transfer, continuation: continuation))
            }
        } onCancel: {
            transfer.cancel()
            pool.cancelQueued(transfer)
        }
        return try result.get()
    }

    private static func check(_ options: HTTPTransportOptions) throws(HTTPTransportError) {
        guard options.connectTimeout > .zero, options.totalTimeout > .zero else {
            throw HTTPTransportError(.configuration, "timeouts must be positive")
        }
        guard (1...HTTPTransportOptions.maxConcurrentTransfersLimit).contains(options.maxConcurrentTransfers) else {
            throw HTTPTransportError(
                .configuration,
                "maxConcurrentTransfers must be between 1 and \(HTTPTransportOptions.maxConcurrentTransfersLimit), not \(options.maxConcurrentTransfers)")
        }
        if let caFile = options.caFile { try checkCAFile(caFile) }
        if let pin = options.pinnedPublicKey { try checkPin(pin) }
        if let proxy = options.proxy, !isPrintable(proxy) {
            // Not quoted: a proxy URL may carry a password.
            throw HTTPTransportError(.configuration, "proxy contains spaces or control characters")
        }
        guard isPrintable(options.userAgent, allowingSpaces: true) else {
            throw HTTPTransportError(.configuration, "user agent contains control characters")
        }
    }

    private static func isPrintable(_ text: String, allowingSpaces: Bool = false) -> Bool {
        text.utf8.allSatisfy { ($0 > 0x20 || (allowingSpaces && $0 == 0x20)) && $0 != 0x7F }
    }

    /// The largest CA file read when it is checked; system bundles are about 200 KiB.
    static let maxCAFileBytes = 16 << 20

    private static func checkCAFile(_ path: String) throws(HTTPTransportError) {
        let fd = unsafe open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            let reason = unsafe String(cString: strerror(errno))
            throw HTTPTransportError(.configuration, "cannot read CA file \"\(path)\": \(reason.lowercased())")
        }
        defer { close(fd) }
        var info = stat()
        guard unsafe fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw HTTPTransportError(.configuration, "CA file \"\(path)\" is not a regular file")
        }
        guard info.st_size <= maxCAFileBytes else {
            throw HTTPTransportError(.configuration, "CA file \"\(path)\" is larger than \(maxCAFileBytes) bytes")
        }
        var contents = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < contents.count {
            let count = unsafe contents.withUnsafeMutableBytes { buffer in
                unsafe read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            filled += count
        }
        let marker = Array("-----BEGIN CERTIFICATE-----".utf8)
        let holdsCertificate = filled >= marker.count
            && (0...(filled - marker.count)).contains { contents[$0..<($0 + marker.count)].elementsEqual(marker) }
        guard holdsCertificate else {
            throw HTTPTransportError(.configuration, "CA file \"\(path)\" holds no PEM certificate")
        }
    }

    /// libcurl's pin format: `sha256//` then the base64 of 32 bytes, several joined by `;`.
    /// (libcurl would read anything else as a file name, and fail only at the first request.)
    private static func checkPin(_ pin: String) throws(HTTPTransportError) {
        let base64 = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        let pins = pin.split(separator: ";", omittingEmptySubsequences: false)
        for item in pins {
            let valid = item.hasPrefix("sha256//") && {
                let encoded = item.dropFirst("sha256//".count).utf8
                // 32 bytes: 43 base64 characters and one `=`.
                return encoded.count == 44 && encoded.last == UInt8(ascii: "=")
                    && encoded.dropLast().allSatisfy { base64.contains($0) }
            }()
            guard valid else {
                throw HTTPTransportError(
                    .configuration,
                    "pinned public key must be sha256//BASE64 (the base64 of a SHA-256 digest), several joined by \";\"")
            }
        }
    }

    private static func checkLibcurl() throws(HTTPTransportError) {
        let initialized = CurlGlobal.initialize()
        guard initialized == CURLE_OK else {
            let reason = unsafe String(cString: curl_easy_strerror(initialized))
            throw HTTPTransportError(.configuration, "libcurl failed to initialise: \(reason)")
        }
        guard let info = unsafe ccurl_version_info() else {
            throw HTTPTransportError(.configuration, "libcurl reports no version")
        }
        guard unsafe info.pointee.version_num >= minimumLibcurlVersion else {
            throw HTTPTransportError(.configuration, "libcurl \(libcurlVersion) is older than 7.85.0")
        }
        guard unsafe info.pointee.features & CURL_VERSION_SSL != 0 else {
            throw HTTPTransportError(.configuration, "libcurl \(libcurlVersion) was built without TLS")
        }
    }
}
