/// A mailbox: an address and an optional display name (any script).
public struct MailAddress: Sendable, Hashable {
    /// `local@domain`, ASCII (write an internationalized domain in its punycode form).
    public var email: String
    public var name: String?

    public init(_ email: String, name: String? = nil) {
        self.email = email
        self.name = name
    }
}
