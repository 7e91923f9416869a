public import Foundation
import Synchronization

/// The outcome of a finished subprocess.
public struct ProcessResult: Sendable {
    public var status: Int32
    /// True when the process was killed by a signal (status is then the signal number).
    public var signaled: Bool
    public var stdout: String
    public var stderr: String
}

/// Runs programs for tests, with captured output and optional standard input.
public enum Subprocess {
    /// Runs `executable` (a path, or a name looked up in PATH) to completion, or kills it
    /// with SIGKILL after `timeout` seconds (then `signaled` is true and `status` 9), so a
    /// hung child fails its test instead of hanging the suite.
    public static func run(
        _ executable: String, _ arguments: [String], stdin: String? = nil,
        environment: [String: String]? = nil, currentDirectory: String? = nil,
        timeout: Double = 300
    ) throws -> ProcessResult {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        // Close-on-exec pipes: Foundation's Pipe() is not, and Process does not close other
        // descriptors in the child, so a process another test starts at the same moment
        // inherited the write end of this one's stdout and held it open: the read below
        // waited for an end of file that never came (a release CI run hung on it). The
        // child gets its ends through dup2, which clears the flag on the copy.
        let (out, err, input) = try Spawning.serialized { () throws -> (CloexecPipe, CloexecPipe, CloexecPipe) in
            let out = try CloexecPipe(), err = try CloexecPipe(), input = try CloexecPipe()
            process.standardOutput = out.write
            process.standardError = err.write
            process.standardInput = stdin == nil ? FileHandle.nullDevice : input.read
            try process.run()
            // The child has its copies; the parent's would keep the pipes open.
            try out.write.close()
            try err.write.close()
            try input.read.close()
            return (out, err, input)
        }
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        if let stdin {
            input.write.write(Data(stdin.utf8))
            try input.write.close()
        }
        // Read both pipes concurrently so neither can fill and block the child.
        let errData = Mutex(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            let data = err.read.readDataToEndOfFile()
            errData.withLock { $0 = data }
            group.leave()
        }
        let outData = out.read.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        let errBytes = errData.withLock { $0 }
        return ProcessResult(
            status: process.terminationStatus,
            signaled: process.terminationReason == .uncaughtSignal,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errBytes, as: UTF8.self))
    }

    /// Whether `name` is found in PATH.
    public static func isAvailable(_ name: String) -> Bool {
        (try? run("which", [name]).status) == 0
    }
}

/// Every child the tests start goes through here, one at a time. Foundation's Process on
/// Linux learns that a child has exited when the child's end of a socketpair it made for
/// that child closes; it closes in a new child the descriptors it saw open, not those
/// another thread opens meanwhile. So a child spawned on another thread while one's
/// socketpair was being handed over inherited that end, and lived on, and the first
/// child's exit was never seen. Its waitUntilExit then
/// blocked a cooperative thread forever, and with both of a 2-core machine's blocked the
/// whole suite stopped (a debug CI run hung so: a killed test server a zombie, another
/// holding its socket). swift-corelibs-foundation issue 4795. Serialized, a spawn finds
/// every other child's end already closed in the parent.
public enum Spawning {
    private static let lock = Mutex(())

    /// Runs `body`, which makes the child's descriptors and calls `Process.run()`, while
    /// no other child is being started.
    public static func serialized<T>(_ body: () throws -> T) throws -> T {
        try lock.withLock { _ in try body() }
    }
}

/// A pipe whose two ends are close-on-exec, as FileHandles that close their descriptors
/// when released. (pipe2 is not in Glibc's Swift module; the flag is set right after
/// pipe(), so the window a concurrent spawn could inherit them in is a few instructions,
/// not the whole spawn as with Foundation's Pipe.)
struct CloexecPipe {
    let read: FileHandle
    let write: FileHandle

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0, fcntl(fds[0], F_SETFD, FD_CLOEXEC) == 0, fcntl(fds[1], F_SETFD, FD_CLOEXEC) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        read = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        write = FileHandle(fileDescriptor: fds[1], closeOnDealloc: true)
    }
}

/// Where the build put this package's executables: the directory of the running test
/// bundle, which SwiftPM shares with them (debug or release alike).
public enum BuiltProducts {
    public static var directory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }

    /// The path of the built executable `name`.
    public static func path(_ name: String) -> String { directory + "/" + name }

    /// The package's root directory (for scripts under Tests/).
    public static var packageRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }
}
