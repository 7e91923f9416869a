import BrokerDaemon
import Foundation
import Testing

struct GrantWarningsTests {
    let consent = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aGoogleGrantDeadSevenDaysAfterConsentPointsAtTheTestingStatus() {
        let died = consent.addingTimeInterval(7 * 86_400 + 3600)
        let w = GrantWarnings.warnings(appType: "google", dead: true, refreshTokenObtained: consent, diedAt: died, lastError: "invalid_grant", lastRefresh: nil)
        #expect(w.count == 1)
        #expect(w.first?.contains("Testing") == true)
        #expect(w.first?.contains("7 days") == true)
    }

    @Test(arguments: [2.0, 30.0])
    func otherAgesAndProvidersDoNot(days: Double) {
        let died = consent.addingTimeInterval(days * 86_400)
        #expect(GrantWarnings.warnings(appType: "google", dead: true, refreshTokenObtained: consent, diedAt: died, lastError: "x", lastRefresh: nil).isEmpty)
        #expect(GrantWarnings.warnings(appType: "microsoft", dead: true, refreshTokenObtained: consent, diedAt: consent.addingTimeInterval(7 * 86_400), lastError: "x", lastRefresh: nil).isEmpty)
    }

    @Test func aFailureAfterTheLastRefreshIsReported() {
        let w = GrantWarnings.warnings(appType: "google", dead: false, refreshTokenObtained: consent, diedAt: consent.addingTimeInterval(100),
                                       lastError: "the provider did not answer", lastRefresh: consent.addingTimeInterval(50))
        #expect(w == ["the last refresh failed at 2027-01-15T08:01:40Z: the provider did not answer"])
        #expect(GrantWarnings.warnings(appType: "google", dead: false, refreshTokenObtained: consent, diedAt: consent.addingTimeInterval(100),
                                       lastError: "old", lastRefresh: consent.addingTimeInterval(200)).isEmpty)
    }
}
