import Glibc

/// A mutex with a condition variable (pthread), for the one place that needs a thread to
/// sleep until work arrives or a deadline passes (the audit writer). Foundation's
/// NSCondition would do, but the daemon links only FoundationEssentials.
///
/// @unchecked Sendable: the pthread objects are made for sharing between threads; they are
/// allocated once and freed in deinit, when no thread can hold them.
@safe
public final class Condition: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        unsafe mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        unsafe cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        unsafe pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        unsafe pthread_condattr_init(&attributes)
        unsafe pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        unsafe pthread_cond_init(cond, &attributes)
        unsafe pthread_condattr_destroy(&attributes)
    }

    deinit {
        unsafe pthread_cond_destroy(cond)
        unsafe pthread_mutex_destroy(mutex)
        unsafe cond.deallocate()
        unsafe mutex.deallocate()
    }

    public func lock() { unsafe pthread_mutex_lock(mutex) }
    public func unlock() { unsafe pthread_mutex_unlock(mutex) }
    public func signal() { unsafe pthread_cond_signal(cond) }
    public func broadcast() { unsafe pthread_cond_broadcast(cond) }

    /// Waits (the lock held) until signalled or `seconds` pass.
    public func wait(seconds: Double) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let whole = Int(seconds)
        var nanos = now.tv_nsec + Int((seconds - Double(whole)) * 1e9)
        var secs = now.tv_sec + whole
        if nanos >= 1_000_000_000 { secs += 1; nanos -= 1_000_000_000 }
        var deadline = timespec(tv_sec: secs, tv_nsec: nanos)
        _ = unsafe pthread_cond_timedwait(cond, mutex, &deadline)
    }

    /// Monotonic seconds (for deadlines measured with `wait`).
    public static var monotonicSeconds: Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
