// The memory floor of the daemon's stack (docs/benchmarks.md, issue 3): a process that
// loads and starts what credbrokerd must load (the Swift runtime and FoundationEssentials,
// swift-nio, libsodium, OpenSSL's libcrypto, SQLite and libcurl with the libraries it
// brings) and does nothing else. `credbroker-bench socket` starts it beside the daemon and
// reports both RSS figures: the difference is what credbroker's own code and data cost.
//
// Usage: credbroker-memory-floor SOCKET. Listens on SOCKET (an event-loop group of one
// thread per core, as the daemon has), prints "READY", then waits to be killed.
import CCurl
import COpenSSL
import CSQLite
import CSodium
import FoundationEssentials
import Glibc
import NIOCore
import NIOPosix

struct Sample: Codable {
    var name: String
    var at: Date
}

func fail(_ message: String, status: Int32 = 1) -> Never {
    let line = Array((message + "\n").utf8)
    _ = unsafe line.withUnsafeBytes { unsafe write(2, $0.baseAddress, $0.count) }
    exit(status)
}

guard CommandLine.arguments.count == 2 else { fail("usage: credbroker-memory-floor SOCKET", status: 64) }
let socketPath = CommandLine.arguments[1]

// Each library once, the way the daemon first touches it.
guard sodium_init() >= 0 else { fail("sodium_init failed") }
var input = [UInt8](repeating: 0, count: 32)
var digest = [UInt8](repeating: 0, count: 32)
guard unsafe SHA256(&input, 32, &digest) != nil else { fail("SHA256 failed") }
var database: OpaquePointer?
guard unsafe sqlite3_open(":memory:", &database) == SQLITE_OK,
      unsafe sqlite3_exec(database, "CREATE TABLE t (x BLOB); INSERT INTO t VALUES (x'00');", nil, nil, nil) == SQLITE_OK else {
    fail("sqlite failed")
}
guard ccurl_global_init() == CURLE_OK, let easy = unsafe curl_easy_init() else { fail("libcurl failed") }
let decoder = JSONDecoder()
decoder.dateDecodingStrategy = .iso8601
guard let sample = try? decoder.decode(Sample.self, from: Data(#"{"name":"floor","at":"2026-01-01T00:00:00Z"}"#.utf8)) else {
    fail("JSONDecoder failed")
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
_ = unsafe unlink(socketPath)
let server = try ServerBootstrap(group: group)
    .childChannelInitializer { channel in channel.eventLoop.makeSucceededVoidFuture() }
    .bind(unixDomainSocketPath: socketPath).wait()
let ready = Array("READY \(sample.name)\n".utf8)
_ = unsafe ready.withUnsafeBytes { unsafe write(1, $0.baseAddress, $0.count) }
unsafe withExtendedLifetime((easy, database, server)) {
    while true { pause() }
}
