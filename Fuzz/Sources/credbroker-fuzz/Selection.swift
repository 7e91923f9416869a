import FuzzTargets
import Foundation

/// The target this process fuzzes: the first argument when it names one, else
/// $CREDBROKER_FUZZ_TARGET (libFuzzer's child processes, as in -merge=1, get the argument
/// list without it; main sets the variable for them).
enum Selection {
    static let variable = "CREDBROKER_FUZZ_TARGET"

    static let fromArguments: FuzzTarget? = CommandLine.arguments.count > 1 ? FuzzTargets.named(CommandLine.arguments[1]) : nil

    static let target: FuzzTarget? = fromArguments ?? ProcessInfo.processInfo.environment[variable].flatMap(FuzzTargets.named)
}

/// libFuzzer's callback: one input through the selected target; a broken invariant is a
/// crash, so libFuzzer keeps the input as an artifact.
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let target = Selection.target else { return 0 }
    let input: [UInt8] = unsafe size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    if let problem = target.run(input) {
        fatalError("credbroker-fuzz \(target.name): \(problem)")
    }
    return 0
}
