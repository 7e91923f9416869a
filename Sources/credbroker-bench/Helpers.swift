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

