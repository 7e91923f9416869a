public import Foundation

/// Runs `body` with a task executor of its own: one thread that runs nothing but this test's
/// jobs (its own code, the async functions it calls, its child tasks).
///
/// Why: every test of a parallel run shares the cooperative pool, which on a 2-core machine
/// has two threads; while other tests block them (a subprocess, a synchronous socket
/// request), an awaiting test is not resumed, for a minute in one CI run. Most tests only
/// get slower. A test whose daemon closes idle connections after 2 s fails instead: the
/// client connected, was not resumed in time to send, and found the connection closed. On
/// its own thread such a test is resumed as soon as its awaited event happens.
public func onOwnThread<T>(_ body: () async throws -> T) async throws -> T {
    let executor = OwnThreadExecutor()
    defer { executor.finish() }
    return try await withTaskExecutorPreference(executor) { try await body() }
}

/// A `TaskExecutor` backed by one thread. After `finish()` the thread exits once its queue
/// is empty, and a job enqueued later (an unstructured task that outlived the test) goes to
/// the global executor instead.
public final class OwnThreadExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: `jobs` and `finished` are guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false

    public init() {
        let thread = Thread { [self] in run() }
        thread.stackSize = 4 << 20
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        condition.lock()
        if finished {
            condition.unlock()
            globalConcurrentExecutor.enqueue(job)
            return
        }
        jobs.append(UnownedJob(job))
        condition.signal()
        condition.unlock()
    }

    public func finish() {
        condition.lock()
        finished = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !finished { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}
