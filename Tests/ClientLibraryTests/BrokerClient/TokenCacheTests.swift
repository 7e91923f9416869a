@testable import CredBrokerClient
import Foundation
import Testing

/// The cache's decisions, without a daemon.
@Suite("Broker client token cache")
struct TokenCacheTests {
    static func token(_ value: String, expiresIn seconds: Double) -> AccessToken {
        AccessToken(value: value, expiresAt: Date(timeIntervalSinceNow: seconds), scopes: ["s"], profile: "dev", provider: "google", account: "a")
    }
    static let alias = TokenCache.ExactKey(profile: "dev", provider: "google", account: nil, scopes: ["calendar.readonly"])
    static let full = TokenCache.ExactKey(profile: "dev", provider: "google", account: nil, scopes: ["https://www.googleapis.com/auth/calendar.readonly"])
    static let normal = TokenCache.NormalKey(profile: "dev", provider: "google", account: nil, scopes: ["https://www.googleapis.com/auth/calendar.readonly"])

    var now: Double { Date().timeIntervalSinceReferenceDate }

    @Test("a token is served while it has minValid plus the margin left, then not")
    func validity() {
        let cache = TokenCache()
        #expect(cache.lookup(Self.alias, now: now, need: 70) == nil)
        guard case .lead(owner: true) = cache.decide(exact: Self.alias, normal: Self.normal, now: now, need: 70, force: false) else {
            Issue.record("an empty cache must fetch"); return
        }
        cache.finish(exact: Self.alias, normal: Self.normal, result: .success(Self.token("A", expiresIn: 100)), owner: true)
        #expect(cache.lookup(Self.alias, now: now, need: 70)?.value == "A")
        #expect(cache.lookup(Self.alias, now: now, need: 110) == nil)
        #expect(cache.lookup(Self.alias, now: now + 40, need: 70) == nil)
    }

    @Test("another spelling of the same scopes shares the entry, and a forced refresh replaces it for both")
    func spellingsShareAndForceReplaces() {
        let cache = TokenCache()
        _ = cache.decide(exact: Self.alias, normal: Self.normal, now: now, need: 70, force: false)
        cache.finish(exact: Self.alias, normal: Self.normal, result: .success(Self.token("A", expiresIn: 3600)), owner: true)
        #expect(cache.lookup(Self.full, now: now, need: 70) == nil)  // not yet seen spelled this way
        guard case .hit(let shared) = cache.decide(exact: Self.full, normal: Self.normal, now: now, need: 70, force: false) else {
            Issue.record("the normalized key must hit"); return
        }
        #expect(shared.value == "A")
        #expect(cache.lookup(Self.full, now: now, need: 70)?.value == "A")
        // A forced refresh always fetches, and what it gets replaces the token of every spelling.
        guard case .lead(owner: false) = cache.decide(exact: Self.full, normal: Self.normal, now: now, need: 70, force: true) else {
            Issue.record("force must fetch"); return
        }
        cache.finish(exact: Self.full, normal: Self.normal, result: .success(Self.token("B", expiresIn: 3600)), owner: false)
        #expect(cache.lookup(Self.alias, now: now, need: 70)?.value == "B")
        #expect(cache.lookup(Self.full, now: now, need: 70)?.value == "B")
    }

    @Test("a failed fetch caches nothing")
    func failureNotCached() {
        let cache = TokenCache()
        _ = cache.decide(exact: Self.alias, normal: Self.normal, now: now, need: 70, force: false)
        cache.finish(exact: Self.alias, normal: Self.normal, result: .failure(BrokerError(.locked, "vault is locked")), owner: true)
        #expect(cache.lookup(Self.alias, now: now, need: 70) == nil)
        guard case .lead(owner: true) = cache.decide(exact: Self.alias, normal: Self.normal, now: now, need: 70, force: false) else {
            Issue.record("after a failure the next caller fetches"); return
        }
    }

    @Test("concurrent misses wait for the one fetch in flight and get its result")
    func singleFlight() async {
        let cache = TokenCache()
        guard case .lead(owner: true) = cache.decide(exact: Self.alias, normal: Self.normal, now: now, need: 70, force: false) else {
            Issue.record("the first miss leads"); return
        }
        guard case .follow = cache.decide(exact: Self.full, normal: Self.normal, now: now, need: 70, force: false) else {
            Issue.record("a second miss follows"); return
        }
        // A caller that needs the token longer than the leader asked for fetches on its own.
        guard case .lead(owner: false) = cache.decide(exact: Self.full, normal: Self.normal, now: now, need: 700, force: false) else {
            Issue.record("a longer minValid does not follow"); return
        }
        async let followers = withTaskGroup(of: String?.self) { group in
            for _ in 0..<10 {
                group.addTask { try? await cache.join(Self.normal)?.get().value }
            }
            return await group.reduce(into: [String?]()) { $0.append($1) }
        }
        // Let the followers queue up, then finish the flight.
        while cache.waiterCount(Self.normal) < 10 { await Task.yield() }
        // The caller that fetched on its own ends no one's wait.
        cache.finish(exact: Self.full, normal: Self.normal, result: .success(Self.token("L", expiresIn: 3600)), owner: false)
        #expect(cache.waiterCount(Self.normal) == 10)
        cache.finish(exact: Self.alias, normal: Self.normal, result: .success(Self.token("A", expiresIn: 3600)), owner: true)
        #expect(await followers == Array(repeating: "A", count: 10))
        // The flight is over: joining now returns nil at once (the caller looks again).
        #expect(await cache.join(Self.normal) == nil)
    }
}
