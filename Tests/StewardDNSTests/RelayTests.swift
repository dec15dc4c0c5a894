#if os(Linux)
    import Foundation
    import Glibc
    import Logging
    import NIOCore
    import NIOPosix
    import ServiceLifecycle
    import StewardDNSWire
    import StewardPolicy
    import Testing

    @testable import StewardDNS

    /// The batched loop's relay (`DNSUDPRelay`): misses forwarded from the loop's own thread through
    /// the real forwarder to fake upstreams on loopback, and everything the relay hands to the
    /// event loop (timeouts, socket errors, truncation, SERVFAIL) going on from its first attempt.
    @Suite(.serialized) struct RelayTests {
        struct Setup {
            let filter: DNSFilter
            let forwarder: DNSForwarder
            let fakes: [FakeUpstream]
            let client: UDPClient
        }

        /// Runs `body` against a batched server whose forwarder asks one fake per behaviour (the
        /// fake `n` answers 192.0.2.`n+1`), in that order for the first query.
        func withRelay(
            _ behaviours: [FakeUpstream.Behaviour], upstreams: (([SocketAddress]) -> [SocketAddress])? = nil,
            configure: (inout DNSForwarder.Configuration) -> Void = { _ in }, _ body: (Setup) async throws -> Void
        ) async throws {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
            var fakes: [FakeUpstream] = []
            for (index, behaviour) in behaviours.enumerated() {
                fakes.append(
                    try await FakeUpstream.start(
                        on: group, behaviour: behaviour, answerAddress: DNSIPv4Address(192, 0, 2, UInt8(index + 1))))
            }
            var configuration = DNSForwarder.Configuration(
                upstreams: upstreams?(fakes.map(\.address)) ?? fakes.map(\.address), timeout: .milliseconds(300),
                attempts: 2)
            configure(&configuration)
            let forwarder = DNSForwarder(
                configuration: configuration, group: group, logger: Logger(label: "steward.test.relay"))
            let filter = DNSFilter(
                configuration: DNSFilter.Configuration(), identities: ClientIdentities(), cache: DNSCache(),
                upstream: forwarder, recorder: nil)
            var serverConfiguration = DNSServer.Configuration(listen: [try SocketAddress(ipAddress: "127.0.0.1", port: 0)])
            serverConfiguration.batchedUDP = true
            let server = DNSServer(
                configuration: serverConfiguration, filter: filter,
                snapshots: SnapshotHolder(try FastPathTests.snapshot()), group: group,
                logger: Logger(label: "steward.test.relay"))
            let service = ServiceGroup(services: [server], logger: Logger(label: "steward.test.relay"))
            let running = Task { try await service.run() }
            let bound = await server.boundAddresses().udp
            do {
                let client = try UDPClient(to: bound[0])
                try await body(Setup(filter: filter, forwarder: forwarder, fakes: fakes, client: client))
            } catch {
                await service.triggerGracefulShutdown()
                _ = await running.result
                for fake in fakes { try? await fake.stop() }
                try? await group.shutdownGracefully()
                throw error
            }
            await service.triggerGracefulShutdown()
            _ = await running.result
            for fake in fakes { try await fake.stop() }
            try await group.shutdownGracefully()
        }

        static func message(_ bytes: [UInt8]) throws -> DNSMessage {
            var buffer = ByteBuffer(bytes: bytes)
            return try DNSMessage(from: &buffer)
        }

        static func query(_ name: String, id: UInt16) throws -> [UInt8] {
            try BatchedUDPTests.query(name, id: id)
        }

        @Test("A miss is relayed by the loop: the client's ID and letter case, the upstream's records, then cached")
        func relayedAndCached() async throws {
            try await withRelay([.answer]) { setup in
                let answers = try await setup.client.exchange([try Self.query("MiXeD.Example.ORG", id: 77)], expecting: 1)
                let answer = try Self.message(try #require(answers.first).bytes)
                #expect(answer.header.id == 77)
                #expect(answer.rcode == .noError)
                #expect(answer.questions.first?.name.isIdentical(to: try DNSName("MiXeD.Example.ORG")) == true)
                #expect(answer.answers.first?.ipv4 == DNSIPv4Address(192, 0, 2, 1))
                #expect(setup.filter.metrics.relayed.load(ordering: .relaxed) == 1)
                let sent = try #require(setup.fakes[0].received.first)
                #expect(sent.message.header.id != 77, "the upstream sees a fresh random ID")
                #expect(sent.message.questions.first?.name.isIdentical(to: try DNSName("MiXeD.Example.ORG")) == true)

                let again = try await setup.client.exchange([try Self.query("mixed.example.org", id: 78)], expecting: 1)
                let cached = try Self.message(try #require(again.first).bytes)
                #expect(cached.header.id == 78 && cached.answers.first?.ipv4 == DNSIPv4Address(192, 0, 2, 1))
                #expect(setup.fakes[0].received.count == 1, "the second answer came from the cache")
                #expect(setup.filter.metrics.cacheHits.load(ordering: .relaxed) == 1)
                #expect(setup.forwarder.metrics.answered == 1)
            }
        }

        @Test("Identical queries in flight share one upstream query; when it times out all of them get SERVFAIL in bounded time")
        func coalescedAndTimedOut() async throws {
            try await withRelay([.silent], configure: { $0.attempts = 1 }) { setup in
                let datagrams = try (0..<20).map { try Self.query("same.example", id: UInt16(100 + $0)) }
                let started = ContinuousClock.now
                let answers = try await setup.client.exchange(datagrams, expecting: 20)
                let elapsed = ContinuousClock.now - started
                #expect(answers.count == 20)
                #expect(Set(answers.map(\.id)) == Set((0..<20).map { UInt16(100 + $0) }))
                for (_, bytes) in answers { #expect(try Self.message(bytes).rcode == .servFail) }
                #expect(setup.fakes[0].received.count == 1, "one query for twenty identical ones")
                #expect(setup.forwarder.metrics.coalesced == 19)
                #expect(setup.forwarder.metrics.upstreams[0].timeouts == 1)
                #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(2))
                #expect(setup.forwarder.inFlightCount == 0)
            }
        }

        @Test("The relay's attempt times out at the first upstream; the forwarder goes on with the next, asking each once")
        func timeoutFailsOverOnce() async throws {
            try await withRelay([.silent, .answer]) { setup in
                let started = ContinuousClock.now
                let answers = try await setup.client.exchange([try Self.query("slow.example", id: 5)], expecting: 1)
                let elapsed = ContinuousClock.now - started
                let answer = try Self.message(try #require(answers.first).bytes)
                #expect(answer.answers.first?.ipv4 == DNSIPv4Address(192, 0, 2, 2))
                #expect(setup.fakes[0].received.count == 1)
                #expect(setup.fakes[1].received.count == 1)
                #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(2))
                #expect(setup.filter.metrics.relayed.load(ordering: .relaxed) == 0)
                #expect(setup.filter.metrics.cacheMisses.load(ordering: .relaxed) == 1, "counted once")
                #expect(setup.forwarder.metrics.queries == 1)
                #expect(setup.forwarder.inFlightCount == 0)
            }
        }

        @Test("SERVFAIL from the first upstream: the next one answers", arguments: [FakeUpstream.Behaviour.servFail, .refused])
        func failedAnswerFailsOver(_ behaviour: FakeUpstream.Behaviour) async throws {
            try await withRelay([behaviour, .answer]) { setup in
                let answers = try await setup.client.exchange([try Self.query("flaky.example", id: 6)], expecting: 1)
                let answer = try Self.message(try #require(answers.first).bytes)
                #expect(answer.rcode == .noError)
                #expect(answer.answers.first?.ipv4 == DNSIPv4Address(192, 0, 2, 2))
                #expect(setup.fakes[0].received.count == 1 && setup.fakes[1].received.count == 1)
            }
        }

        @Test("A truncated answer to the relay is retried over TCP to the same upstream")
        func truncatedRetriedOverTCP() async throws {
            try await withRelay([.truncateOverUDP]) { setup in
                let answers = try await setup.client.exchange([try Self.query("big.example", id: 7)], expecting: 1)
                let answer = try Self.message(try #require(answers.first).bytes)
                #expect(answer.answers.first?.ipv4 == DNSIPv4Address(192, 0, 2, 1))
                #expect(!answer.header.tc)
                #expect(setup.fakes[0].received.map(\.overTCP) == [false, true])
            }
        }

        @Test("An upstream whose port is closed fails over at once (ICMP), not after the timeout")
        func closedPortFailsOverAtOnce() async throws {
            let closed = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: 0).get()
            let closedAddress = try #require(closed.localAddress)
            try await closed.close()
            try await withRelay(
                [.answer], upstreams: { [closedAddress] + $0 }, configure: { $0.timeout = .seconds(3) }
            ) { setup in
                let started = ContinuousClock.now
                let answers = try await setup.client.exchange([try Self.query("refused.example", id: 8)], expecting: 1)
                #expect(ContinuousClock.now - started < .seconds(2))
                let answer = try Self.message(try #require(answers.first).bytes)
                #expect(answer.answers.first?.ipv4 == DNSIPv4Address(192, 0, 2, 1))
                #expect(setup.forwarder.metrics.upstreams[0].failures >= 1)
                #expect(setup.forwarder.metrics.upstreams[0].timeouts == 0)
            }
        }

        @Test("Forged answers (wrong ID, wrong question) are ignored; the real one is relayed",
            arguments: [FakeUpstream.Behaviour.wrongIDFirst, .wrongQuestionFirst])
        func forgeriesIgnored(_ behaviour: FakeUpstream.Behaviour) async throws {
            try await withRelay([behaviour]) { setup in
                let answers = try await setup.client.exchange([try Self.query("target.example", id: 9)], expecting: 1)
                let answer = try Self.message(try #require(answers.first).bytes)
                #expect(answer.answers.map(\.ipv4) == [DNSIPv4Address(192, 0, 2, 1)])
                #expect(setup.forwarder.metrics.ignoredResponses >= 1)
                #expect(setup.filter.metrics.relayed.load(ordering: .relaxed) == 1)
            }
        }

        @Test("Flights are used again when they end: round after round, every client gets the answer to its own question")
        func flightsReused() async throws {
            try await withRelay([.answer]) { setup in
                for round in 0..<6 {
                    // Forty distinct names, and one name asked five times (a shared flight).
                    var names = (0..<40).map { "n\($0)-r\(round).example" }
                    names += Array(repeating: "shared-r\(round).example", count: 5)
                    let datagrams = try names.enumerated().map { try Self.query($1, id: UInt16(round * 100 + $0)) }
                    let answers = try await setup.client.exchange(datagrams, expecting: names.count)
                    #expect(answers.count == names.count, "round \(round)")
                    for (id, bytes) in answers {
                        let answer = try Self.message(bytes)
                        let asked = try DNSName(names[Int(id) - round * 100])
                        #expect(answer.questions.first?.name == asked)
                        #expect(answer.answers.first?.name == asked, "round \(round), ID \(id)")
                        #expect(answer.answers.first?.ipv4 == DNSIPv4Address(192, 0, 2, 1))
                    }
                }
                #expect(setup.fakes[0].received.count == 6 * 41, "one upstream query per distinct name")
                #expect(setup.forwarder.inFlightCount == 0)
            }
        }

        @Test("Sockets retire after their uses: queries leave from several random source ports")
        func sourcePortsRotate() async throws {
            try await withRelay(
                [.answer],
                configure: {
                    $0.socketsPerUpstream = 1
                    $0.socketMaxUses = 2
                }
            ) { setup in
                for index in 0..<8 {
                    let answers = try await setup.client.exchange(
                        [try Self.query("name\(index).example", id: UInt16(index))], expecting: 1)
                    #expect(answers.count == 1)
                }
                let ports = Set(setup.fakes[0].received.compactMap(\.source.port))
                #expect(setup.fakes[0].received.count == 8)
                #expect(ports.count >= 4, "each socket serves two queries: \(ports)")
            }
        }
    }
#endif
