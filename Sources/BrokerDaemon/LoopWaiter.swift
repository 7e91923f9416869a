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
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, resumes: [@Sendable (Value) -> Void])] = [:]
        var order: [ObjectIdentifier] = []
        for waiter in waiters {
            let id = ObjectIdentifier(waiter.loop)
            if byLoop[id] == nil {
                byLoop[id] = (waiter.loop, [])
                order.append(id)
            }
            byLoop[id]!.resumes.append(waiter.resume)
        }
        for id in order {
            let (loop, resumes) = byLoop[id]!
            loop.execute {
                for resume in resumes { resume(value) }
            }
        }
    }
}
