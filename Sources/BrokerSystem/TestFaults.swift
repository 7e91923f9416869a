import Glibc

/// Crash points for the refresh crash tests (docs/testing.md): when the daemon was started
/// with `CREDBROKERD_TEST_CRASH_AT=POINT` (before-send, after-response, after-commit), it
/// kills itself with SIGKILL on reaching POINT, exactly as an outside kill at that instant
/// would. Without the variable nothing happens. It can only make the daemon stop, which
/// whoever sets its environment can do anyway.
public enum TestFaults {
    private static let armed: String? = {
        guard let value = getenv("CREDBROKERD_TEST_CRASH_AT") else { return nil }
        return unsafe String(cString: value)
    }()

    public static func crashIfArmed(_ point: String) {
        guard let armed, armed == point else { return }
        kill(getpid(), SIGKILL)
    }
}
