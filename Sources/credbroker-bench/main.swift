// credbroker-bench: measurements for docs/benchmarks.md. Build with -c release.
//
//   credbroker-bench vault [--records 10000] [--runs 5] [--kdf moderate]
//   credbroker-bench socket [--seconds 5] [--connections 1,8,64,256]
//   credbroker-bench refresh [--concurrent 1000] [--latency-ms 50] [--grants 1000] [--lifetime 60] [--minutes 5]
//   credbroker-bench client [--calls 1000000]
//   credbroker-bench library [--events 1000] [--page-size 250] [--runs 21]
//   credbroker-bench all                      (vault, socket, refresh, client and library with their defaults: issue 8's one run)
//   credbroker-bench floor-server PATH        (started by `socket`; not for direct use)
//
// Prints Markdown tables. Each figure, and each reference it is compared with, is
// measured in the same run.
import Foundation

let usage = """
    usage: credbroker-bench all
           credbroker-bench vault [--records N] [--runs N] [--kdf interactive|moderate|sensitive]
           credbroker-bench socket [--seconds N] [--connections 1,8,64,256] [--cli-runs N] [--cached-tokens N]
           credbroker-bench refresh [--concurrent N] [--latency-ms N] [--grants N] [--lifetime S] [--minutes M]
           credbroker-bench client [--calls N]
           credbroker-bench library [--events N] [--page-size N] [--runs N]

    """
switch CommandLine.arguments.dropFirst().first {
case "all":
    print("## vault\n")
    try vaultBench()
    print("\n## socket\n")
    try socketBench()
    print("\n## refresh\n")
    try await refreshBench()
    print("\n## client\n")
    try await clientBench()
    print("\n## library\n")
    try await libraryBench()
case "vault": try vaultBench()
case "socket": try socketBench()
case "refresh": try await refreshBench()
case "client": try await clientBench()
case "library": try await libraryBench()
case "floor-server": try floorServer(path: CommandLine.arguments[2])
case "http-floor-server": try httpFloorServer(path: CommandLine.arguments[2])
default:
    FileHandle.standardError.write(Data(usage.utf8))
    exit(64)
}
