import Glibc

/// The transfer threads of one `CurlTransport` and the easy handles they share.
///
/// `curl_easy_perform` blocks its thread for up to the whole timeout, so it runs here, on
/// dedicated threads (started on demand, at most `maxThreads`), never on a Swift concurrency
/// or NIO event-loop thread. Requests beyond that wait in a FIFO queue; each caller awaits
/// its own, so the queue is bounded by the number of callers.
///
/// Connection reuse: each easy handle keeps its own connection cache across transfers
/// (curl_easy_reset keeps live connections), and idle handles are taken last-in first-out,
/// so requests that follow one another use the same handle and so the same connection. We
/// do not share one cache between handles through a CURLSH with CURL_LOCK_DATA_CONNECT:
/// libcurl's maintainers describe sharing connections between concurrent threads as not
/// properly functional (curl-library, "Re: Concurrency and send/recv", March 2021), and a
/// handle per thread needs no locks inside libcurl at all.
///
/// @unchecked Sendable: every mutable property is read and written only with `lock` held;
/// an `EasyHandle` taken from `idleHandles` belongs to one thread until it is put back.
@safe
final class TransferPool: @unchecked Sendable {
    struct Job {
        let transfer: Transfer
        let continuation: CheckedContinuation<Result<HTTPResponse, HTTPTransportError>, Never>
    }

    private let lock = WorkLock()
    private let options: HTTPTransportOptions
    private let maxThreads: Int
    private var queue: [Job] = []
    private var queueHead = 0
    private var idleHandles: [EasyHandle] = []
    private var threads = 0
    private var waitingThreads = 0
    private var shuttingDown = false

    init(options: HTTPTransportOptions) {
        self.options = options
        self.maxThreads = options.maxConcurrentTransfers
    }

    /// Queues `job`. Its continuation is resumed exactly once: by the transfer thread that
    /// takes it, or by `cancelQueued` if it is still waiting.
    func submit(_ job: Job) {
        if job.transfer.isCancelled {
            job.continuation.resume(returning: .failure(CurlErrors.cancelled(job.transfer)))
            return
        }
        lock.lock()
        queue.append(job)
        let pending = queue.count - queueHead
        let startThread = pending > waitingThreads && threads < maxThreads
        if startThread { threads += 1 }
        lock.signal()
        lock.unlock()
        if startThread && !startWorkerThread() {
            lock.lock()
            threads -= 1
            // With no thread to run it, fail what nobody will pick up.
            var orphans: [Job] = []
            if threads == 0 {
                orphans = Array(queue[queueHead...])
                queue.removeAll()
                queueHead = 0
            }
            lock.unlock()
            for orphan in orphans {
                orphan.continuation.resume(returning: .failure(HTTPTransportError(
                    .network, "request to \"\(orphan.transfer.host)\" failed: could not start a transfer thread")))
            }
        }
    }

    /// Fails `transfer` at once if it still waits in the queue (a running one stops at its
    /// next progress callback instead).
    func cancelQueued(_ transfer: Transfer) {
        lock.lock()
        var removed: Job?
        if let index = queue[queueHead...].firstIndex(where: { $0.transfer === transfer }) {
            removed = queue.remove(at: index)
            if queueHead == queue.count {
                queue.removeAll(keepingCapacity: true)
                queueHead = 0
            }
        }
        lock.unlock()
        removed?.continuation.resume(returning: .failure(CurlErrors.cancelled(transfer)))
    }

    /// Lets the threads finish the queue and exit. Called when the transport is released
    /// (no request can be waiting then: each holds the transport until it returns).
    func shutdown() {
        lock.lock()
        shuttingDown = true
        lock.broadcast()
        lock.unlock()
    }

    private func startWorkerThread() -> Bool {
        var attributes = pthread_attr_t()
        unsafe pthread_attr_init(&attributes)
        defer { unsafe pthread_attr_destroy(&attributes) }
        unsafe pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        // The thread holds the pool until its loop ends.
        let context = unsafe Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let created = unsafe pthread_create(&thread, &attributes, { context in
            let pool = unsafe Unmanaged<TransferPool>.fromOpaque(context!).takeRetainedValue()
            pool.runWorker()
            return nil
        }, context)
        if created != 0 {
            unsafe Unmanaged<TransferPool>.fromOpaque(context).release()
            return false
        }
        return true
    }

    private func runWorker() {
        while true {
            lock.lock()
            while queueHead == queue.count && !shuttingDown {
                waitingThreads += 1
                lock.wait()
                waitingThreads -= 1
            }
            if queueHead == queue.count {
                threads -= 1
                lock.unlock()
                return
            }
            let job = queue[queueHead]
            queueHead += 1
            if queueHead == queue.count {
                queue.removeAll(keepingCapacity: true)
                queueHead = 0
            }
            let reused = idleHandles.popLast()
            lock.unlock()

            let result: Result<HTTPResponse, HTTPTransportError>
            if let handle = reused ?? EasyHandle() {
                result = handle.perform(job.transfer, options: options)
                lock.lock()
                idleHandles.append(handle)
                lock.unlock()
            } else {
                result = .failure(HTTPTransportError(
                    .network, "request to \"\(job.transfer.host)\" failed: could not create a libcurl handle"))
            }
            job.continuation.resume(returning: result)
        }
    }
}

/// A pthread mutex with a condition variable, for the transfer threads to sleep until work
/// arrives. (BrokerSystem has one too, but BrokerHTTP is linked by the client libraries,
/// which do not link BrokerSystem.)
///
/// @unchecked Sendable: the pthread objects are made for sharing between threads; they are
/// allocated once and freed in deinit, when no thread can hold them.
@safe
final class WorkLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        unsafe mutex = .allocate(capacity: 1)
        unsafe condition = .allocate(capacity: 1)
        unsafe pthread_mutex_init(mutex, nil)
        unsafe pthread_cond_init(condition, nil)
    }

    deinit {
        unsafe pthread_cond_destroy(condition)
        unsafe pthread_mutex_destroy(mutex)
        unsafe condition.deallocate()
        unsafe mutex.deallocate()
    }

    func lock() { unsafe pthread_mutex_lock(mutex) }
    func unlock() { unsafe pthread_mutex_unlock(mutex) }
    func signal() { unsafe pthread_cond_signal(condition) }
    func broadcast() { unsafe pthread_cond_broadcast(condition) }
    /// Waits, the lock held, until signalled (or woken spuriously: callers loop).
    func wait() { unsafe pthread_cond_wait(condition, mutex) }
}
