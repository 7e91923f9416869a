internal import CSodium

/// libsodium's one-time initialisation. `sodium_init` is thread-safe and idempotent; this
/// wrapper turns its failure (no entropy source) into a crash, since nothing here can run
/// safely without it.
enum Sodium {
    private static let initialized: Bool = {
        sodium_init() >= 0
    }()

    static func ensureInitialized() {
        precondition(initialized, "libsodium failed to initialise (sodium_init)")
    }
}
