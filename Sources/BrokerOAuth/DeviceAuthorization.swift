/// The answer of a device authorization endpoint (RFC 8628 §3.2), validated.
public struct DeviceAuthorization: Sendable {
    public var deviceCode: String
    /// What the user types on the verification page.
    public var userCode: String
    /// The page to open (Google calls the member `verification_url`; both are read).
    public var verificationURI: String
    public var verificationURIComplete: String?
    /// Seconds the codes stay valid, 1 ... 86 400.
    public var expiresIn: Int
    /// Seconds between polls: the provider's `interval` (0 ... 3600), 5 when it sent none.
    public var interval: Int

    public init(deviceCode: String, userCode: String, verificationURI: String, verificationURIComplete: String?, expiresIn: Int, interval: Int) {
        self.deviceCode = deviceCode
        self.userCode = userCode
        self.verificationURI = verificationURI
        self.verificationURIComplete = verificationURIComplete
        self.expiresIn = expiresIn
        self.interval = interval
    }
}
