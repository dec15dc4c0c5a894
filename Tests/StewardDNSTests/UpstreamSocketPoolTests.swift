import Logging
import NIOCore
import NIOPosix
import StewardDNSWire
import Testing

@testable import StewardDNS

/// The forwarder's pooled UDP sockets: shared by many queries, replaced on new ports, and still
/// accepting only the answer each attempt waits for.
@Suite struct UpstreamSocketPoolTests {
    @Test("Query IDs come from the kernel's generator, 4 KiB at a time: across refills no number repeats and two generators differ")
    func randomNumbersDoNotRepeat() {
        let first = DNSRandom()
        let second = DNSRandom()
        // 2,000 numbers: four refills of 512.
        let numbers = (0..<2_000).map { _ in first.next() }
        #expect(Set(numbers).count == numbers.count)
        let others = (0..<2_000).map { _ in second.next() }
        #expect(Set(numbers).isDisjoint(with: others))
        // IDs drawn the way the sockets draw them cover the 16-bit space, not a corner of it.
        var generator = DNSRandom()
        let ids = (0..<4_096).map { _ in UInt16.random(in: .min ... .max, using: &generator) }
        #expect(ids.contains { $0 < 0x4000 } && ids.contains { $0 >= 0xC000 })
        #expect(Set(ids).count > 3_900)
    }

    @Test func sequentialQueriesShareAFewPooledSocketsInsteadOfOpeningOneEach() async throws {
        try await withForwarder(.answer, socketsPerUpstream: 2) { forwarder, fake in
            for index in 0..<30 {
                let answer = try await resolve(forwarder, "host\(index).example")
                #expect(answer.message.answers.count == 1)
            }
            #expect(fake.received.count == 30)
            #expect(Set(fake.received.map { $0.source.port }).count <= 2)
        }
    }

    @Test func aPooledSocketIsReplacedByOneOnANewPortAfterItsMaximumUses() async throws {
        try await withForwarder(.answer, socketsPerUpstream: 1, socketMaxUses: 5) { forwarder, fake in
            for index in 0..<12 {
                _ = try await resolve(forwarder, "host\(index).example")
            }
            let ports = fake.received.map { $0.source.port }
            #expect(ports.count == 12)
            #expect(Set(ports).count == 3)
            #expect(Set(ports[0..<5]).count == 1 && Set(ports[5..<10]).count == 1 && Set(ports[10...]).count == 1)
        }
    }

