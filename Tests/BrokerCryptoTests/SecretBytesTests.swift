import BrokerCrypto
import BrokerSystem
import Testing

@Suite("SecretBytes and secret memory")
struct SecretBytesTests {
    @Test("random secrets differ; copies compare equal in constant time")
    func randomAndCompare() {
        let a = SecretBytes(randomCount: 32)
        let b = SecretBytes(randomCount: 32)
        let copy = SecretBytes(copying: a)
        let differ = !a.constantTimeEquals(b)
        let same = a.constantTimeEquals(copy)
        let shorter = !a.constantTimeEquals(SecretBytes(copying: a, offset: 0, count: 31))
        #expect(differ)
        #expect(same)
        #expect(shorter)
    }

    @Test("copying a range")
    func copyingRange() {
        let source = SecretBytes(copying: Array(0..<10) as [UInt8])
        let middle = SecretBytes(copying: source, offset: 2, count: 3)
        #expect(middle.unsafeCopyToArray() == [2, 3, 4])
        #expect(SecretBytes(zeroedCount: 4).unsafeCopyToArray() == [0, 0, 0, 0])
    }

    @Test("secret memory is locked into RAM while held (VmLck grows)")
    func memoryIsLocked() throws {
        let before = try #require(ProcessHardening.lockedMemoryKiB())
        var held: [SecretBox] = []
        for _ in 0..<64 { held.append(SecretBox(SecretBytes(randomCount: 4096))) }
        let during = try #require(ProcessHardening.lockedMemoryKiB())
        // 64 buffers of at least one 4 KiB page each.
        #expect(during >= before + 64 * 4, "VmLck \(before) kB -> \(during) kB")
        #expect(SecretMemory.lockFailureCount == 0)
        #expect(SecretMemory.warningIfUnlocked() == nil)
        held.removeAll()
    }

    @Test("constant-time compare of arrays")
    func constantTimeArrays() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([], []))
    }

    @Test("BLAKE2b-256 of the empty string (RFC 7693 reference value)")
    func blake2b() {
        #expect(hexString(GenericHash.hash([])) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
    }
}

final class SecretBox {
    let bytes: SecretBytes
    init(_ bytes: consuming SecretBytes) { self.bytes = bytes }
}
