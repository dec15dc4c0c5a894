import NIOCore
import StewardDNSWire
import Testing

@testable import StewardDNS

/// The answer cache, with explicit clock values instead of sleeping.
@Suite struct CacheTests {
    // MARK: Positive answers

    @Test func aPositiveAnswerLivesAsLongAsItsSmallestTTLCountedDownOnLookup() throws {
        let cache = DNSCache()
        let question = try Self.question("www.example.com")
        #expect(cache.store(try Self.positive(question, ttls: [300, 120]), for: question, now: Self.at(0)))

        let fresh = try #require(cache.lookup(question, now: Self.at(0)))
        #expect(fresh.rcode == .noError)
        #expect(fresh.remainingTTL == 120)
        #expect(fresh.answers.map(\.ttl) == [300, 120])

        let later = try #require(cache.lookup(question, now: Self.at(50.7)))
        #expect(later.remainingTTL == 70)
        #expect(later.answers.map(\.ttl) == [250, 70])

        #expect(cache.lookup(question, now: Self.at(119.9))?.remainingTTL == 1)
        #expect(cache.lookup(question, now: Self.at(120)) == nil)
        #expect(cache.count == 0, "an expired entry is evicted when looked up")
        #expect(cache.hits == 3)
        #expect(cache.misses == 1)
    }

    @Test(arguments: [
        // (record TTL, floor, ceiling, expected lifetime)
        (UInt32(5), UInt32(30), UInt32(86_400), UInt32(30)),
        (200_000, 0, 86_400, 86_400),
        (60, 30, 3_600, 60),
        (0, 10, 3_600, 10),
    ])
    func theFloorAndCeilingBoundEveryTTL(_ ttl: UInt32, _ minTTL: UInt32, _ maxTTL: UInt32, _ expected: UInt32) throws {
        let cache = DNSCache(minTTL: minTTL, maxTTL: maxTTL)
        let question = try Self.question("bounded.example")
        #expect(cache.store(try Self.positive(question, ttls: [ttl]), for: question, now: Self.at(0)))
        let answer = try #require(cache.lookup(question, now: Self.at(0)))
        #expect(answer.remainingTTL == expected)
        #expect(answer.answers.map(\.ttl) == [expected])
    }

    @Test func aZeroOrOutOfRangeTTLIsNotCached() throws {
        let cache = DNSCache()
        let question = try Self.question("zero.example")
        #expect(!cache.store(try Self.positive(question, ttls: [0]), for: question, now: Self.at(0)))
        // RFC 2181 8: a TTL with the top bit set counts as 0.
        #expect(!cache.store(try Self.positive(question, ttls: [0x8000_0000]), for: question, now: Self.at(0)))
        #expect(cache.count == 0)
    }

    @Test("Two names whose hashes collide share a slot: the later replaces the earlier, and neither is served for the other")
    func collidingHashesNeverAnswerTheOtherName() throws {
        var shard = DNSCacheShard(capacity: 4)
        let first = DNSCacheKey(lowercasedWire: try DNSName("a.example").wireBytes, type: .A, class: .IN, hash: 42)
        let second = DNSCacheKey(lowercasedWire: try DNSName("b.example").wireBytes, type: .A, class: .IN, hash: 42)
        let entry = { DNSCacheEntry(rcode: .noError, answers: [], authorities: [], additionals: [], storedAt: 0, ttl: 60) }
        shard.insert(first, entry(), at: 0)
        guard case .hit = shard.lookup(first, at: 1) else { Issue.record("the first name is not found"); return }
        if case .hit = shard.lookup(second, at: 1) { Issue.record("the second name got the first one's answer") }
        shard.insert(second, entry(), at: 2)
        guard case .hit = shard.lookup(second, at: 3) else { Issue.record("the second name is not found"); return }
        if case .hit = shard.lookup(first, at: 3) { Issue.record("the first name got the second one's answer") }
        #expect(shard.count == 1)
    }

    @Test func lookupsIgnoreLetterCase() throws {
        let cache = DNSCache()
        let stored = try Self.question("WWW.Example.COM")
        #expect(cache.store(try Self.positive(stored, ttls: [60]), for: stored, now: Self.at(0)))
        #expect(cache.lookup(try Self.question("www.example.com"), now: Self.at(1)) != nil)
        #expect(cache.lookup(try Self.question("wWw.eXaMpLe.cOm"), now: Self.at(1)) != nil)
        #expect(cache.lookup(try Self.question("www.example.com", type: .AAAA), now: Self.at(1)) == nil)
        #expect(cache.lookup(try Self.question("www.example.net"), now: Self.at(1)) == nil)
    }

