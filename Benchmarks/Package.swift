// swift-tools-version: 6.1
import PackageDescription

// Hot-path benchmarks for Steward (list compilation, `decide`, the DNS cache hit), kept in their own package so the
// main package does not depend on ordo-one/benchmark. Run from this directory:
//     swift package --disable-sandbox benchmark
let package = Package(
    name: "StewardBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "steward", path: ".."),
        // `MallocInterposer` alone: turns off the default `RuntimeInterposer` trait, whose
        // swift-runtime-interposer dependency is not available here.
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.0", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
    ],
    targets: [
        .executableTarget(
            name: "StewardBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "StewardPolicy", package: "steward"),
                .product(name: "StewardConfig", package: "steward"),
                // StewardDNS (the filter and cache) is built as part of StewardServer.
                .product(name: "StewardServer", package: "steward"),
                .product(name: "StewardDNSWire", package: "steward"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/StewardBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
