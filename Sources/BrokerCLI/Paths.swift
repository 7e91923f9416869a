import BrokerSystem
import Foundation

/// Default locations (DESIGN.md's table). User mode for now: the daemon brings system mode.
enum Paths {
    /// `$XDG_DATA_HOME/credbroker/vault.db`, falling back to `~/.local/share` as the XDG
    /// spec says.
    static func defaultVault(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") {
            return data + "/credbroker/vault.db"
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/share/credbroker/vault.db"
    }
}
