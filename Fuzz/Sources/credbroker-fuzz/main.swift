import CLibFuzzer
import FuzzTargets
import Foundation

// credbroker-fuzz list                        the targets: name, -max_len, more libFuzzer
//                                             flags ("-": none), what they take (tab-separated)
// credbroker-fuzz TARGET [FLAGS] [DIR...]     libFuzzer (the build of scripts/fuzz.sh)
// credbroker-fuzz TARGET FILE|DIR...          the ordinary build: replays inputs, reports
//                                             each broken invariant, exits 1 if any

let arguments = CommandLine.arguments
if arguments.count == 2 && arguments[1] == "list" {
    for target in FuzzTargets.all { print("\(target.name)\t\(target.maxLength)\t\(target.options.isEmpty ? "-" : target.options.joined(separator: " "))\t\(target.summary)") }
    exit(0)
}
guard let target = Selection.target else {
    FileHandle.standardError.write(Data("usage: credbroker-fuzz list | TARGET [libFuzzer flags] [corpus directories] | TARGET FILE...\ntargets: \(FuzzTargets.all.map(\.name).joined(separator: ", "))\n".utf8))
    exit(64)
}
unsafe setenv(Selection.variable, target.name, 1)
target.prepare()

// libFuzzer reads its own flags: drop the target name, keeping argv[0].
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = unsafe CommandLine.unsafeArgv
if Selection.fromArguments != nil {
    unsafe CommandLine.unsafeArgv[1] = CommandLine.unsafeArgv[0]
    argc -= 1
    unsafe argv = CommandLine.unsafeArgv + 1
}
let status = unsafe credbroker_fuzz_driver(&argc, &argv, fuzzOne)
if status != -1 { exit(status) }

// No libFuzzer in this build: replay the files and directories named.
var files: [String] = []
for path in arguments.dropFirst(Selection.fromArguments != nil ? 2 : 1) {
    var isDirectory: ObjCBool = false
    guard unsafe FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        FileHandle.standardError.write(Data("credbroker-fuzz: error: \"\(path)\" does not exist\n".utf8))
        exit(1)
    }
    if isDirectory.boolValue {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        files += names.sorted().map { path + "/" + $0 }
    } else {
        files.append(path)
    }
}
if files.isEmpty {
    FileHandle.standardError.write(Data("credbroker-fuzz: error: this build has no libFuzzer (scripts/fuzz.sh builds one); name the inputs to replay\n".utf8))
    exit(64)
}
var failures = 0
for file in files {
    guard let data = FileManager.default.contents(atPath: file) else { continue }
    if let problem = target.run(Array(data)) {
        print("FAIL \(file): \(problem)")
        failures += 1
    } else {
        print("ok   \(file)")
    }
}
print("\(target.name): \(files.count) inputs, \(failures) failed")
exit(failures == 0 ? 0 : 1)
