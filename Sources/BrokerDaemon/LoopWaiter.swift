package import NIOCore

/// Someone waiting for a result on an event loop: `resume` must run on `loop`.
///
/// The refresher's flights answer their waiting token requests this way (`deliver`), so
/// that a herd waiting on one refresh costs one job per event loop, not one task each.
package struct LoopWaiter<Value: Sendable>: Sendable {
    package var loop: any EventLoop
    package var resume: @Sendable (Value) -> Void

    package init(loop: any EventLoop, resume: @escaping @Sendable (Value) -> Void) {
        self.loop = loop
        self.resume = resume
    }

    /// Runs every waiter's `resume` with `value` on its own loop: one job per loop, which
    /// resumes that loop's waiters in the order they appear in `waiters`.
    package static func deliver(_ value: Value, to waiters: [LoopWaiter]) {
        // One group per loop, in first-seen order; a daemon has as many loops as cores.
        var groups: [(loop: any EventLoop, resumes: [@Sendable (Value) -> Void])] = []
        for waiter in waiters {
            if let index = groups.firstIndex(where: { $0.loop === waiter.loop }) {
                groups[index].resumes.append(waiter.resume)
            } else {
                groups.append((waiter.loop, [waiter.resume]))
            }
        }
        for (loop, resumes) in groups {
            loop.execute {
                for resume in resumes { resume(value) }
            }
        }
    }
}
