/// One libFuzzer target: a name, the code it feeds, and the longest input worth trying.
///
/// `run` takes one input and returns nil, or the invariant the code broke (a crash is a
/// finding too: libFuzzer reports it, and the corpus test dies of it). The same function
/// serves libFuzzer (`credbroker-fuzz NAME`, built by scripts/fuzz.sh), the replay mode
/// of the ordinary build (`credbroker-fuzz NAME FILE...`) and the corpus tests of
/// `swift test`.
public struct FuzzTarget: Sendable {
    public let name: String
    /// What the input is and which code it reaches.
    public let summary: String
    /// libFuzzer's -max_len: past the limits the code enforces, so the limits are fuzzed too.
    public let maxLength: Int
    /// More libFuzzer flags for this target, each with its reason where it is set.
    public let options: [String]
    /// Makes what the target keeps between inputs (the request harness, the vault) and
    /// lets its background work settle, before libFuzzer starts counting allocations per
    /// input (LLVMFuzzerInitialize's job): a one-time allocation is not a leak.
    public let prepare: @Sendable () -> Void
    public let run: @Sendable ([UInt8]) -> String?

    init(name: String, summary: String, maxLength: Int, options: [String] = [], prepare: @escaping @Sendable () -> Void = {},
         run: @escaping @Sendable ([UInt8]) -> String?) {
        self.name = name
        self.summary = summary
        self.maxLength = maxLength
        self.options = options
        self.prepare = prepare
        self.run = run
    }
}

public enum FuzzTargets {
    public static let all: [FuzzTarget] = [
        APIFuzz.target, APIJSONFuzz.target, AuditVerifyFuzz.target, ImportFileFuzz.target, PolicyFuzz.target, ProviderAnswerFuzz.target, TokenResponseFuzz.target,
        VaultRecordFuzz.target,
    ]

    public static func named(_ name: String) -> FuzzTarget? {
        all.first { $0.name == name }
    }
}
