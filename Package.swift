// swift-tools-version:6.2
import PackageDescription

/// Every target of ours: Swift 6 mode, strict memory safety (so `unsafe` is visible and
/// confined to the modules that touch C), and imports internal unless marked `public`.
let strictSettings: [SwiftSetting] = [
    .strictMemorySafety(),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "credbroker",
    products: [
        .executable(name: "credbroker", targets: ["credbroker"]),
        .executable(name: "credbrokerd", targets: ["credbrokerd"]),
        .executable(name: "credbroker-bench", targets: ["credbroker-bench"]),
        // The client libraries agents link (docs/client-library.md): none of them links the
        // vault or the crypto modules.
        .library(name: "CredBrokerClient", targets: ["CredBrokerClient"]),
        .library(name: "GoogleAPIs", targets: ["GoogleAPIs"]),
        .library(name: "MicrosoftGraph", targets: ["MicrosoftGraph"]),
        .executable(name: "daily-brief", targets: ["daily-brief"]),
        .executable(name: "assistant", targets: ["assistant"]),
        // libFuzzer targets under Fuzz/ (docs/testing.md, "Fuzzing"); not installed.
        .executable(name: "credbroker-fuzz", targets: ["credbroker-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Metrics (docs/spec/api.md, "Metrics"): the daemon counts through swift-metrics'
        // API into a swift-prometheus registry of its own. Only BrokerDaemon links them.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // One system-library module per C library; each has exactly one Swift importer.
        .systemLibrary(
            name: "CSodium", pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),

        .target(
            name: "BrokerCrypto", dependencies: ["CSodium", "COpenSSL"],
            swiftSettings: strictSettings),
        .target(name: "CSystemShims"),
        .target(
            name: "BrokerSystem",
            dependencies: ["BrokerCrypto", "BrokerWire", "CSystemShims"],
            swiftSettings: strictSettings),
        .target(
            name: "BrokerVault", dependencies: ["BrokerCore", "BrokerCrypto", "BrokerSystem", "CSQLite"],
            swiftSettings: strictSettings),
        // Pure values and decisions: scopes and aliases, policies, errors. No I/O, no clock.
        .target(name: "BrokerCore", swiftSettings: strictSettings),
        // The socket API's request and response types, error codes and HTTP framing
        // (docs/spec/api.md), shared by the daemon, the CLI and the client libraries.
        .target(
            name: "BrokerWire",
            dependencies: ["BrokerCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings),
        .target(
            name: "BrokerDaemon",
            dependencies: [
                "BrokerCore", "BrokerWire", "BrokerCrypto", "BrokerSystem", "BrokerVault", "BrokerHTTP", "BrokerOAuth",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings),
        // The offline emulator of Google's, Microsoft's and Zoom's OAuth and APIs
        // (docs/sandbox.md). Shares nothing with the OAuth client code it tests.
        .target(
            name: "BrokerSandbox",
            dependencies: [
                "BrokerCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings),
        .target(
            name: "BrokerCLI",
            dependencies: [
                "BrokerCore", "BrokerWire", "BrokerCrypto", "BrokerSystem", "BrokerVault",
                "BrokerSandbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings),

        // Helpers for tests: temporary directories, subprocesses, built-product lookup.
        .target(name: "BrokerTesting", swiftSettings: strictSettings),

        // Outbound HTTP (docs/spec/api.md is inbound): the HTTPTransport interface and its
        // libcurl implementation. The only importer of CCurl.
        .target(name: "BrokerHTTP", dependencies: ["CCurl"], swiftSettings: strictSettings),

        // The OAuth client: provider descriptors (Google, Microsoft, Zoom, generic) and flows
        // (docs/spec/oauth.md). Speaks to providers only through BrokerHTTP's HTTPTransport.
        .target(
            name: "BrokerOAuth", dependencies: ["BrokerCore", "BrokerCrypto", "BrokerHTTP"],
            swiftSettings: strictSettings),

        // The client side of the socket API for agents: tokens from credbrokerd, cached in
        // process, over a kept-alive connection. Links neither BrokerVault nor BrokerCrypto.
        .target(
            name: "CredBrokerClient",
            dependencies: [
                "BrokerCore", "BrokerWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings),
        // What the provider wrappers share: the request executor (rate limit, retries, one
        // refresh on 401, response cache), typed API errors, paging.
        .target(
            name: "APIClientCore", dependencies: ["BrokerCore", "CredBrokerClient", "BrokerHTTP"],
            swiftSettings: strictSettings),
        .target(
            name: "GoogleAPIs", dependencies: ["APIClientCore", "CredBrokerClient", "BrokerHTTP"],
            swiftSettings: strictSettings),
        .target(
            name: "MicrosoftGraph", dependencies: ["APIClientCore", "CredBrokerClient", "BrokerHTTP"],
            swiftSettings: strictSettings),
        // The example agents: they use only the public client libraries.
        .executableTarget(
            name: "daily-brief",
            dependencies: [
                "CredBrokerClient", "GoogleAPIs", "MicrosoftGraph",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Examples/daily-brief", swiftSettings: strictSettings),
        .executableTarget(
            name: "assistant",
            dependencies: [
                "CredBrokerClient", "GoogleAPIs", "MicrosoftGraph",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Examples/assistant", swiftSettings: strictSettings),

        .executableTarget(
            name: "credbroker", dependencies: ["BrokerCLI"], swiftSettings: strictSettings),
        .executableTarget(
            name: "credbrokerd",
            dependencies: [
                "BrokerDaemon", "BrokerCore", "BrokerSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings),
        // What the daemon's stack alone costs in memory: the libraries credbrokerd loads,
        // started, and nothing else (the socket bench's memory floor, issue 3).
        .executableTarget(
            name: "credbroker-memory-floor",
            dependencies: [
                "CCurl", "COpenSSL", "CSQLite", "CSodium",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "credbroker-bench",
            dependencies: [
                "BrokerCrypto", "BrokerSystem", "BrokerVault", "BrokerWire", "BrokerHTTP", "BrokerSandbox", "CredBrokerClient",
                // `library`: GoogleAPIs' overhead over raw HTTP (issue 6).
                "APIClientCore", "GoogleAPIs",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings),

        // Drives one vault operation from the command line so the crash tests can kill it
        // at every write, fsync and rename (strace fault injection), and so the README demo
        // can store and read back a record before the daemon exists. Not installed.
        .executableTarget(
            name: "vault-harness",
            dependencies: ["BrokerCrypto", "BrokerSystem", "BrokerVault"],
            path: "Tests/VaultHarness",
            swiftSettings: strictSettings),

        // Fuzzing (docs/testing.md, "Fuzzing"): the targets' entry functions, shared by the
        // fuzzer and the corpus tests, and the one executable that runs them under libFuzzer
        // (scripts/fuzz.sh builds it with coverage instrumentation and AddressSanitizer) or,
        // in the ordinary build, replays inputs. CLibFuzzer reaches LLVMFuzzerRunDriver only
        // in the fuzz build.
        .target(name: "CLibFuzzer", path: "Fuzz/Sources/CLibFuzzer"),
        .target(
            name: "FuzzTargets",
            dependencies: [
                "BrokerCLI", "BrokerCore", "BrokerCrypto", "BrokerDaemon", "BrokerHTTP", "BrokerOAuth", "BrokerVault", "BrokerWire",
                "APIClientCore", "GoogleAPIs", "MicrosoftGraph",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Fuzz/Sources/FuzzTargets", swiftSettings: strictSettings),
        .executableTarget(
            name: "credbroker-fuzz", dependencies: ["FuzzTargets", "CLibFuzzer"],
            path: "Fuzz/Sources/credbroker-fuzz", swiftSettings: strictSettings),

        // The test beds the daemon's and the client libraries' tests share: the real
        // credbrokerd on a temporary directory (TestDaemon) and the sandbox plus daemon
        // (OAuthBed). A library under Tests/, linked only by test targets.
        .target(
            name: "BrokerTestBed",
            dependencies: ["BrokerHTTP", "BrokerSandbox", "BrokerSystem", "BrokerTesting", "BrokerWire"],
            path: "Tests/BrokerTestBed", swiftSettings: strictSettings),

        .testTarget(
            name: "BrokerCryptoTests", dependencies: ["BrokerCrypto", "BrokerSystem", "BrokerTesting"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "BrokerVaultTests",
            dependencies: ["BrokerCrypto", "BrokerSystem", "BrokerVault", "BrokerTesting"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "BrokerCLITests", dependencies: ["BrokerCLI", "BrokerCore", "BrokerWire", "BrokerSystem", "BrokerTesting", "BrokerVault"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "BrokerCoreTests", dependencies: ["BrokerCore", "BrokerWire"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "BrokerDaemonTests",
            dependencies: [
                "BrokerCore", "BrokerWire", "BrokerSystem", "BrokerDaemon", "BrokerTesting", "BrokerHTTP", "BrokerSandbox",
                "BrokerTestBed", "BrokerVault", "BrokerCrypto", "FuzzTargets",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings),
        .testTarget(
            name: "BrokerHTTPTests", dependencies: ["BrokerHTTP", "BrokerTesting"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "BrokerOAuthTests",
            dependencies: ["BrokerOAuth", "BrokerCore", "BrokerCrypto", "BrokerHTTP", "BrokerSandbox", "BrokerTesting"],
            swiftSettings: strictSettings),
        // The client libraries against `credbroker sandbox` through a real credbrokerd.
        .testTarget(
            name: "ClientLibraryTests",
            dependencies: [
                "CredBrokerClient", "APIClientCore", "GoogleAPIs", "MicrosoftGraph",
                "BrokerCore", "BrokerWire", "BrokerHTTP", "BrokerSandbox", "BrokerSystem", "BrokerTesting", "BrokerTestBed",
            ],
            swiftSettings: strictSettings),
        .testTarget(
            name: "BrokerSandboxTests",
            dependencies: ["BrokerSandbox", "BrokerCrypto", "BrokerSystem", "BrokerTesting"],
            swiftSettings: strictSettings),
    ]
)