    @Test func aCachedResponseCarriesTheClientsIDAndQuestionAndNoOPTForAClientWithoutEDNS() throws {
        let cache = DNSCache()
        let question = try Self.question("www.example.com")
        var response = try Self.positive(question, ttls: [600])
        response.edns = EDNS(udpPayloadSize: 4096, dnssecOK: true)
        let asked = DNSMessage(header: DNSHeader(id: 1, rd: true), questions: [question])
        cache.remember(response, to: asked, question: question, now: Self.at(0))

        let clientQuestion = try Self.question("WwW.eXample.com")
        let query = DNSMessage(header: DNSHeader(id: 0xCAFE, rd: true), questions: [clientQuestion])
        let built = try #require(cache.cachedResponse(to: query, question: clientQuestion, now: Self.at(10)))
        #expect(built.header.id == 0xCAFE)
        #expect(built.header.qr && built.header.rd)
        #expect(built.questions.count == 1)
        #expect(built.questions[0].name.isIdentical(to: clientQuestion.name))
        #expect(built.edns == nil)
        #expect(built.answers.map(\.ttl) == [590])
    }

    // MARK: Negative answers (RFC 2308)

    @Test(arguments: [
        // (SOA TTL, SOA MINIMUM, expected lifetime)
        (UInt32(900), UInt32(300), UInt32(300)),
        (60, 300, 60),
        (86_400, 86_400, 3_600),
    ])
    func anNXDOMAINLivesForTheSmallerOfTheSOATTLAndMinimumCappedAtTheNegativeCeiling(
        _ soaTTL: UInt32, _ minimum: UInt32, _ expected: UInt32
    ) throws {
        let cache = DNSCache()
        let question = try Self.question("missing.example.com")
        let response = try Self.negative(question, rcode: .nxDomain, soaTTL: soaTTL, minimum: minimum)
        #expect(cache.store(response, for: question, now: Self.at(0)))

        let answer = try #require(cache.lookup(question, now: Self.at(0)))
        #expect(answer.rcode == .nxDomain)
        #expect(answer.remainingTTL == expected)
        #expect(answer.answers.isEmpty)
        #expect(answer.authorities.map(\.type) == [.SOA])
        #expect(answer.authorities.map(\.ttl) == [expected], "the SOA is served with the negative TTL left")

        #expect(cache.lookup(question, now: Self.at(Double(expected) - 1))?.authorities.map(\.ttl) == [1])
        #expect(cache.lookup(question, now: Self.at(Double(expected))) == nil)
    }

    @Test func aNODATAAnswerIsCachedFromTheSOAToo() throws {
        let cache = DNSCache(negativeMaxTTL: 900)
        let question = try Self.question("ipv4only.example.com", type: .AAAA)
        let response = try Self.negative(question, rcode: .noError, soaTTL: 3_600, minimum: 1_800)
        #expect(cache.store(response, for: question, now: Self.at(0)))
        let answer = try #require(cache.lookup(question, now: Self.at(100)))
        #expect(answer.rcode == .noError)
        #expect(answer.answers.isEmpty)
        #expect(answer.remainingTTL == 800)
    }

    @Test(arguments: [DNSResponseCode.nxDomain, .noError])
    func aNegativeAnswerWithoutAnSOAIsNotCached(_ rcode: DNSResponseCode) throws {
        let cache = DNSCache()
        let question = try Self.question("nosoa.example")
        var response = try Self.negative(question, rcode: rcode, soaTTL: 300, minimum: 300)
        response.authorities = []
        #expect(!cache.store(response, for: question, now: Self.at(0)))
        #expect(cache.lookup(question, now: Self.at(0)) == nil)
    }

    // MARK: What is never cached

    @Test(arguments: [DNSResponseCode.servFail, .refused, .formErr, .notImp])
    func errorResponsesAreNotCached(_ rcode: DNSResponseCode) throws {
        let cache = DNSCache()
        let question = try Self.question("error.example")
        var response = try Self.negative(question, rcode: rcode, soaTTL: 300, minimum: 300)
        response.addAnswer(.a(question.name, ttl: 300, DNSIPv4Address(192, 0, 2, 9)))
        #expect(!cache.store(response, for: question, now: Self.at(0)))
        #expect(cache.count == 0)
    }

