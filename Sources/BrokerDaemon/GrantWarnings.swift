import BrokerWire
package import FoundationEssentials

/// What `status` warns about a grant. Pure, so it is tested without a provider.
package enum GrantWarnings {
    /// - `diedAt`: when the grant's last failure was recorded (for a dead grant, when the
    ///   provider refused its refresh token).
    package static func warnings(appType: String, dead: Bool, refreshTokenObtained: Date?, diedAt: Date?, lastError: String?, lastRefresh: Date?) -> [String] {
        var out: [String] = []
        // Google's "Testing" publishing status: refresh tokens expire 7 days after consent.
        if dead, appType == "google", let obtained = refreshTokenObtained, let died = diedAt {
            let days = died.timeIntervalSince(obtained) / 86_400
            if days >= 6.5 && days <= 8 {
                out.append("the refresh token died about 7 days after consent: a Google OAuth app in \"Testing\" publishing status issues refresh tokens that expire after 7 days; publish the app (OAuth consent screen) and log in again (docs/oauth-setup.md)")
            }
        }
        if !dead, let lastError, let at = diedAt, at > (lastRefresh ?? .distantPast) {
            out.append("the last refresh failed at \(RFC3339.string(at)): \(lastError)")
        }
        return out
    }
}
