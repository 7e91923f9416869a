import BrokerTesting
import Foundation
import Synchronization
import Testing

/// The test support's children (BackgroundProcess, Subprocess) start one at a time
/// (`Spawning`), because Foundation's Process sees a child's exit only when every copy of
/// the child's end of a socketpair is closed, and a child started at the same moment on
/// another thread inherited such an end and outlived its owner: the owner's exit was never
/// seen and its waitUntilExit blocked forever.
@Suite("test support: starting children")
struct SpawningTests {
    @Test("children started from many threads at once are each seen to exit once killed, while the others live")
    func concurrentStartsDoNotHideExits() throws {
        let dir = try TemporaryDirectory(prefix: "cb-spawning")
        defer { dir.remove() }
        let children = Mutex<[BackgroundProcess]>([])
        let failures = Mutex<[String]>([])
        // 6 threads × 40 children: without the serialization, 10 to 30 of them inherited
        // another's end in each of three runs on the 2-core machine, and killed children
        // stayed "running".
        DispatchQueue.concurrentPerform(iterations: 6) { thread in
            for n in 0..<40 {
                do {
                    let child = try BackgroundProcess("/bin/sleep", ["600"], logDirectory: dir.path, name: "sleep-\(thread)-\(n)")
                    children.withLock { $0.append(child) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let all = children.withLock { $0 }
        #expect(all.count == 240)
        // Kill every other child; the rest live on, holding whatever they inherited.
        let killed = all.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let living = all.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        for child in killed { child.signal(SIGKILL) }
        // isRunning, not waitUntilExit: an exit Foundation never sees must fail the test,
        // not hang it.
        let seen = BackgroundProcess.waitUntil(timeout: 30) { killed.allSatisfy { !$0.isRunning } }
        let unseen = killed.filter { $0.isRunning }.map { $0.pid }
        #expect(seen, "killed children still reported running (their exits unseen): \(unseen)")
        let alive = living.allSatisfy { $0.isRunning }
        #expect(alive)
        for child in living { child.signal(SIGKILL) }
        #expect(BackgroundProcess.waitUntil(timeout: 30) { all.allSatisfy { !$0.isRunning } })
    }
}
