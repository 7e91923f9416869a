internal import CSodium

/// Comparisons whose time does not depend on where the inputs differ.
public enum ConstantTime {
    /// Whether two byte buffers are equal. Lengths are not secret: unequal lengths return
    /// false at once.
    public static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 { return true }
        return unsafe sodium_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
    }

    /// Whether two arrays are equal.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        unsafe a.withUnsafeBytes { x in unsafe b.withUnsafeBytes { y in unsafe equals(x, y) } }
    }
}
