import BrokerTestBed
import BrokerTesting
import BrokerWire
import Foundation
import Testing

/// Issue 7's soak: mixed load on the real daemon and the sandbox for
/// `CREDBROKER_SOAK_SECONDS` (180 in CI; the nightly long mode is 7200, docs/testing.md):
/// 64 clients asking for tokens of a Google grant and of a Microsoft grant whose refresh
/// token rotates under strict reuse detection (tokens live 60 s, so the daemon refreshes
/// in the background), some forcing a refresh; a rotate every 10 s, a lock and unlock every
/// 15 s, and the daemon SIGKILLed and restarted every 30 s. Passes with 0 lost refresh tokens
/// (a lost rotated token shows as a dead grant: 409) and 0 unexpected answers; refused
/// connections and `locked` answers while the daemon is down or locked are expected and
/// counted. Prints the daemon's RSS growth within each life (recorded in
/// docs/benchmarks.md, not asserted: memory is a benchmark's figure).
@Suite("soak", .serialized)
struct SoakTests {
    static var seconds: Double {
        ProcessInfo.processInfo.environment["CREDBROKER_SOAK_SECONDS"].flatMap(Double.init) ?? 180
    }
    static let clients = 64
    static let requests: [String] = [
        #"{"profile":"dev","provider":"google","scopes":["https://www.googleapis.com/auth/calendar.readonly"]}"#,
        #"{"profile":"dev","provider":"microsoft","scopes":["https://graph.microsoft.com/Calendars.Read"]}"#,
    ]
    static let forced: [String] = [
        #"{"profile":"dev","provider":"google","scopes":["https://www.googleapis.com/auth/calendar.readonly"],"force_refresh":true}"#,
        #"{"profile":"dev","provider":"microsoft","scopes":["https://graph.microsoft.com/Calendars.Read"],"force_refresh":true}"#,
    ]

    /// What the clients saw, and when the daemon was down (guarded by `lock`).
    final class Tally: @unchecked Sendable {
        let lock = NSLock()
        var ok = 0, locked = 0, refused = 0
        var unexpected: [String] = []
        var lost: [String] = []
        /// False from just before a kill until the restarted daemon is unlocked, plus 2 s.
        var settledSince: Date? = Date()
        var stop = false

        @discardableResult
        func record<T>(_ body: (Tally) -> T) -> T { lock.lock(); defer { lock.unlock() }; return body(self) }
        var isSettled: Bool { lock.lock(); defer { lock.unlock() }; return settledSince.map { Date().timeIntervalSince($0) > 2 } ?? false }
        var stopped: Bool { lock.lock(); defer { lock.unlock() }; return stop }
    }

    @Test("mixed load, rotate, lock and unlock, and a kill every 30 s: no lost refresh token, no unexpected answer")
    func soak() async throws {
        let config = "[limits]\nrequests_per_second_per_uid = 1000000\nburst_per_uid = 1000000\nmax_connections_per_uid = 100000\n"
        try await onOwnThread {
            try await OAuthBed.with(strict: true, config: config) { bed in try await Self.run(bed) }
        }
    }