    @Test func aTruncatedResponseIsNotCached() throws {
        let cache = DNSCache()
        let question = try Self.question("big.example")
        var response = try Self.positive(question, ttls: [300])
        response.header.tc = true
        #expect(!cache.store(response, for: question, now: Self.at(0)))
    }

    @Test func aResponseToAnotherQuestionIsNotCached() throws {
        let cache = DNSCache()
        let question = try Self.question("asked.example")
        #expect(
            !cache.store(
                try Self.positive(try Self.question("other.example"), ttls: [300]), for: question, now: Self.at(0)))
        #expect(
            !cache.store(
                try Self.positive(try Self.question("asked.example", type: .AAAA), ttls: [300]), for: question,
                now: Self.at(0)))
        #expect(cache.count == 0)
    }

    // MARK: Size

    @Test func whenFullTheEntryNotUsedSinceTheLastSweepIsEvicted() throws {
        let cache = DNSCache(capacity: 3, shards: 1)
        let names = try ["a.example", "b.example", "c.example", "d.example"].map { try Self.question($0) }
        for question in names.prefix(3) {
            #expect(cache.store(try Self.positive(question, ttls: [300]), for: question, now: Self.at(0)))
        }
        #expect(cache.lookup(names[0], now: Self.at(1)) != nil)
        #expect(cache.lookup(names[1], now: Self.at(1)) != nil)
        #expect(cache.store(try Self.positive(names[3], ttls: [300]), for: names[3], now: Self.at(2)))

        #expect(cache.count == 3)
        #expect(cache.lookup(names[2], now: Self.at(3)) == nil, "c was never used: evicted")
        for index in [0, 1, 3] {
            #expect(cache.lookup(names[index], now: Self.at(3)) != nil)
        }
    }

    @Test func theCacheNeverHoldsMoreThanItsCapacity() throws {
        let cache = DNSCache(capacity: 64, shards: 4)
        for index in 0..<1_000 {
            let question = try Self.question("host\(index).example")
            cache.store(try Self.positive(question, ttls: [300]), for: question, now: Self.at(Double(index) / 100))
        }
        #expect(cache.count == 64)
        let recent = try Self.question("host999.example")
        #expect(cache.lookup(recent, now: Self.at(10)) != nil, "the newest entry is kept")
    }

    @Test func removeAllEmptiesTheCache() throws {
        let cache = DNSCache()
        let question = try Self.question("gone.example")
        cache.store(try Self.positive(question, ttls: [300]), for: question, now: Self.at(0))
        #expect(cache.count == 1)
        cache.removeAll()
        #expect(cache.count == 0)
        #expect(cache.lookup(question, now: Self.at(0)) == nil)
    }

    // MARK: Helpers

    /// A fixed point in uptime plus `seconds`.
    static func at(_ seconds: Double) -> NIODeadline {
        .uptimeNanoseconds(1_000_000_000_000 + UInt64(seconds * 1_000_000_000))
    }

    static func question(_ name: String, type: DNSRecordType = .A) throws -> DNSQuestion {
        DNSQuestion(name: try DNSName(name), type: type)
    }

    static func positive(_ question: DNSQuestion, ttls: [UInt32]) throws -> DNSMessage {
        var response = DNSMessage(header: DNSHeader(id: 1, qr: true, rd: true, ra: true), questions: [question])
        for (index, ttl) in ttls.enumerated() {
            response.addAnswer(.a(question.name, ttl: ttl, DNSIPv4Address(192, 0, 2, UInt8(index + 1))))
        }
        return response
    }

    static func negative(
        _ question: DNSQuestion, rcode: DNSResponseCode, soaTTL: UInt32, minimum: UInt32
    ) throws -> DNSMessage {
        var response = DNSMessage(header: DNSHeader(id: 1, qr: true, rd: true, ra: true), questions: [question])
        response.rcode = rcode
        let soa = DNSSOA(
            primaryServer: try DNSName("ns1.example.com"), responsibleMailbox: try DNSName("hostmaster.example.com"),
            serial: 2024_01_01, refresh: 7_200, retry: 900, expire: 1_209_600, minimum: minimum)
        response.addAuthority(.soa(try DNSName("example.com"), ttl: soaTTL, soa))
        return response
    }
}
