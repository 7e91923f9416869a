// Shared helpers of credbroker-bench.
import BrokerCrypto
import BrokerSystem
import BrokerVault
import Foundation

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
}
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
func time(_ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    return seconds(clock.now - start)
}
func option(_ name: String, _ fallback: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return fallback
}
func peakRSSKiB() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss
}
func fmt(_ value: Double, _ unit: String) -> String {
    switch unit {
    case "ms": return String(format: "%.2f ms", value * 1e3)
    case "us": return String(format: "%.1f µs", value * 1e6)
    default: return String(format: "%.3f s", value)
    }
}


/// Where this executable lives: the release build's bin directory, with credbrokerd and
/// credbroker beside it.
var binDirectory: String {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
}

/// A new temporary directory for a benchmark's daemon (the caller removes it), with
/// `policies/bench.toml`: one rule letting this uid use `providers` and `scopes` of the
/// profile "bench".
func benchRoot(_ name: String, providers: [String], scopes: [String]) throws -> String {
    let root = NSTemporaryDirectory() + "\(name)-\(getpid())"
    try FileManager.default.createDirectory(atPath: root + "/policies", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    func list(_ items: [String]) -> String { "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
    try write(root + "/policies/bench.toml", """
        [[rule]]
        name = "bench"
        uids = [\(getuid())]
        profiles = ["bench"]
        providers = \(list(providers))
        scopes = \(list(scopes))
        """)
    return root
}
