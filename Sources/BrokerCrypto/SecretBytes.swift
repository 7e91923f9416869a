internal import CSodium

/// Secret bytes in guarded, locked memory, wiped and freed in `deinit`.
///
/// Backed by `sodium_malloc` (guard pages, a canary, `MADV_DONTDUMP`) and locked with
/// `sodium_mlock`; `sodium_free` zeroes the bytes before releasing them. The type is not
/// copyable, so a secret has one owner and cannot be duplicated by accident, and it is not
/// `CustomStringConvertible`: `"\(secret)"` does not compile.
///
/// - Important: pointers handed to `withUnsafeBytes` and `withUnsafeMutableBytes` must not
///   escape `body`.
@safe
public struct SecretBytes: ~Copyable, @unchecked Sendable {
    // @unchecked Sendable: the buffer is reachable only through this single, non-copyable
    // owner, so moving the value to another task moves the only reference to it.
    private let base: UnsafeMutableRawPointer
    /// The number of bytes.
    public let count: Int

    /// Allocates `count` bytes and lets `body` fill them. If `body` throws, the memory is
    /// wiped and freed.
    public init<E: Error>(
        count: Int, initializingWith body: (UnsafeMutableRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        precondition(count >= 0, "SecretBytes count must not be negative")
        Sodium.ensureInitialized()
        // sodium_malloc(0) is allowed, but keep one byte so the pointer is always valid.
        guard let pointer = unsafe sodium_malloc(Swift.max(count, 1)) else {
            fatalError("sodium_malloc(\(count)) failed: out of memory")
        }
        // sodium_malloc already calls mlock but ignores its result. Re-locking costs a
        // syscall per allocation, so check the first allocation and then one in 64: enough
        // to notice an exhausted RLIMIT_MEMLOCK without doubling the cost of every secret.
        if SecretMemory.shouldProbeLock() {
            SecretMemory.recordLock(succeeded: unsafe sodium_mlock(pointer, Swift.max(count, 1)) == 0)
        }
        unsafe sodium_memzero(pointer, Swift.max(count, 1))
        do {
            try unsafe body(UnsafeMutableRawBufferPointer(start: pointer, count: count))
        } catch {
            unsafe sodium_free(pointer)
            throw error
        }
        unsafe self.base = pointer
        self.count = count
    }

    /// `count` zero bytes.
    public init(zeroedCount count: Int) {
        unsafe self.init(count: count) { _ in }
    }

    /// `count` bytes from the operating system's CSPRNG (`randombytes_buf`).
    public init(randomCount count: Int) {
        unsafe self.init(count: count) { buffer in
            if count > 0 { unsafe randombytes_buf(buffer.baseAddress!, count) }
        }
    }

    /// A copy of `bytes`. The source is ordinary memory: callers should wipe it if it held
    /// a secret (see `wipe(_:)`).
    public init(copying bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        unsafe self.init(count: array.count) { buffer in
            unsafe buffer.copyBytes(from: array)
        }
    }

    /// A copy of `count` bytes starting at `offset` of another secret.
    public init(copying other: borrowing SecretBytes, offset: Int = 0, count: Int? = nil) {
        let length = count ?? (other.count - offset)
        precondition(offset >= 0 && length >= 0 && offset + length <= other.count, "range out of bounds")
        unsafe self.init(count: length) { destination in
            unsafe other.withUnsafeBytes { source in
                if length > 0 {
                    unsafe destination.baseAddress!.copyMemory(
                        from: source.baseAddress! + offset, byteCount: length)
                }
            }
        }
    }

    deinit {
        unsafe sodium_free(base)
    }

    /// Scoped read access to the bytes.
    public borrowing func withUnsafeBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try unsafe body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Scoped write access to the bytes.
    public mutating func withUnsafeMutableBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try unsafe body(UnsafeMutableRawBufferPointer(start: base, count: count))
    }

    /// Constant-time equality (`sodium_memcmp`); different lengths compare unequal.
    public borrowing func constantTimeEquals(_ other: borrowing SecretBytes) -> Bool {
        guard count == other.count else { return false }
        return unsafe withUnsafeBytes { mine in
            unsafe other.withUnsafeBytes { theirs in
                unsafe ConstantTime.equals(mine, theirs)
            }
        }
    }

    /// Whether the bytes equal `bytes`, in constant time for equal lengths.
    public borrowing func constantTimeEquals(_ bytes: [UInt8]) -> Bool {
        guard count == bytes.count else { return false }
        return unsafe withUnsafeBytes { mine in
            unsafe bytes.withUnsafeBytes { theirs in
                unsafe ConstantTime.equals(mine, theirs)
            }
        }
    }

    /// Copies the bytes into an ordinary array. Use only for values that are not secret
    /// once they leave here (for example a plaintext that the caller is about to encode),
    /// and wipe the array when done.
    public borrowing func unsafeCopyToArray() -> [UInt8] {
        unsafe withUnsafeBytes { unsafe Array($0) }
    }
}

/// Zeroes an ordinary array that held secret bytes (best effort: earlier copies made by
/// the array's growth are out of reach).
public func wipe(_ bytes: inout [UInt8]) {
    unsafe bytes.withUnsafeMutableBytes { buffer in
        if let base = buffer.baseAddress { unsafe sodium_memzero(base, buffer.count) }
    }
}

/// Zeroes raw memory that held secret bytes (sodium_memzero: the store is never elided).
public func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
    if let base = unsafe buffer.baseAddress { unsafe sodium_memzero(base, buffer.count) }
}
