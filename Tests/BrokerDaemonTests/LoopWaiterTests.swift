import BrokerDaemon
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// How a refresh flight answers the token requests waiting on it (`LoopWaiter.deliver`).
struct LoopWaiterTests {
    struct Resumed: Sendable {
        var waiter: Int
        var loop: Int
        var onItsLoop: Bool
        var value: String
    }

    @Test func everyWaiterResumesOnItsOwnLoopInTheOrderItJoined() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 3)
        let loops = (0..<3).map { _ in group.next() }
        #expect(Set(loops.map { ObjectIdentifier($0) }).count == 3)
        let resumed = NIOLockedValueBox<[Resumed]>([])
        let loopOf = { (waiter: Int) in (waiter * 7) % 3 }
        let waiters = (0..<30).map { i in
            let index = loopOf(i), loop = loops[index]
            return LoopWaiter<String>(loop: loop) { value in
                resumed.withLockedValue { $0.append(Resumed(waiter: i, loop: index, onItsLoop: loop.inEventLoop, value: value)) }
            }
        }
        LoopWaiter.deliver("refreshed", to: waiters)
        // Each loop runs its jobs in order: once this one has run, `deliver`'s has too.
        for loop in loops { try await loop.submit {}.get() }
        let all = resumed.withLockedValue { $0 }
        #expect(all.count == 30)
        #expect(all.allSatisfy { $0.onItsLoop && $0.value == "refreshed" })
        for index in 0..<3 {
            #expect(all.filter { $0.loop == index }.map(\.waiter) == (0..<30).filter { loopOf($0) == index })
        }
        try await group.shutdownGracefully()
    }

    @Test func aWaiterJoiningAfterADeliveryIsNotResumedByIt() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let count = NIOLockedValueBox(0)
        let waiter = LoopWaiter<Int>(loop: loop) { value in count.withLockedValue { $0 += value } }
        LoopWaiter.deliver(1, to: [waiter])
        LoopWaiter.deliver(10, to: [])
        try await loop.submit {}.get()
        #expect(count.withLockedValue { $0 } == 1)
        try await group.shutdownGracefully()
    }
}
