// swift-tools-version: 6.1
import PackageDescription

/// Swift 6 language mode everywhere; `ExistentialAny` so every existential is spelled `any`.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "steward",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "steward", targets: ["steward"]),
        .library(name: "StewardPolicy", targets: ["StewardPolicy"]),
        .library(name: "StewardConfig", targets: ["StewardConfig"]),
        .library(name: "StewardServer", targets: ["StewardServer"]),
        .library(name: "StewardDNSWire", targets: ["StewardDNSWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.30.0"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.14.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.25.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
    ],
    targets: [
        .executableTarget(
            name: "steward",
            dependencies: ["StewardCLI"],
            swiftSettings: strict
        ),
        .target(
            name: "StewardCLI",
            dependencies: [
                "StewardServer", "StewardConfig", "StewardStore", "StewardPolicy", "StewardActivity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "StewardServer",
            dependencies: [
                "StewardConfig", "StewardPolicy", "StewardDNS", "StewardDNSWire", "StewardActivity", "StewardStore",
                "StewardProxy", "StewardWeb",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "StewardConfig",
            dependencies: [
                "StewardPolicy",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(name: "StewardPolicy", swiftSettings: strict),
        // recvmmsg/sendmmsg for the DNS server's batched UDP loop, epoll/eventfd for the proxy's tunnel
        // relay (Linux; Glibc does not expose them).
        .target(name: "CStewardSystem"),
        .target(
            name: "StewardDNSWire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .target(
            name: "StewardDNS",
            dependencies: [
                "StewardDNSWire", "StewardPolicy", "StewardActivity", "CStewardSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "StewardProxy",
            dependencies: [
                "StewardPolicy", "StewardActivity", "CStewardSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "StewardWeb",
            dependencies: [
                "StewardPolicy", "StewardStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "StewardStore",
            dependencies: [
                "StewardActivity", "StewardPolicy",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "StewardActivity",
            dependencies: [
                "StewardPolicy",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(name: "StewardTestSupport", path: "Tests/StewardTestSupport", swiftSettings: strict),
        .testTarget(
            name: "StewardPolicyTests",
            dependencies: ["StewardPolicy"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StewardDNSWireTests",
            dependencies: ["StewardDNSWire", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StewardDNSTests",
            dependencies: [
                "StewardDNS", "StewardDNSWire", "StewardServer", "StewardConfig", "StewardPolicy", "StewardStore",
                "StewardActivity", "StewardTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StewardStoreTests",
            dependencies: [
                "StewardStore", "StewardActivity", "StewardPolicy", "StewardConfig", "StewardTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StewardProxyTests",
            dependencies: [
                "StewardProxy", "StewardServer", "StewardConfig", "StewardPolicy", "StewardActivity", "StewardStore",
                "StewardTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StewardWebTests",
            dependencies: [
                "StewardWeb", "StewardServer", "StewardConfig", "StewardPolicy", "StewardStore", "StewardTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StewardConfigTests",
            dependencies: ["StewardConfig", "StewardServer", "StewardPolicy", "StewardTestSupport"],
            swiftSettings: strict
        ),
    ]
)
