import BrokerTesting
import Foundation
import Testing

/// The client libraries never link the vault, the crypto, the system layer or the OAuth
/// engine (DESIGN.md; STYLE.md "A client process never links the vault or the crypto"),
/// checked on Package.swift's target graph, transitively.
@Suite("Broker client package graph")
struct PackageGraphTests {
    static let clientTargets = ["CredBrokerClient", "APIClientCore", "GoogleAPIs", "MicrosoftGraph"]
    static let forbidden: Set<String> = ["BrokerVault", "BrokerCrypto", "BrokerSystem", "BrokerOAuth", "CSodium", "COpenSSL", "CSQLite"]

    @Test("no client library depends on BrokerVault, BrokerCrypto, BrokerSystem or BrokerOAuth")
    func clientLibrariesStayClean() throws {
        let manifest = try String(contentsOfFile: BuiltProducts.packageRoot + "/Package.swift", encoding: .utf8)
        let graph = TargetGraph(manifest: manifest)
        for target in Self.clientTargets {
            #expect(graph.dependencies[target] != nil, "\(target) is not in Package.swift")
            let reached = graph.closure(of: target).intersection(Self.forbidden)
            #expect(reached.isEmpty, "\(target) reaches \(reached.sorted())")
        }
        // The parser sees real edges (else the check above could pass on an empty graph).
        #expect(graph.closure(of: "BrokerDaemon").contains("BrokerVault"))
        #expect(graph.closure(of: "GoogleAPIs").isSuperset(of: ["APIClientCore", "CredBrokerClient", "BrokerWire", "BrokerCore"]))
    }

    @Test("the check catches a forbidden module reached through another target")
    func catchesTransitiveEdge() {
        let manifest = """
            .target(name: "BrokerCore", dependencies: [.product(name: "TOMLKit", package: "TOMLKit")]),
            .target(
                name: "BrokerWire",
                dependencies: ["BrokerCore", "BrokerSystem"]),
            .target(name: "BrokerSystem", dependencies: ["BrokerCrypto"]),
            .target(name: "CredBrokerClient", dependencies: ["BrokerWire", .product(name: "NIOCore", package: "swift-nio")]),
            """
        let graph = TargetGraph(manifest: manifest)
        #expect(graph.closure(of: "CredBrokerClient") == ["BrokerWire", "BrokerCore", "BrokerSystem", "BrokerCrypto", "TOMLKit", "NIOCore"])
    }
}

/// Package.swift's targets and their dependencies, read textually: each `.target(`,
/// `.executableTarget(`, `.testTarget(` or `.systemLibrary(` call, its `name:` and the names
/// in its `dependencies:` list (products by their name; the `package:` strings skipped).
struct TargetGraph {
    var dependencies: [String: [String]] = [:]

    init(manifest: String) {
        let text = Array(manifest)
        var i = 0
        let openers = [".target(", ".executableTarget(", ".testTarget(", ".systemLibrary("]
        while i < text.count {
            guard let opener = openers.first(where: { Self.matches(text, at: i, $0) }) else { i += 1; continue }
            let start = i + opener.count
            let end = Self.closing(text, from: start, open: "(", close: ")")
            let call = String(text[start..<end])
            if let name = Self.firstString(after: "name:", in: call) {
                var deps: [String] = []
                if let range = call.range(of: "dependencies:"), let open = call[range.upperBound...].firstIndex(of: "[") {
                    let chars = Array(call[open...])
                    let list = String(chars[1..<Self.closing(chars, from: 1, open: "[", close: "]")])
                    deps = Self.names(inDependencyList: list)
                }
                dependencies[name] = deps
            }
            i = end
        }
    }

    /// Every target or product reached from `target`.
    func closure(of target: String) -> Set<String> {
        var seen = Set<String>()
        var stack = dependencies[target] ?? []
        while let next = stack.popLast() {
            if seen.insert(next).inserted { stack += dependencies[next] ?? [] }
        }
        return seen
    }

    static func matches(_ text: [Character], at i: Int, _ word: String) -> Bool {
        let w = Array(word)
        return i + w.count <= text.count && Array(text[i..<(i + w.count)]) == w
    }

    /// The index of the bracket closing the one opened just before `from`.
    static func closing(_ text: [Character], from: Int, open: Character, close: Character) -> Int {
        var depth = 1, i = from
        while i < text.count {
            if text[i] == open { depth += 1 }
            if text[i] == close { depth -= 1; if depth == 0 { return i } }
            i += 1
        }
        return text.count
    }

    static func firstString(after key: String, in text: String) -> String? {
        guard let range = text.range(of: key) else { return nil }
        let rest = text[range.upperBound...]
        guard let q1 = rest.firstIndex(of: "\"") else { return nil }
        let afterQ1 = rest.index(after: q1)
        guard let q2 = rest[afterQ1...].firstIndex(of: "\"") else { return nil }
        return String(rest[afterQ1..<q2])
    }

    /// The quoted names in a dependency list, without the strings that follow `package:`.
    static func names(inDependencyList list: String) -> [String] {
        var names: [String] = []
        var rest = Substring(list)
        while let q1 = rest.firstIndex(of: "\"") {
            let before = rest[..<q1].trimmingCharacters(in: .whitespaces)
            let afterQ1 = rest.index(after: q1)
            guard let q2 = rest[afterQ1...].firstIndex(of: "\"") else { break }
            if !before.hasSuffix("package:") { names.append(String(rest[afterQ1..<q2])) }
            rest = rest[rest.index(after: q2)...]
        }
        return names
    }
}
