import BrokerTesting
import Foundation
import Testing

@Suite("onOwnThread (test support)")
struct OwnThreadTests {
    static func thread() -> UInt { UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))) }

    @Test("the body, the async functions it awaits and its child tasks all run on one thread outside the pool")
    func runsOnOwnThread() async throws {
        let pool = Self.thread()
        let threads = try await onOwnThread { () async throws -> [UInt] in
            var threads = [Self.thread()]
            try await Task.sleep(for: .milliseconds(10))
            threads.append(Self.thread())
            let children = await withTaskGroup(of: UInt.self) { group in
                for _ in 0..<4 { group.addTask { Self.thread() } }
                return await group.reduce(into: [UInt]()) { $0.append($1) }
            }
            return threads + children
        }
        #expect(threads.count == 6)
        #expect(Set(threads).count == 1, "\(threads)")
        #expect(threads[0] != pool)
    }
}
