import Foundation

/// A contact (People API v1 `Person`), with the fields people use. Every field is optional;
/// fields this type does not know are ignored.
public struct Person: Codable, Sendable, Hashable {
    /// The fields `GooglePeople.connections` asks for by default.
    public static let defaultFields = ["names", "emailAddresses", "phoneNumbers", "birthdays", "organizations"]

    public struct Name: Codable, Sendable, Hashable {
        public var displayName: String?
        public var givenName: String?
        public var familyName: String?
        public var middleName: String?
        public var displayNameLastFirst: String?
        public var unstructuredName: String?

        public init(givenName: String? = nil, familyName: String? = nil, displayName: String? = nil) {
            self.givenName = givenName
            self.familyName = familyName
            self.displayName = displayName
        }
    }

    public struct EmailAddress: Codable, Sendable, Hashable {
        public var value: String?
        /// `home`, `work`, `other` or a custom label.
        public var type: String?
        public var formattedType: String?
        public var displayName: String?

        public init(_ value: String, type: String? = nil) {
            self.value = value
            self.type = type
        }
    }

    public struct PhoneNumber: Codable, Sendable, Hashable {
        public var value: String?
        /// E.164 when Google could work it out.
        public var canonicalForm: String?
        /// `mobile`, `home`, `work`, ...
        public var type: String?
        public var formattedType: String?

        public init(_ value: String, type: String? = nil) {
            self.value = value
            self.type = type
        }
    }

    /// A date whose year (or month and day) may be unknown.
    public struct PartialDate: Codable, Sendable, Hashable {
        public var year: Int?
        public var month: Int?
        public var day: Int?

        public init(year: Int? = nil, month: Int, day: Int) {
            self.year = year
            self.month = month
            self.day = day
        }
    }

    public struct Birthday: Codable, Sendable, Hashable {
        public var date: PartialDate?
        /// A free-form birthday, when Google has no structured date.
        public var text: String?

        public init(_ date: PartialDate) { self.date = date }
    }

    public struct Organization: Codable, Sendable, Hashable {
        public var name: String?
        public var title: String?
        public var department: String?

        public init(name: String, title: String? = nil) {
            self.name = name
            self.title = title
        }
    }

    /// `people/c123…`; set by Google.
    public var resourceName: String?
    /// The version Google last returned; `update` needs the current one.
    public var etag: String?
    public var names: [Name]?
    public var emailAddresses: [EmailAddress]?
    public var phoneNumbers: [PhoneNumber]?
    public var birthdays: [Birthday]?
    public var organizations: [Organization]?

    public init(
        names: [Name]? = nil, emailAddresses: [EmailAddress]? = nil, phoneNumbers: [PhoneNumber]? = nil, birthdays: [Birthday]? = nil,
        organizations: [Organization]? = nil
    ) {
        self.names = names
        self.emailAddresses = emailAddresses
        self.phoneNumbers = phoneNumbers
        self.birthdays = birthdays
        self.organizations = organizations
    }

    /// The first name's display name, else given and family name joined.
    public var displayName: String? {
        guard let name = names?.first else { return nil }
        if let display = name.displayName, !display.isEmpty { return display }
        let joined = [name.givenName, name.familyName].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        return joined.isEmpty ? nil : joined
    }

    /// The first email address.
    public var email: String? { emailAddresses?.first?.value }

    /// The first structured birthday.
    public var birthday: PartialDate? { birthdays?.lazy.compactMap(\.date).first }
}
