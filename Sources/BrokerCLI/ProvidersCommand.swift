import ArgumentParser
import BrokerCore
package import BrokerWire
import Foundation

/// `credbroker providers`: the provider types `setup` knows, their scope presets, and (when
/// the daemon answers an admin) the apps configured per profile. The seed's
/// `setup_oauth.py --list`.
struct ProvidersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "providers",
        abstract: "List the provider types, their scope presets and the configured apps.",
        discussion: "The configured apps come from credbrokerd when it runs and you are an admin; otherwise only the types are listed.")

    @OptionGroup var daemon: SocketOption
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        // Optional: a missing daemon, a locked vault or a non-admin caller only leaves the
        // configured apps out.
        let configured = try? DaemonClient.call(socket: daemon.socket, "GET", "/v1/admin/status", as: AdminStatusResponse.self).profiles
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(ProvidersReport.listing(configured: configured)) + Data("\n".utf8))
        } else {
            print(ProvidersReport.render(configured: configured))
        }
    }
}

package enum ProvidersReport {
    package struct Listing: Codable, Equatable {
        package struct Preset: Codable, Equatable {
            package var name: String
            package var scope: String
        }
        package struct Provider: Codable, Equatable {
            package var type: String
            package var description: String
            package var scopePresets: [Preset]
            enum CodingKeys: String, CodingKey {
                case type, description
                case scopePresets = "scope_presets"
            }
        }
        package struct App: Codable, Equatable {
            package var profile: String
            package var name: String
            package var type: String
        }
        package var providers: [Provider]
        /// Absent when the daemon could not be asked.
        package var configured: [App]?
    }

    package static func listing(configured: [AdminStatusResponse.Profile]?) -> Listing {
        let providers = ProviderType.allCases.map { type in
            Listing.Provider(type: type.rawValue, description: type.summary,
                             scopePresets: type.scopePresets.map { Listing.Preset(name: $0, scope: ScopeAliases.expand($0)) })
        }
        let apps = configured.map { profiles in
            profiles.flatMap { p in p.apps.map { Listing.App(profile: p.name, name: $0.name, type: $0.type) } }
        }
        return Listing(providers: providers, configured: apps)
    }

    package static func render(configured: [AdminStatusResponse.Profile]?) -> String {
        var lines: [String] = []
        for type in ProviderType.allCases {
            lines.append(type.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0) + type.summary)
            let presets = type.scopePresets.isEmpty ? "any (the provider's own scope strings)" : type.scopePresets.joined(separator: " ")
            lines.append(String(repeating: " ", count: 11) + "scopes: " + presets)
        }
        lines.append("")
        guard let configured else {
            lines.append("configured apps: unknown (credbrokerd is not reachable, its vault is locked, or you are not an admin)")
            return lines.joined(separator: "\n")
        }
        let withApps = configured.filter { !$0.apps.isEmpty }
        if withApps.isEmpty {
            lines.append("configured apps: none yet; start with \"credbroker setup google --profile NAME\"")
        } else {
            lines.append("configured apps:")
            for p in withApps {
                lines.append("  profile \(p.name): " + p.apps.map { $0.name == $0.type ? $0.name : "\($0.name) (\($0.type))" }.joined(separator: ", "))
            }
        }
        return lines.joined(separator: "\n")
    }
}
