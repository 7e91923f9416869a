public import Foundation

/// An Outlook contact (Graph's `contact`). Every property is optional; nil ones are not
/// sent (so a value with one field set is a PATCH of that field), unknown fields in answers
/// are ignored.
public struct GraphContact: Codable, Sendable, Hashable {
    /// Set by Graph; leave nil when creating.
    public var id: String?
    public var givenName: String?
    public var surname: String?
    public var displayName: String?
    public var emailAddresses: [GraphEmailAddress]?
    public var businessPhones: [String]?
    public var homePhones: [String]?
    public var mobilePhone: String?
    /// A DateTimeOffset such as `1990-05-17T00:00:00Z`; Outlook writes a birthday without a
    /// year in the year 1604. See `birthdayComponents`.
    public var birthday: String?
    public var companyName: String?
    public var createdDateTime: String?
    public var lastModifiedDateTime: String?

    /// A new contact or a patch: set what you need, leave the rest nil.
    public init(
        givenName: String? = nil, surname: String? = nil, displayName: String? = nil, emailAddresses: [String]? = nil,
        businessPhones: [String]? = nil, mobilePhone: String? = nil, birthday: DateComponents? = nil, companyName: String? = nil
    ) {
        self.givenName = givenName
        self.surname = surname
        self.displayName = displayName
        self.emailAddresses = emailAddresses?.map { GraphEmailAddress(address: $0) }
        self.businessPhones = businessPhones
        self.mobilePhone = mobilePhone
        self.birthday = birthday.flatMap(Self.birthdayText)
        self.companyName = companyName
    }

    /// The birthday's month and day, and its year when Outlook knows it (nil for 1604).
    public var birthdayComponents: DateComponents? {
        guard let birthday, birthday.count >= 10 else { return nil }
        let parts = birthday.prefix(10).split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
        return DateComponents(year: parts[0] == Self.yearlessBirthdayYear ? nil : parts[0], month: parts[1], day: parts[2])
    }

    /// The year Outlook stores for a birthday whose year nobody entered.
    static let yearlessBirthdayYear = 1604

    /// `yyyy-MM-ddT00:00:00Z` from month, day and an optional year.
    static func birthdayText(_ components: DateComponents) -> String? {
        guard let month = components.month, let day = components.day else { return nil }
        let year = components.year ?? yearlessBirthdayYear
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T00:00:00Z"
    }
}
