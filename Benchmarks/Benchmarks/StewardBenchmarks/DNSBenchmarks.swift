// DNS hot paths: a cache hit answered by the filter's fast path (preview, decide, cache lookup,
// copy of the encoded answer), and encoding an answer the way the general path does.
//
// `StewardDNS` is not a product of the main package; it is built as a dependency of
// `StewardServer` and imported from there.

import Benchmark
import NIOCore
import NIOPosix
import StewardDNS
import StewardDNSWire
import StewardPolicy

/// A filter with a cache holding one answer (two A records) for `www.example.com`, a snapshot that
/// allows everything for 127.0.0.0/8, and a query for that name with EDNS, as dig sends it.
struct CacheHitCase {
    let filter: DNSFilter
    let snapshot: PolicySnapshot
    let packet: ByteBuffer
    let client = IPAddress("127.0.0.1")!
    let eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()
    let response: DNSMessage

    /// Fails if the filter does not answer from the cache at once.
    static func make() throws -> CacheHitCase {
        var definition = PolicyDefinition()
        definition.groups = [GroupDefinition(id: "everyone", name: "Everyone")]
        definition.zones = [
            ZoneDefinition(id: "loopback", networks: [IPNetwork("127.0.0.0/8")!], defaultGroup: "everyone")
        ]
        let snapshot: PolicySnapshot
        switch PolicySnapshot.compile(definition, lists: ListCompiler()) {
        case .success(let compiled): snapshot = compiled
        case .failure(let error): throw BenchmarkSetupError(description: "policy does not compile: \(error)")
        }
        let question = DNSQuestion(name: try DNSName("www.example.com"), type: .A)
        var response = DNSMessage(header: DNSHeader(id: 1, qr: true, rd: true, ra: true), questions: [question])
        response.addAnswer(.a(question.name, ttl: 3600, DNSIPv4Address(192, 0, 2, 1)))
        response.addAnswer(.a(question.name, ttl: 3600, DNSIPv4Address(192, 0, 2, 2)))
        let cache = DNSCache()
        guard cache.store(response, for: question, now: .now()) else {
            throw BenchmarkSetupError(description: "the answer was not cached")
        }
        let filter = DNSFilter(
            configuration: DNSFilter.Configuration(), identities: ClientIdentities(), cache: cache,
            upstream: NoUpstream(), recorder: nil)
        let query = DNSMessage(
            header: DNSHeader(id: 0x1234, rd: true), questions: [question],
            edns: EDNS(udpPayloadSize: 1232, dnssecOK: false))
        let hit = CacheHitCase(filter: filter, snapshot: snapshot, packet: query.encoded(), response: response)
        guard case .respond = hit.answer() else { throw BenchmarkSetupError(description: "no immediate answer") }
        return hit
    }

    func answer() -> DNSFilter.Outcome {
        filter.handle(packet, from: client, transport: .udp, snapshot: snapshot, eventLoop: eventLoop)
    }
}

/// Never called: every query of the benchmark is answered from the cache.
struct NoUpstream: DNSUpstream {
    func forward(_ query: DNSMessage, on eventLoop: any EventLoop) -> EventLoopFuture<ForwardedAnswer> {
        eventLoop.makeFailedFuture(BenchmarkSetupError(description: "forwarded"))
    }
}

func dnsBenchmarks() {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal, .instructions],
        timeUnits: .nanoseconds,
        warmupIterations: 1_000,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000,
        thresholds: [
            .wallClock: .init(relative: [.p90: 50]),
            .mallocCountTotal: .init(relative: [.p90: 10]),
            .instructions: .init(relative: [.p90: 10]),
        ]
    )
    Benchmark("DNS cache hit (fast path)", configuration: configuration) { benchmark, hit in
        for _ in benchmark.scaledIterations {
            blackHole(hit.answer())
        }
    } setup: {
        try CacheHitCase.make()
    }
    Benchmark("DNS encode answer (general path)", configuration: configuration) { benchmark, hit in
        for _ in benchmark.scaledIterations {
            blackHole(hit.response.encoded(maxSize: 1232))
        }
    } setup: {
        try CacheHitCase.make()
    }
}
