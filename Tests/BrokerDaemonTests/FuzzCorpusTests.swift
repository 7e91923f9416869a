import BrokerTesting
import Foundation
import FuzzTargets
import Testing

/// The fuzzers' committed inputs, replayed through the same entry functions libFuzzer
/// calls (docs/testing.md, "Fuzzing"): every seed of Fuzz/corpus/TARGET and every crasher
/// kept in Fuzz/regressions/TARGET keeps the target's invariants, so `swift test` proves
/// each fixed crash stays fixed without a libFuzzer build.
@Suite("fuzz corpora")
struct FuzzCorpusTests {
    static let root = BuiltProducts.packageRoot + "/Fuzz"

    static func inputs(_ directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory + "/" + $0 }
    }

    @Test("every seed and every regression input keeps the target's invariants", arguments: FuzzTargets.all.map(\.name))
    func replay(_ name: String) throws {
        let target = try #require(FuzzTargets.named(name))
        let seeds = Self.inputs(Self.root + "/corpus/" + name)
        let regressions = Self.inputs(Self.root + "/regressions/" + name)
        // A missing or emptied corpus must not pass as "nothing failed".
        #expect(seeds.count >= 8, "Fuzz/corpus/\(name) holds \(seeds.count) inputs")
        for file in seeds + regressions {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            let problem = target.run(bytes)
            #expect(problem == nil, "\(file): \(problem ?? "")")
        }
    }

    @Test("the committed inputs stay small: seeds, not a grown corpus")
    func corpusIsSmall() throws {
        for target in FuzzTargets.all {
            for file in Self.inputs(Self.root + "/corpus/" + target.name) + Self.inputs(Self.root + "/regressions/" + target.name) {
                let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? 0
                #expect(size <= target.maxLength, "\(file) is \(size) bytes, over the target's -max_len \(target.maxLength)")
            }
            let count = Self.inputs(Self.root + "/corpus/" + target.name).count
            #expect(count <= 200, "Fuzz/corpus/\(target.name) holds \(count) inputs; commit seeds, not libFuzzer's grown corpus")
        }
    }
}
