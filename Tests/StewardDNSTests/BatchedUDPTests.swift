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

    /// The batched UDP loop (`DNSUDPLoop`) answers what the NIO datagram channel answers: bursts,
    /// malformed datagrams among good ones, both paths (fast and event loop), IPv4 and IPv6, and it
    /// lets go of its port when the server stops. Each test runs against both UDP servers.
    @Suite(.serialized) struct BatchedUDPTests {
        /// Answers every forwarded query with A 192.0.2.1 (TTL 300), on the event loop.
        struct AnsweringUpstream: DNSUpstream {
            func forward(_ query: DNSMessage, on eventLoop: any EventLoop) -> EventLoopFuture<ForwardedAnswer> {
                var response = query.makeResponse()
                response.addAnswer(.a(query.questions[0].name, ttl: 300, DNSIPv4Address(192, 0, 2, 1)))
                return eventLoop.makeSucceededFuture(ForwardedAnswer(message: response, upstream: 0))
            }
        }

        struct Server {
            let server: DNSServer
            let filter: DNSFilter
            let group: ServiceGroup
            let running: Task<Void, any Error>
            let udp: [SocketAddress]

            static func start(batched: Bool, listen: [String] = ["127.0.0.1:0"]) async throws -> Server {
                let filter = DNSFilter(
                    configuration: DNSFilter.Configuration(), identities: ClientIdentities(),
                    cache: DNSCache(configuration: DNSCache.Configuration()), upstream: AnsweringUpstream(),
                    recorder: nil)
                var configuration = DNSServer.Configuration(
                    listen: try listen.map { text in
                        let colon = try #require(text.lastIndex(of: ":"))
                        let host = text[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                        let port = try #require(Int(text[text.index(after: colon)...]))
                        return try SocketAddress(ipAddress: host, port: port)
                    })
                configuration.batchedUDP = batched
                let snapshot = try Self.snapshot()
                let server = DNSServer(
                    configuration: configuration, filter: filter, snapshots: SnapshotHolder(snapshot),
                    group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "batched-udp-test"))
                let group = ServiceGroup(services: [server], logger: Logger(label: "batched-udp-test"))
                let running = Task { try await group.run() }
                let udp = await server.boundAddresses().udp
                return Server(server: server, filter: filter, group: group, running: running, udp: udp)
            }

            /// FastPathTests' policy (casino.example blocked) for 127.0.0.0/8 and ::1.
            static func snapshot() throws -> PolicySnapshot {
                try FastPathTests.snapshot(networks: ["127.0.0.0/8", "::1/128"])
            }

            /// Graceful shutdown, as in production, and waits for the server to end.
            func stop() async {
                await group.triggerGracefulShutdown()
                _ = await running.result
            }
        }

        static func query(_ name: String, id: UInt16, type: DNSRecordType = .A) throws -> [UInt8] {
            let message = DNSMessage(
                header: DNSHeader(id: id, rd: true), questions: [DNSQuestion(name: try DNSName(name), type: type)])
            return Array(message.encoded().readableBytesView)
        }

        @Test(
            "A burst of 200 datagrams sent at once (more than three batches) is answered, every one: blocked, forwarded and cached",
            arguments: [true, false])
        func burst(batched: Bool) async throws {
            let server = try await Server.start(batched: batched)
            let client = try UDPClient(to: server.udp[0])
            // Two rounds: the first fills the cache (event loop), the second hits it (fast path).
            for round in 0..<2 {
                var datagrams: [[UInt8]] = []
                for index in 0..<200 {
                    let id = UInt16(round * 1000 + index)
                    datagrams.append(
                        try Self.query(index % 3 == 0 ? "casino.example" : "name\(index % 50).example", id: id))
                }
                let answers = try await client.exchange(datagrams, expecting: 200)
                #expect(answers.count == 200, "round \(round)")
                for (id, answer) in answers {
                    var buffer = ByteBuffer(bytes: answer)
                    let message = try DNSMessage(from: &buffer)
                    let index = Int(id) - round * 1000
                    if index % 3 == 0 {
                        #expect(message.rcode == .nxDomain, "\(id)")
                    } else {
                        #expect(message.rcode == .noError, "\(id)")
                        #expect(message.answers.first?.ipv4 == DNSIPv4Address(192, 0, 2, 1), "\(id)")
                        #expect(message.questions.first?.name == (try DNSName("name\(index % 50).example")))
                    }
                }
            }
            #expect(server.filter.metrics.cacheHits.load(ordering: .relaxed) >= 133)
            await server.stop()
        }

        @Test(
            "A malformed datagram among good ones gets FORMERR (or nothing, without an ID); the others are answered",
            arguments: [true, false])
        func malformedInBatch(batched: Bool) async throws {
            let server = try await Server.start(batched: batched)
            let client = try UDPClient(to: server.udp[0])
            let truncatedQuestion = Array(try Self.query("casino.example", id: 2).prefix(20))
            var response = try Self.query("casino.example", id: 4)
            response[2] |= 0x80  // QR=1: a response is dropped.
            let datagrams: [[UInt8]] = [
                try Self.query("casino.example", id: 1),
                truncatedQuestion,
                [0x07],  // No ID: dropped.
                response,
                try Self.query("casino.example", id: 5),
                [],
                try Self.query("casino.example", id: 6),
            ]
            let answers = try await client.exchange(datagrams, expecting: 4)
            #expect(Set(answers.map(\.id)) == [1, 2, 5, 6])
            for (id, answer) in answers {
                var buffer = ByteBuffer(bytes: answer)
                let message = try DNSMessage(from: &buffer)
                #expect(message.rcode == (id == 2 ? .formErr : .nxDomain), "\(id)")
            }
            // Nothing more comes.
            #expect(try await client.exchange([], expecting: 1, timeout: 0.3).isEmpty)
            #expect(server.filter.metrics.formatErrors.load(ordering: .relaxed) == 1)
            await server.stop()
        }

        @Test("The loop answers over IPv6 too, alongside IPv4", arguments: [true, false])
        func ipv6(batched: Bool) async throws {
            let server = try await Server.start(batched: batched, listen: ["127.0.0.1:0", "[::1]:0"])
            let v6 = try #require(server.udp.first { $0.protocol == .inet6 })
            let client = try UDPClient(to: v6)
            let answers = try await client.exchange(
                [try Self.query("casino.example", id: 7), try Self.query("allowed.example", id: 8)], expecting: 2)
            #expect(Set(answers.map(\.id)) == [7, 8])
            await server.stop()
        }

        @Test("Stopping the server releases its UDP and TCP ports at once", arguments: [true, false])
        func shutdownReleasesThePort(batched: Bool) async throws {
            let server = try await Server.start(batched: batched)
            let port = try #require(server.udp[0].port)
            let clock = ContinuousClock()
            let stopped = try await clock.measure {
                await server.stop()
            }
            #expect(stopped < .seconds(2))
            // Bound again without SO_REUSEADDR: only possible if nobody holds the port any more.
            // Other suites running in parallel take ephemeral ports from the same range, so one of
            // their sockets may briefly hold this number by chance: a few tries within a second.
            for type in [SOCK_DGRAM, SOCK_STREAM] {
                var result: Int32 = -1
                for attempt in 0..<20 where result != 0 {
                    if attempt > 0 { try await Task.sleep(for: .milliseconds(50)) }
                    let fd = socket(AF_INET, Int32(type.rawValue), 0)
                    #expect(fd >= 0)
                    defer { close(fd) }
                    var address = sockaddr_in()
                    address.sin_family = sa_family_t(AF_INET)
                    address.sin_port = in_port_t(UInt16(port).bigEndian)
                    address.sin_addr.s_addr = inet_addr("127.0.0.1")
                    result = withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                        }
                    }
                }
                #expect(result == 0, "port \(port) still held (\(type)) a second after stopping")
            }
        }

        @Test(
            "The fast path appends its answer after what the buffer already holds, and writes nothing when it declines")
        func answerFastAppends() throws {
            let filter = DNSFilter(
                configuration: DNSFilter.Configuration(), identities: ClientIdentities(), cache: nil,
                upstream: FastPathTests.NoUpstream(), recorder: nil)
            let snapshot = try Server.snapshot()
            let client = IPAddress("127.0.0.1")!
            var output = ByteBuffer(bytes: [1, 2, 3])
            let packet = ByteBuffer(bytes: try Self.query("casino.example", id: 9))
            #expect(filter.answerFast(packet, from: client, snapshot: snapshot, into: &output).answered)
            var alone = output.getSlice(at: 3, length: output.readableBytes - 3)!
            #expect(output.getBytes(at: 0, length: 3) == [1, 2, 3])
            let general = filter.handle(
                packet, from: client, transport: .udp, snapshot: snapshot,
                eventLoop: MultiThreadedEventLoopGroup.singleton.any(), fastPath: false)
            guard case .respond(var expected) = general else {
                Issue.record("expected an immediate answer")
                return
            }
            #expect(try DNSMessage(from: &alone) == (try DNSMessage(from: &expected)))
            let before = output.writerIndex
            // An allowed name and no cache: a miss, to be forwarded as it is.
            let allowed = filter.answerFast(
                ByteBuffer(bytes: try Self.query("allowed.example", id: 10)), from: client, snapshot: snapshot,
                into: &output)
            guard case .miss(let miss) = allowed else {
                Issue.record("expected a miss, got \(allowed)")
                return
            }
            #expect(miss.name == (try DNSName("allowed.example")) && miss.decision.action == .allow)
            #expect(output.writerIndex == before)
            // Outside every client network: REFUSED, on the general path.
            let outside = filter.answerFast(packet, from: IPAddress("192.0.2.9")!, snapshot: snapshot, into: &output)
            guard case .declined = outside else {
                Issue.record("expected the general path, got \(outside)")
                return
            }
            #expect(output.writerIndex == before)
        }
    }

    /// A blocking UDP client: sends datagrams, collects answers (ID → bytes) until it has enough or
    /// the socket stays quiet.
    struct UDPClient {
        let fd: Int32
        let server: SocketAddress

        init(to server: SocketAddress) throws {
            self.server = server
            fd = socket(server.protocol == .inet6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
            var size: Int32 = 1 << 20
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }

        /// Sends `datagrams` and collects up to `count` answers within `timeout` seconds, on a
        /// thread of its own: blocking one of Swift's few cooperative threads would starve the
        /// server tasks of the suites running beside it.
        func exchange(_ datagrams: [[UInt8]], expecting count: Int, timeout: Double = 3) async throws -> [(
            id: UInt16, bytes: [UInt8]
        )] {
            let client = self
            return try await withCheckedThrowingContinuation { continuation in
                Thread {
                    continuation.resume(
                        with: Result { try client.exchangeBlocking(datagrams, expecting: count, timeout: timeout) })
                }.start()
            }
        }

        private func exchangeBlocking(_ datagrams: [[UInt8]], expecting count: Int, timeout: Double) throws -> [(
            id: UInt16, bytes: [UInt8]
        )] {
            for datagram in datagrams {
                let sent = server.withSockAddr { address, length in
                    datagram.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, socklen_t(length)) }
                }
                if sent < 0 { throw IOError(errnoCode: errno, reason: "sendto") }
            }
            var answers: [(id: UInt16, bytes: [UInt8])] = []
            let deadline = Date().addingTimeInterval(timeout)
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while answers.count < count, Date() < deadline {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000))) > 0 else { break }
                let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard received >= 2 else { continue }
                answers.append((UInt16(buffer[0]) << 8 | UInt16(buffer[1]), Array(buffer[0..<received])))
            }
            return answers
        }
    }
#endif