    @Test func manyConcurrentQueriesOnOneSocketEachGetTheirOwnAnswer() async throws {
        try await withForwarder(.answer, socketsPerUpstream: 1) { forwarder, fake in
            let loop = Self.loop(forwarder)
            let answers = try await withThrowingTaskGroup(of: (Int, UpstreamAnswer).self) { group in
                for index in 0..<100 {
                    let query = try ForwarderTests.query("Host\(index).Example", id: UInt16(index))
                    group.addTask { (index, try await forwarder.resolve(query, on: loop).get()) }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(answers.count == 100)
            for (index, answer) in answers {
                #expect(answer.message.header.id == UInt16(index))
                #expect(answer.message.questions.first?.name.isIdentical(to: try DNSName("Host\(index).Example")) == true)
            }
            #expect(Set(fake.received.map { $0.source.port }).count == 1)
            #expect(forwarder.metrics.ignoredResponses == 0)
        }
    }

    @Test func anAnswerWithTheRightIDAndQuestionFromAnotherAddressIsNeverAccepted() async throws {
        try await withForwarder(.silent, timeout: .milliseconds(600)) { forwarder, fake in
            let waiting = forwarder.resolve(try ForwarderTests.query("bank.example"), on: forwarder.group.next())
            var received = fake.received.first
            for _ in 0..<100 where received == nil {
                try await Task.sleep(for: .milliseconds(5))
                received = fake.received.first
            }
            let query = try #require(received)
            // The forger knows the port, the ID and the question, but sends from elsewhere.
            var forged = query.message.makeResponse()
            forged.addAnswer(.a(query.message.questions[0].name, ttl: 300, FakeUpstream.forgedAddress))
            let forger = try await DatagramBootstrap(group: forwarder.group).bind(host: "127.0.0.1", port: 0).get()
            let target = try SocketAddress(ipAddress: "127.0.0.1", port: try #require(query.source.port))
            try await forger.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: forged.encoded()))
            await #expect(throws: UpstreamError.timeout) { try await waiting.get() }
            try await forger.close()
        }
    }

    // MARK: Identical queries in flight

    /// Starts `queries` in one event-loop task (so all are in flight before any answer can be
    /// read) and waits for every outcome.
    func resolveTogether(_ forwarder: DNSForwarder, _ queries: [DNSMessage]) async throws -> [Result<UpstreamAnswer, any Error>] {
        let loop = Self.loop(forwarder)
        let futures = try await loop.submit { queries.map { forwarder.resolve($0, on: loop) } }.get()
        var results: [Result<UpstreamAnswer, any Error>] = []
        for future in futures {
            do { results.append(.success(try await future.get())) } catch { results.append(.failure(error)) }
        }
        return results
    }

    @Test func identicalQueriesInFlightAreSentUpstreamOnceAndEachClientGetsItsOwnIDAndLetterCase() async throws {
        try await withForwarder(.answer) { forwarder, fake in
            let spellings = ["www.example.org", "WWW.example.org", "wWw.ExAmPlE.oRg", "www.EXAMPLE.org"]
            let queries = try spellings.enumerated().map { try ForwarderTests.query($1, id: UInt16(100 + $0)) }
            let results = try await resolveTogether(forwarder, queries)

            #expect(fake.received.count == 1)
            #expect(forwarder.metrics.coalesced == 3)
            for (index, result) in results.enumerated() {
                let answer = try result.get()
                #expect(answer.message.header.id == UInt16(100 + index))
                #expect(answer.message.questions.first?.name.isIdentical(to: queries[index].questions[0].name) == true)
                #expect(answer.message.answers.map(\.ipv4) == [fake.answerAddress])
            }
            #expect(forwarder.metrics.answered == 4)
            #expect(forwarder.inFlightCount == 0)

            // Once answered, the same name is forwarded again (the cache, not the forwarder, keeps answers).
            _ = try await resolve(forwarder, "www.example.org")
            #expect(fake.received.count == 2)
        }
    }

    @Test func queriesThatDifferInTypeFlagsOrDOBitAreNotJoined() async throws {
        try await withForwarder(.answer) { forwarder, fake in
            let name = try DNSName("www.example.org")
            let plain = try ForwarderTests.query("www.example.org")
            var aaaa = plain
            aaaa.questions = [DNSQuestion(name: name, type: .AAAA)]
            var checkingDisabled = plain
            checkingDisabled.header.cd = true
            let dnssec = try ForwarderTests.query("www.example.org", edns: EDNS(udpPayloadSize: 1232, dnssecOK: true))
            let results = try await resolveTogether(forwarder, [plain, aaaa, checkingDisabled, dnssec])

            #expect(results.allSatisfy { (try? $0.get()) != nil })
            #expect(fake.received.count == 4)
            #expect(forwarder.metrics.coalesced == 0)
        }
    }

    @Test func whenTheSharedResolutionFailsEveryJoinedQueryFails() async throws {
        try await withForwarder(.silent, timeout: .milliseconds(200)) { forwarder, fake in
            let queries = try (0..<3).map { try ForwarderTests.query("slow.example", id: UInt16($0)) }
            let results = try await resolveTogether(forwarder, queries)
            for result in results {
                #expect(throws: UpstreamError.timeout) { try result.get() }
            }
            #expect(fake.received.count == 1)
            #expect(forwarder.metrics.failed == 3)
            #expect(forwarder.inFlightCount == 0)
        }
    }

    // MARK: Helpers

    /// Resolves on one fixed event loop (each loop has its own pool).
    func resolve(_ forwarder: DNSForwarder, _ name: String) async throws -> UpstreamAnswer {
        try await forwarder.resolve(try ForwarderTests.query(name), on: Self.loop(forwarder)).get()
    }

    static func loop(_ forwarder: DNSForwarder) -> any EventLoop {
        var loops = forwarder.group.makeIterator()
        return loops.next()!
    }

    /// Runs `body` with a forwarder (one attempt per query) over one fake upstream.
    func withForwarder(
        _ behaviour: FakeUpstream.Behaviour, timeout: TimeAmount = .milliseconds(500), socketsPerUpstream: Int = 8,
        socketMaxUses: Int = 2048, _ body: (DNSForwarder, FakeUpstream) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let fake = try await FakeUpstream.start(on: group, behaviour: behaviour)
        do {
            let configuration = DNSForwarder.Configuration(
                upstreams: [fake.address], timeout: timeout, attempts: 1, socketsPerUpstream: socketsPerUpstream,
                socketMaxUses: socketMaxUses)
            let forwarder = DNSForwarder(
                configuration: configuration, group: group, logger: Logger(label: "steward.test.pool"))
            try await body(forwarder, fake)
        } catch {
            try? await fake.stop()
            try await group.shutdownGracefully()
            throw error
        }
        try await fake.stop()
        try await group.shutdownGracefully()
    }
}
