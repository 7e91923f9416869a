public import FoundationEssentials

/// The Retry-After header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. One reader
/// for every place that honours it: the daemon's token responses and the client libraries'
/// API answers (pure: BrokerCore links no crypto).
public enum RetryAfter {
    /// The longest wait kept; `Backoff` caps it further.
    public static let maxSeconds = 86_400

    /// Seconds from `now`, 0 ... `maxSeconds`; nil when the value is neither form.
    public static func seconds(_ value: String, now: Date) -> Int? {
        let text = value.trimmingASCIIWhitespaceAndTabs()
        if !text.isEmpty, text.utf8.count <= 12, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            return min(Int(text) ?? maxSeconds, maxSeconds)
        }
        guard let date = httpDate(text) else { return nil }
        let delta = (date - now.timeIntervalSince1970).rounded(.up)
        guard delta > 0 else { return 0 }
        return delta >= Double(maxSeconds) ? maxSeconds : Int(delta)
    }

    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Seconds since 1970 of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), an RFC 850
    /// date (`Sunday, 06-Nov-94 08:49:37 GMT`) or an asctime date (`Sun Nov  6 08:49:37 1994`).
    static func httpDate(_ text: String) -> Double? {
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        var day: Int?, month: Int?, year: Int?, time: String?
        if words.count == 6, words[0].hasSuffix(","), words[5] == "GMT" {
            day = Int(words[1]); month = monthNumber(words[2]); year = Int(words[3]); time = words[4]
            if words[1].count != 2 || words[3].count != 4 { return nil }
        } else if words.count == 4, words[0].hasSuffix(","), words[3] == "GMT" {
            let parts = words[1].split(separator: "-").map(String.init)
            guard parts.count == 3, parts[0].count == 2, parts[2].count == 2, let yy = Int(parts[2]) else { return nil }
            day = Int(parts[0]); month = monthNumber(parts[1]); year = yy < 70 ? 2000 + yy : 1900 + yy; time = words[2]
        } else if words.count == 5 {
            month = monthNumber(words[1]); day = Int(words[2]); time = words[3]; year = Int(words[4])
            if words[4].count != 4 { return nil }
        } else {
            return nil
        }
        guard let day, let month, let year, let time, (1...31).contains(day), (1970...9999).contains(year) else { return nil }
        let hms = time.split(separator: ":").map { Int($0) }
        guard hms.count == 3, let h = hms[0], let m = hms[1], let s = hms[2], (0...23).contains(h), (0...59).contains(m), (0...60).contains(s) else {
            return nil
        }
        return Double(daysFromCivil(year: year, month: month, day: day) * 86_400 + h * 3600 + m * 60 + s)
    }

    static func monthNumber(_ name: String) -> Int? {
        months.firstIndex(of: name.lowercased()).map { $0 + 1 }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

extension String {
    package func trimmingASCIIWhitespaceAndTabs() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
