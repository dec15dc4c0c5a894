import NIOCore
import NIOPosix
import StewardDNSWire
import StewardPolicy
import Testing

@testable import StewardDNS

/// Cache hits on the fast path copy the cached answer's encoded sections after the query's header
/// and question; they must say exactly what the general path says, and leave to it every case it
/// handles differently.
@Suite struct CacheHitFastPathTests {
    static let client = IPAddress("127.0.0.1")!

    struct Setup {
        let filter: DNSFilter
        let cache: DNSCache
        let snapshot: PolicySnapshot
    }

    static func setup() throws -> Setup {
        let cache = DNSCache()
        let filter = DNSFilter(
            configuration: DNSFilter.Configuration(), identities: ClientIdentities(), cache: cache,
            upstream: FastPathTests.NoUpstream(), recorder: nil)
        return Setup(filter: filter, cache: cache, snapshot: try FastPathTests.snapshot())
    }

    static func query(_ name: String, type: DNSRecordType = .A, id: UInt16 = 0xBEEF, edns: EDNS? = nil) throws
        -> DNSMessage
    {
        DNSMessage(
            header: DNSHeader(id: id, rd: true), questions: [DNSQuestion(name: try DNSName(name), type: type)],
            edns: edns)
    }

    /// The fast path's answer to `query`, or nil when it declines.
    static func fast(_ query: DNSMessage, _ setup: Setup, transport: DNSFilter.Transport = .udp) throws -> ByteBuffer? {
        let packet = query.encoded()
        let preview = try #require(DNSQueryPreview(packet), "the query must qualify for the fast path")
        var response = ByteBuffer()
        let answered = setup.filter.fastAnswer(
            packet, preview: preview, client: client, zone: setup.snapshot.zone(for: client), transport: transport,
            snapshot: setup.snapshot, started: .now(), into: &response
        ).answered
        #expect(answered || response.readableBytes == 0, "a declined fast path writes nothing")
        return answered ? response : nil
    }

