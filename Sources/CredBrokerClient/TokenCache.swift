import Foundation
import Synchronization

/// The in-process token cache of a `BrokerClient`.
///
/// Two levels, so that a repeated call costs one lock and one dictionary probe:
/// - by the exact arguments of the call (profile, provider, account as asked, the scope
///   array as given, aliases and all): the hit path, no alias expansion, no sorting;
/// - by the normalized key (the same with the scopes expanded and sorted), which several
///   spellings of one request share.
/// Both point at one `Slot`, so a forced refresh replaces the token every spelling sees.
///
/// The cache keeps a token until it has less than the caller's `minValid` plus `margin`
/// left; the daemon then refreshes (or hands out the token it refreshed in the background).
final class TokenCache: Sendable {
    struct ExactKey: Hashable {
        var profile: String
        var provider: String
        var account: String?
        var scopes: [String]
    }

    struct NormalKey: Hashable {
        var profile: String
        var provider: String
        var account: String?
        /// Expanded to full strings and sorted.
        var scopes: [String]
    }

    /// One cached token. A reference, so both levels see a replacement; only touched under
    /// the cache's lock.
    final class Slot {
        var token: AccessToken
        /// `token.expiresAt` as seconds since the reference date, for a cheap comparison.
        var expiry: Double
        init(_ token: AccessToken) {
            self.token = token
            self.expiry = token.expiresAt.timeIntervalSinceReferenceDate
        }
    }

    /// A fetch in progress for a normalized key, and who waits for it.
    struct Flight {
        /// The `minValid` (plus margin) the leader asked for: a caller needing more does not wait for it.
        var need: Double
        var waiters: [Waiter] = []
    }

    typealias Waiter = CheckedContinuation<Result<AccessToken, BrokerError>?, Never>

    struct State {
        var exact: [ExactKey: Slot] = [:]
        var normal: [NormalKey: Slot] = [:]
        var flights: [NormalKey: Flight] = [:]
    }

    /// A cached token is used while it has at least the caller's `minValid` plus this left,
    /// so a token handed out does not expire on its way to the provider.
    static let margin: Double = 10
    /// A process asks for a handful of scope sets; the bound keeps one that varies its
    /// arguments endlessly from growing without limit.
    static let maxEntries = 1024

    private let state = Mutex(State())

    /// The hit path: the token cached for these exact arguments, if it stays valid `need` more seconds.
    @inline(__always)
    func lookup(_ key: ExactKey, now: Double, need: Double) -> AccessToken? {
        state.withLock { state in
            guard let slot = state.exact[key], slot.expiry - now >= need else { return nil }
            return slot.token
        }
    }

    enum Decision {
        case hit(AccessToken)
        /// Fetch from the daemon, then call `finish`; `owner` when this fetch is the flight
        /// others may wait for.
        case lead(owner: Bool)
        /// Another task is fetching it: wait with `join`.
        case follow
    }

    /// On an exact miss: the token by normalized key (and remember the exact spelling), or
    /// who fetches it.
    func decide(exact: ExactKey, normal: NormalKey, now: Double, need: Double, force: Bool) -> Decision {
        state.withLock { state in
            if force { return .lead(owner: false) }
            if let slot = state.normal[normal], slot.expiry - now >= need {
                Self.bound(&state.exact)
                state.exact[exact] = slot
                return .hit(slot.token)
            }
            if let flight = state.flights[normal], flight.need >= need { return .follow }
            guard state.flights[normal] == nil else { return .lead(owner: false) }
            state.flights[normal] = Flight(need: need)
            return .lead(owner: true)
        }
    }

    /// Waits for the fetch of `normal` in progress; nil when it ended before we got in line
    /// (then look again).
    func join(_ normal: NormalKey) async -> Result<AccessToken, BrokerError>? {
        await withCheckedContinuation { (waiter: Waiter) in
            let queued = state.withLock { state -> Bool in
                guard state.flights[normal] != nil else { return false }
                state.flights[normal]!.waiters.append(waiter)
                return true
            }
            if !queued { waiter.resume(returning: nil) }
        }
    }

    /// Stores what a fetch got (on success); an owner also wakes its waiters and ends the flight.
    func finish(exact: ExactKey, normal: NormalKey, result: Result<AccessToken, BrokerError>, owner: Bool) {
        let waiters = state.withLock { state -> [Waiter] in
            if case .success(let token) = result {
                if let slot = state.normal[normal] {
                    slot.token = token
                    slot.expiry = token.expiresAt.timeIntervalSinceReferenceDate
                } else {
                    if state.normal.count >= Self.maxEntries {
                        let now = Date().timeIntervalSinceReferenceDate
                        state.normal = state.normal.filter { $0.value.expiry > now }
                        if state.normal.count >= Self.maxEntries { state.normal.removeAll() }
                    }
                    state.normal[normal] = Slot(token)
                }
                Self.bound(&state.exact)
                state.exact[exact] = state.normal[normal]
            }
            guard owner else { return [] }
            return state.flights.removeValue(forKey: normal)?.waiters ?? []
        }
        for waiter in waiters { waiter.resume(returning: result) }
    }

    private static func bound(_ exact: inout [ExactKey: Slot]) {
        if exact.count >= maxEntries { exact.removeAll(keepingCapacity: true) }
    }

    /// How many callers wait for the fetch of `normal` (tests).
    func waiterCount(_ normal: NormalKey) -> Int {
        state.withLock { $0.flights[normal]?.waiters.count ?? 0 }
    }

    /// Forgets every token (`shutdown`).
    func removeAll() {
        state.withLock { state in
            state.exact.removeAll()
            state.normal.removeAll()
        }
    }
}
