import Synchronization

/// Reports whether the secret buffers really got locked into RAM.
///
/// `sodium_malloc` tries `mlock` and ignores its failure (RLIMIT_MEMLOCK is 64 KiB for
/// unprivileged users on many systems), so `SecretBytes` locks again itself and counts
/// failures here. A process shows `warningIfUnlocked()` once, on stderr.
public enum SecretMemory {
    private static let failures = Atomic<Int>(0)
    private static let warned = Atomic<Bool>(false)

    private static let allocations = Atomic<Int>(0)

    /// True for the first allocation and then one in 64.
    static func shouldProbeLock() -> Bool {
        allocations.wrappingAdd(1, ordering: .relaxed).oldValue % 64 == 0
    }

    static func recordLock(succeeded: Bool) {
        if !succeeded { failures.wrappingAdd(1, ordering: .relaxed) }
    }

    /// How many sampled secret buffers could not be locked since the process started.
    public static var lockFailureCount: Int { failures.load(ordering: .relaxed) }

    /// The warning to print, the first time it is asked for after a lock failure; then nil.
    public static func warningIfUnlocked() -> String? {
        guard lockFailureCount > 0 else { return nil }
        let (exchanged, _) = warned.compareExchange(expected: false, desired: true, ordering: .relaxed)
        guard exchanged else { return nil }
        return "could not lock secret memory into RAM (mlock failed; raise RLIMIT_MEMLOCK, "
            + "e.g. LimitMEMLOCK= in the unit): secrets may reach swap"
    }
}
