import NIOCore

/// Where the metrics-only TCP listener binds (`--metrics-listen`, config key
/// `metrics_listen`): a loopback address and a port.
///
/// Loopback only: a TCP connection carries no peer credentials, so the listener cannot tell
/// callers apart and serves nothing but the metrics, and only to this host.
public struct MetricsListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// The address as the kernel will bind it: `127.x.y.z` or `::1`.
    public var host: String
    /// 0 lets the kernel choose (the daemon logs the port it got).
    public var port: Int

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `127.0.0.1:PORT` (any address in 127.0.0.0/8) or `[::1]:PORT`. The failure is
    /// the reason, quoting the text; the caller prefixes the flag or the config key.
    public static func parse(_ text: String) -> Result<MetricsListenAddress, ConfigurationError> {
        let usage = "use 127.0.0.1:PORT or [::1]:PORT"
        let quoted = "\"" + String(text.prefix(100).unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }) + "\""
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return .failure(ConfigurationError("\(quoted) is not an address and port; \(usage)"))
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                return .failure(ConfigurationError("\(quoted) is not an address and port; \(usage)"))
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        guard !portPart.isEmpty, portPart.count <= 5, portPart.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let port = Int(portPart), port <= 65535 else {
            return .failure(ConfigurationError("\(quoted): the port must be a number in 0...65535"))
        }
        // inet_pton through NIO: a literal address only (no name is looked up), in the
        // kernel's canonical text afterwards, so "0:0:0:0:0:0:0:1" is "::1".
        guard let address = try? SocketAddress(ipAddress: String(hostPart), port: port), let canonical = address.ipAddress else {
            return .failure(ConfigurationError("\(quoted) is not an IP address and port (names are not looked up); \(usage)"))
        }
        let loopback: Bool
        switch address {
        case .v4: loopback = canonical.split(separator: ".").first == "127"
        case .v6: loopback = canonical == "::1"
        default: loopback = false
        }
        guard loopback else {
            return .failure(ConfigurationError("\(quoted) is not a loopback address: the metrics listener has no caller credentials, so it serves this host only (127.0.0.0/8 or [::1])"))
        }
        return .success(MetricsListenAddress(host: canonical, port: port))
    }
}