    /// What the general path encodes for a cache hit (before the policy checks, which pass here).
    static func general(_ query: DNSMessage, _ setup: Setup) throws -> ByteBuffer {
        let response = try #require(
            setup.cache.cachedResponse(to: query, question: query.questions[0], now: .now()))
        return response.encoded(maxSize: query.maxResponseSize)
    }

    @Test(arguments: [nil, EDNS(udpPayloadSize: 4096, dnssecOK: false), EDNS(udpPayloadSize: 1400, dnssecOK: true)])
    func aPositiveHitIsByteForByteWhatTheGeneralPathEncodes(_ edns: EDNS?) throws {
        let setup = try Self.setup()
        let question = try CacheTests.question("www.example.com")
        let query = try Self.query("www.example.com", edns: edns)
        // Stored as the answer to a query like this one (a DO query has answers of its own).
        setup.cache.store(
            try CacheTests.positive(question, ttls: [300, 300]), for: question, variant: DNSCacheKey.variant(of: query),
            now: .now())

        let fast = try #require(try Self.fast(query, setup))
        #expect(Array(fast.readableBytesView) == Array(try Self.general(query, setup).readableBytesView))
        #expect(setup.filter.metrics.cacheHits.load(ordering: .relaxed) == 1)
        #expect(setup.filter.metrics.allowed.load(ordering: .relaxed) == 1)
    }

    @Test func aNegativeHitIsByteForByteWhatTheGeneralPathEncodes() throws {
        let setup = try Self.setup()
        let question = try CacheTests.question("nothing.example.com", type: .AAAA)
        setup.cache.store(
            try CacheTests.negative(question, rcode: .nxDomain, soaTTL: 900, minimum: 300), for: question, now: .now())
        let query = try Self.query("nothing.example.com", type: .AAAA, edns: EDNS(udpPayloadSize: 1232, dnssecOK: false))

        let fast = try #require(try Self.fast(query, setup))
        #expect(Array(fast.readableBytesView) == Array(try Self.general(query, setup).readableBytesView))
        var copy = fast
        #expect(try DNSMessage(from: &copy).rcode == .nxDomain)
    }

    @Test func aHitCarriesTheClientsIDAndLetterCaseAndTTLsCountedDown() throws {
        let setup = try Self.setup()
        let question = try CacheTests.question("www.example.com")
        setup.cache.store(
            try CacheTests.positive(question, ttls: [300, 120]), for: question, now: .now() - .seconds(30))
        let query = try Self.query("WwW.ExAmPle.CoM", id: 0x1234)

        var fast = try #require(try Self.fast(query, setup))
        let response = try DNSMessage(from: &fast)
        #expect(response.header.id == 0x1234)
        #expect(response.header.qr && response.header.rd && response.header.ra && !response.header.aa)
        #expect(!response.header.tc)
        #expect(response.rcode == .noError)
        #expect(response.questions.count == 1)
        #expect(response.questions[0].name.isIdentical(to: query.questions[0].name))
        #expect(response.answers.map(\.ttl) == [270, 90])
        #expect(response.answers.map(\.ipv4) == [DNSIPv4Address(192, 0, 2, 1), DNSIPv4Address(192, 0, 2, 2)])
        #expect(response.answers.allSatisfy { $0.name == question.name })
        #expect(response.edns == nil)

        var general = try Self.general(query, setup)
        let expected = try DNSMessage(from: &general)
        #expect(response.header == expected.header)
        #expect(response.answers == expected.answers)
    }

    @Test func aCachedAliasOfABlockedNameIsBlockedForTheAskingClient() throws {
        let setup = try Self.setup()
        let question = try CacheTests.question("alias.example")
        var response = DNSMessage(header: DNSHeader(id: 1, qr: true, rd: true, ra: true), questions: [question])
        let target = try DNSName("casino.example")
        response.addAnswer(.cname(question.name, ttl: 300, target: target))
        response.addAnswer(.a(target, ttl: 300, DNSIPv4Address(192, 0, 2, 9)))
        #expect(setup.cache.store(response, for: question, now: .now()))
        let query = try Self.query("alias.example")

        #expect(try Self.fast(query, setup) == nil, "the general path answers it")
        guard
            case .respond(var buffer) = setup.filter.handle(
                query.encoded(), from: Self.client, transport: .udp, snapshot: setup.snapshot,
                eventLoop: MultiThreadedEventLoopGroup.singleton.any())
        else {
            Issue.record("expected an immediate answer")
            return
        }
        #expect(try DNSMessage(from: &buffer).rcode == .nxDomain)
        #expect(setup.filter.metrics.blocked.load(ordering: .relaxed) == 1)
    }

    @Test func aHitTooLargeForTheClientIsLeftToTheGeneralPathWhichTruncatesIt() throws {
        let setup = try Self.setup()
        let question = try CacheTests.question("many.example")
        setup.cache.store(try CacheTests.positive(question, ttls: Array(repeating: 300, count: 40)), for: question, now: .now())
        let query = try Self.query("many.example")

        #expect(try Self.fast(query, setup) == nil)
        #expect(try Self.fast(query, setup, transport: .tcp) != nil, "over TCP it fits")
        guard
            case .respond(var buffer) = setup.filter.handle(
                query.encoded(), from: Self.client, transport: .udp, snapshot: setup.snapshot,
                eventLoop: MultiThreadedEventLoopGroup.singleton.any())
        else {
            Issue.record("expected an immediate answer")
            return
        }
        #expect(buffer.readableBytes <= 512)
        #expect(try DNSMessage(from: &buffer).header.tc)
    }

    @Test func aNameNotInTheCacheIsLeftToTheGeneralPath() throws {
        let setup = try Self.setup()
        #expect(try Self.fast(try Self.query("unknown.example"), setup) == nil)
        #expect(setup.filter.metrics.cacheHits.load(ordering: .relaxed) == 0)
    }
}