    static func run(_ bed: OAuthBed) async throws {
        let d = bed.daemon
        try await offload {
            try bed.setupGoogleDesktop()
            try bed.setupMicrosoft()
        }
        try await bed.apiLogin("google")
        try await bed.apiLogin("microsoft")
        try await bed.control("POST", "settings", #"{"access_token_lifetime": 60}"#)
        try await bed.control("DELETE", "counters")

        let tally = Tally()
        let deadline = Date().addingTimeInterval(seconds)
        let finished = DispatchGroup()
        for client in 0..<clients {
            finished.enter()
            let thread = Thread {
                defer { finished.leave() }
                var round = 0
                while !tally.stopped && Date() < deadline {
                    round += 1
                    let which = (client + round) % 2
                    let body = round % 50 == 0 ? forced[which] : requests[which]
                    let settled = tally.isSettled
                    do {
                        let answer = try d.request("POST", "/v1/token", json: body)
                        let code = (try? JSONDecoder().decode(ErrorBody.self, from: Data(answer.body)))?.error.code.rawValue
                        tally.record { t in
                            switch (answer.status, code) {
                            case (200, _): t.ok += 1
                            case (_, "locked"), (_, "uninitialized"): t.locked += 1
                            case (_, "reauth_required"): t.lost.append(answer.text)
                            default: t.unexpected.append("\(answer.status) \(answer.text)")
                            }
                        }
                    } catch {
                        tally.record { t in
                            if settled && t.settledSince != nil { t.unexpected.append("settled daemon: \(error)") } else { t.refused += 1 }
                        }
                    }
                    usleep(50_000)
                }
            }
            thread.stackSize = 512 << 10
            thread.start()
        }

        // The operator: kill every 30 s, rotate every 10 s, lock and unlock every 15 s; the
        // daemon's RSS every second.
        var lives: [[Int]] = [[]]
        var kills = 0, rotations = 0, locks = 0
        var killTimes: [Double] = []
        var second = 0
        while Date() < deadline {
            try await Task.sleep(for: .seconds(1))
            second += 1
            if let pid = d.process?.pid, let rss = Self.rssKiB(pid) { lives[lives.count - 1].append(rss) }
            if second % 30 == 0 {
                // Not on the second: the restarted daemon's first Microsoft token dates from
                // just after the previous kill's restart, and clients force a refresh once it
                // is 30 s old, which is when this loop, resumed after that restart, would
                // kill again, right inside the refresh (two of five runs lost the grant so).
                try await Task.sleep(for: .milliseconds(Int.random(in: 0..<1000)))
                tally.record { $0.settledSince = nil }
                killTimes.append(Date().timeIntervalSince1970)
                d.process?.signal(SIGKILL)
                _ = try await offload { d.process?.waitForExit(timeout: 10) }
                d.process = nil
                try await offload { try d.start() }
                let unlocked = try await offload { try d.unlock() }
                #expect(unlocked.status == 200, "unlock after the kill at \(second) s: \(unlocked.text)")
                tally.record { $0.settledSince = Date() }
                kills += 1
                lives.append([])
            } else if second % 15 == 0 {
                tally.record { $0.settledSince = nil }
                let locked = try await offload { try d.request("POST", "/v1/admin/lock") }
                #expect(locked.status == 200, "\(locked.text)")
                try await Task.sleep(for: .milliseconds(500))
                let unlocked = try await offload { try d.unlock() }
                #expect(unlocked.status == 200, "\(unlocked.text)")
                tally.record { $0.settledSince = Date() }
                locks += 1
            } else if second % 10 == 0 {
                let rotated = try await offload { try d.request("POST", "/v1/admin/rotate") }
                #expect(rotated.status == 200, "rotate at \(second) s: \(rotated.text)")
                rotations += 1
            }
        }
        tally.record { $0.stop = true }
        await withCheckedContinuation { continuation in finished.notify(queue: .global()) { continuation.resume() } }

        // A kill that lands after the provider rotated the Microsoft refresh token and
        // before the daemon committed the new one loses the grant: the window D37 documents
        // (killAroundARotatingRefresh: "recover or end in a clean reauth_required"). Such a
        // loss is told from a real one by the sandbox: the refused token was rotated out at
        // most `killWindow` before a kill. Any other loss, or any loss of the Google grant
        // (which never rotates), fails.
        let refusals = try await bed.counters()["strict_reuse_refusals"] as? [[String: Any]] ?? []
        let rotatedAt = refusals.compactMap { ($0["rotated_at"] as? NSNumber)?.doubleValue }
        let killWindow = 1.0
        let inKillWindow = !rotatedAt.isEmpty && rotatedAt.allSatisfy { at in killTimes.contains { $0 >= at && $0 - at <= killWindow } }
        let lostByKill = tally.record { t in !t.lost.isEmpty && inKillWindow && t.lost.allSatisfy { $0.contains("credbroker login microsoft ") } }
        let windows = rotatedAt.map { at in killTimes.filter { $0 >= at }.min().map { String(format: "%.0f ms", ($0 - at) * 1000) } ?? "no kill after it" }

        // After the run both grants still refresh: no refresh token was lost (or the
        // Microsoft grant answers a clean reauth_required after a loss in the kill window).
        for body in forced {
            let answer = try await offload { try d.request("POST", "/v1/token", json: body) }
            if lostByKill && body.contains("microsoft") {
                #expect(answer.status == 409 && answer.text.contains("reauth_required"), "after the soak: \(answer.text)")
            } else {
                #expect(answer.status == 200, "after the soak: \(answer.text)")
            }
        }
        let googleRefreshes = try await bed.tokenRequests(client: OAuthBed.desktopClient, grantType: "refresh_token")
        let microsoftRefreshes = try await bed.tokenRequests(client: OAuthBed.msPublic, grantType: "refresh_token")
        tally.record { t in
            #expect(t.lost.isEmpty || lostByKill,
                    "lost refresh tokens: \(t.lost.prefix(3)); reuses refused by the sandbox: \(rotatedAt.count), the next kill after each rotation: \(windows)")
            #expect(t.unexpected.isEmpty, "\(t.unexpected.count) unexpected answers: \(t.unexpected.prefix(5))")
            #expect(t.ok > clients * Int(seconds) / 2, "only \(t.ok) tokens in \(seconds) s")
        }
        #expect(kills >= Int(seconds) / 30 - 1 && rotations > 0 && locks > 0)

        // RSS within each life: from its fifth second to its last sample.
        let growths = lives.filter { $0.count >= 10 }.map { life in Double(life.last! - life[4]) / Double(life[4]) * 100 }
        let summary = growths.map { String(format: "%.1f%%", $0) }.joined(separator: " ")
        tally.record { t in
            print("soak: \(Int(seconds)) s, \(clients) clients: \(t.ok) tokens, \(t.locked) locked answers, \(t.refused) refused connections, "
                  + "\(kills) kills, \(rotations) rotations, \(locks) lock/unlock; lost refresh tokens \(t.lost.count)"
                  + (lostByKill ? " (the Microsoft grant, to a kill \(windows.joined(separator: ", ")) after the provider rotated it: the D37 window)" : "")
                  + ", unexpected \(t.unexpected.count); "
                  + "refreshes at the provider \(googleRefreshes) Google, \(microsoftRefreshes) Microsoft; RSS growth per life (5th s to last) \(summary)")
        }
    }

    static func rssKiB(_ pid: Int32) -> Int? {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
        return Int(line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    }
}
