import ArgumentParser
import BrokerCore
package import BrokerWire
package import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the daemon's state: vault, profiles, provider apps, grants and token validity (no secrets).",
        discussion: "The seed's setup_oauth.py --status. Per grant: active or dead, how tokens are obtained, scopes, token validity, last refresh, the refresh token's age, the last error, warnings, and for a dead grant the command that repairs it.")
    @OptionGroup var daemon: SocketOption
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        let client = try DaemonClient.connect(flag: daemon.socket)
        let health = try client.call("GET", "/v1/health", as: HealthResponse.self)
        let status: AdminStatusResponse
        do {
            status = try DaemonClient.call(socket: daemon.socket, "GET", "/v1/admin/status", as: AdminStatusResponse.self)
        } catch let error as CLIError where error.exitCode == 3 {
            // Not an admin: the health is all this caller may see.
            if json {
                FileHandle.standardOutput.write(try JSONEncoder().encode(health) + Data("\n".utf8))
            } else {
                print("daemon:  credbrokerd \(health.version) at \(client.path), up \(health.uptimeSeconds) s")
                print("state:   \(health.status)")
            }
            return
        }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try e.encode(status) + Data("\n".utf8))
            return
        }
        print(StatusReport.render(status, health: health, socketPath: client.path, now: Date()))
    }
}

/// The text of `credbroker status` (pure: the clock comes in as `now`).
package enum StatusReport {
    package static func render(_ status: AdminStatusResponse, health: HealthResponse, socketPath: String, now: Date) -> String {
        var lines = [
            "daemon:   credbrokerd \(health.version) at \(socketPath) (\(status.mode) mode), up \(health.uptimeSeconds) s",
            "state:    \(health.status)",
            "vault:    \(status.vault)",
            "policies: \(status.policies.isEmpty ? "none (every token request is denied)" : status.policies.joined(separator: ", "))",
            "audit:    \(status.audit)",
        ]
        if status.profiles.isEmpty {
            lines.append("profiles: none; start with \"credbroker setup google --profile NAME\"")
        }
        for p in status.profiles {
            lines.append("profile \(p.name):")
            if p.apps.isEmpty && p.grants.isEmpty {
                lines.append("  no apps; add one with \"credbroker setup TYPE --profile \(p.name)\"")
            }
            for app in p.apps {
                lines.append("  app \(app.name) (\(app.type))")
                let grants = p.grants.filter { $0.app == app.name }
                if grants.isEmpty {
                    lines.append("    no grants; run \"credbroker login \(app.name) --profile \(p.name)\"")
                }
                for g in grants { lines += grant(g, now: now).map { "    " + $0 } }
            }
            // Grants whose app record is gone.
            for g in p.grants where !p.apps.contains(where: { $0.name == g.app }) {
                lines += grant(g, now: now).map { "  " + $0 }
            }
        }
        return lines.joined(separator: "\n")
    }

    static func grant(_ g: AdminStatusResponse.Grant, now: Date) -> [String] {
        let scopes = g.scopes.map { ScopeAliases.alias(for: $0) ?? $0 }
        var lines = ["grant \(g.app)/\(g.account): \(g.state), scopes \(scopes.isEmpty ? "none" : scopes.joined(separator: " "))"]
        var facts: [String] = []
        if let flow = g.flow { facts.append(flowName(flow)) }
        if let text = g.tokenValidUntil {
            facts.append("token valid until \(text)\(RFC3339.parse(text).map { " (\(relative($0, now: now)))" } ?? "")")
        } else {
            facts.append("no token")
        }
        if let text = g.lastRefresh {
            facts.append("last refresh \(text)\(RFC3339.parse(text).map { " (\(relative($0, now: now)))" } ?? "")")
        }
        if let text = g.refreshTokenObtained, let obtained = RFC3339.parse(text) {
            let days = Int(max(0, now.timeIntervalSince(obtained)) / 86400)
            facts.append(days == 0 ? "refresh token less than a day old" : "refresh token \(days) day\(days == 1 ? "" : "s") old")
        }
        lines.append("  " + facts.joined(separator: "; "))
        if let error = g.lastError { lines.append("  last error: \(error)") }
        for warning in g.warnings ?? [] { lines.append("  warning: \(warning)") }
        if let fix = g.fix { lines.append("  fix: \(fix)") }
        return lines
    }

    static func flowName(_ flow: String) -> String {
        switch flow {
        case "refresh_token": "user login"
        case "client_credentials": "app-only (client credentials)"
        case "jwt_bearer": "service account (JWT bearer)"
        case "account_credentials": "server-to-server (account credentials)"
        default: flow
        }
    }

    /// "in 42 min", "3 h ago", "in 2 days".
    package static func relative(_ date: Date, now: Date) -> String {
        let seconds = Int(date.timeIntervalSince(now).rounded())
        let magnitude = abs(seconds)
        let amount: String
        switch magnitude {
        case ..<120: amount = "\(magnitude) s"
        case ..<(120 * 60): amount = "\(magnitude / 60) min"
        case ..<(48 * 3600): amount = "\(magnitude / 3600) h"
        default: amount = "\(magnitude / 86400) days"
        }
        return seconds >= 0 ? "in \(amount)" : "\(amount) ago"
    }
}
