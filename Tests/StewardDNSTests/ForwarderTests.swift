import Logging
import NIOCore
import NIOPosix
import StewardDNSWire
import Testing

@testable import StewardDNS

/// The forwarder against scripted upstreams on 127.0.0.1, and its decisions without a network.
@Suite struct ForwarderTests {
    // MARK: Against fake upstreams

    @Test func anAnswerCarriesTheClientsIDAndQuestionInTheClientsLetterCase() async throws {
        try await withForwarder([.answer]) { forwarder, fakes in
            let query = try Self.query("WwW.ExAmPle.CoM", id: 0xBEEF)
            let answer = try await forwarder.resolve(query)

            #expect(answer.message.header.id == 0xBEEF)
            #expect(answer.message.header.qr)
            #expect(answer.message.questions.count == 1)
            #expect(answer.message.questions[0].name.isIdentical(to: query.questions[0].name))
            #expect(answer.message.answers.map(\.ipv4) == [fakes[0].answerAddress])
            #expect(answer.message.edns == nil, "no OPT record for a client that sent none")
            #expect(answer.upstream == 0)
            #expect(!answer.viaTCP)

            let received = try #require(fakes[0].received.first)
            #expect(received.message.questions[0].name.isIdentical(to: query.questions[0].name))
            #expect(received.message.header.rd)
            #expect(received.message.edns?.udpPayloadSize == 1232)
            #expect(received.message.edns?.dnssecOK == false)
        }
    }

    @Test func theForwardedQueryAdvertises1232OctetsAndKeepsOnlyTheClientsDOBit() async throws {
        try await withForwarder([.answer]) { forwarder, fakes in
            let clientEDNS = EDNS(
                udpPayloadSize: 4096, dnssecOK: true,
                options: [EDNSOption(code: .cookie, data: Array(repeating: 7, count: 8))])
            let answer = try await forwarder.resolve(try Self.query("example.org", edns: clientEDNS))

            let forwarded = try #require(fakes[0].received.first?.message.edns)
            #expect(forwarded.udpPayloadSize == 1232)
            #expect(forwarded.dnssecOK)
            #expect(forwarded.options.isEmpty, "the client's cookie is not passed on")
            #expect(answer.message.edns?.dnssecOK == true)
        }
    }

    @Test func whenNoUpstreamAnswersEachAttemptUsesANewIDAndPortAndTheQueryTimesOutInBoundedTime() async throws {
        let timeout = TimeAmount.milliseconds(200)
        try await withForwarder([.silent, .silent], timeout: timeout, attempts: 3) { forwarder, fakes in
            let started = ContinuousClock.now
            await #expect(throws: UpstreamError.timeout) {
                try await forwarder.resolve(try Self.query("nobody.example"))
            }
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .milliseconds(550))
            // Three attempts of 200 ms: bounded below what a forwarder ignoring the configured
            // timeout would take at the least (3 × 1.5 s); the margin is for a 2-core machine
            // running the whole suite in parallel, headless Chromium included (3.74 s was seen).
            #expect(elapsed < .milliseconds(4400))

            let received = fakes.flatMap(\.received)
            #expect(received.count == 3)
            #expect(Set(received.map { $0.source.port }).count == 3, "a fresh socket, so a fresh port, per attempt")
            #expect(Set(received.map(\.message.header.id)).count > 1)
            #expect(fakes[0].received.count == 2 && fakes[1].received.count == 1, "round-robin over the upstreams")
            #expect(forwarder.metrics.timeouts == 3)
            #expect(forwarder.metrics.failed == 1)
        }
    }

    @Test func aSilentUpstreamFailsOverToTheNextAfterAboutOneTimeoutAndIsThenTriedLast() async throws {
        try await withForwarder([.silent, .answer], timeout: .milliseconds(300)) { forwarder, fakes in
            var started = ContinuousClock.now
            let first = try await forwarder.resolve(try Self.query("a.example"))
            var elapsed = ContinuousClock.now - started
            #expect(first.upstream == 1)
            #expect(first.message.answers.map(\.ipv4) == [fakes[1].answerAddress])
            #expect(elapsed >= .milliseconds(280))
            #expect(elapsed < .milliseconds(1000))

            // The second query starts at upstream 1 by round-robin anyway; the third would start at
            // upstream 0, but that one timed out recently, so it goes last.
            for name in ["b.example", "c.example"] {
                started = ContinuousClock.now
                let answer = try await forwarder.resolve(try Self.query(name))
                elapsed = ContinuousClock.now - started
                #expect(answer.upstream == 1)
                #expect(elapsed < .milliseconds(250))
            }
            #expect(fakes[0].received.count == 1)
            #expect(forwarder.metrics.upstreams[0].timeouts == 1)
            #expect(forwarder.metrics.upstreams[1].answers == 3)
        }
    }

    @Test func whenEveryUpstreamAnswersSERVFAILTheLastSERVFAILIsReturnedAfterAllAttempts() async throws {
        try await withForwarder([.servFail, .servFail], timeout: .milliseconds(500), attempts: 3) { forwarder, fakes in
            let started = ContinuousClock.now
            let answer = try await forwarder.resolve(try Self.query("broken.example", id: 77))
            #expect(ContinuousClock.now - started < .milliseconds(1500))
            #expect(answer.message.rcode == .servFail)
            #expect(answer.message.header.id == 77)
            #expect(fakes.flatMap(\.received).count == 3)
            #expect(forwarder.metrics.upstreams.map(\.failures) == [2, 1])
        }
    }

    @Test func aClosedUpstreamPortFailsOverAtOnceWithoutWaitingForTheTimeout() async throws {
        // A connected UDP socket hears the ICMP port unreachable as ECONNREFUSED.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let closed = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let closedAddress = try #require(closed.localAddress)
        try await closed.close()
        try await group.shutdownGracefully()

        try await withForwarder([.answer]) { base, fakes in
            let configuration = DNSForwarder.Configuration(
                upstreams: [closedAddress, fakes[0].address], timeout: .seconds(2), attempts: 2)
            let forwarder = DNSForwarder(
                configuration: configuration, group: base.group, logger: Logger(label: "steward.test.forwarder"))
            let started = ContinuousClock.now
            let answer = try await forwarder.resolve(try Self.query("fast.example"))
            #expect(ContinuousClock.now - started < .milliseconds(1000))
            #expect(answer.upstream == 1)
            #expect(forwarder.metrics.upstreams[0].failures == 1)
            #expect(forwarder.metrics.upstreams[0].timeouts == 0)
        }
    }

    @Test func refusedFromOneUpstreamMovesToTheNext() async throws {
        try await withForwarder([.refused, .answer]) { forwarder, fakes in
            let answer = try await forwarder.resolve(try Self.query("example.net"))
            #expect(answer.upstream == 1)
            #expect(answer.message.rcode == .noError)
            #expect(answer.message.answers.map(\.ipv4) == [fakes[1].answerAddress])
        }
    }

    @Test func aTruncatedUDPAnswerIsRetriedOverTCPAndTheTCPAnswerIsUsed() async throws {
        try await withForwarder([.truncateOverUDP]) { forwarder, fakes in
            let answer = try await forwarder.resolve(try Self.query("big.example", id: 4242))
            #expect(answer.viaTCP)
            #expect(!answer.message.header.tc)
            #expect(answer.message.header.id == 4242)
            #expect(answer.message.answers.map(\.ipv4) == [fakes[0].answerAddress])
            #expect(fakes[0].received.map(\.overTCP) == [false, true])
            #expect(fakes[0].received[1].message.edns?.udpPayloadSize == 1232)
            #expect(forwarder.metrics.tcpRetries == 1)
        }
    }

    @Test(arguments: [FakeUpstream.Behaviour.wrongIDFirst, .wrongQuestionFirst])
    func aForgedResponseIsIgnoredAndTheRealOneAccepted(_ behaviour: FakeUpstream.Behaviour) async throws {
        try await withForwarder([behaviour]) { forwarder, fakes in
            let answer = try await forwarder.resolve(try Self.query("bank.example"))
            #expect(answer.message.answers.map(\.ipv4) == [fakes[0].answerAddress])
            #expect(forwarder.metrics.ignoredResponses == 1)
        }
    }

    @Test func aForgedResponseAloneIsNeverAccepted() async throws {
        try await withForwarder([.onlyWrongID], timeout: .milliseconds(200), attempts: 1) { forwarder, _ in
            await #expect(throws: UpstreamError.timeout) {
                try await forwarder.resolve(try Self.query("bank.example"))
            }
            #expect(forwarder.metrics.ignoredResponses == 1)
        }
    }

    @Test func twoHundredConcurrentQueriesAreAllAnswered() async throws {
        try await withForwarder([.answer, .answer]) { forwarder, fakes in
            let answers = try await withThrowingTaskGroup(of: (UInt16, UpstreamAnswer).self) { group in
                for index in 0..<200 {
                    let query = try Self.query("Host\(index).Example", id: UInt16(index))
                    group.addTask { (UInt16(index), try await forwarder.resolve(query)) }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(answers.count == 200)
            for (id, answer) in answers {
                #expect(answer.message.header.id == id)
                #expect(answer.message.questions.first?.name.isIdentical(to: try DNSName("Host\(id).Example")) == true)
                #expect(answer.message.answers.count == 1)
            }
            let received = fakes.flatMap(\.received)
            #expect(received.count == 200)
            #expect(fakes.allSatisfy { $0.received.count > 50 }, "load spread over both upstreams")
            #expect(Set(received.map(\.message.header.id)).count > 150, "random IDs, not the clients'")
            #expect(forwarder.inFlightCount == 0)
        }
    }

    @Test func queriesBeyondMaxInFlightFailAtOnceAsOverloaded() async throws {
        try await withForwarder([.silent], timeout: .milliseconds(300), attempts: 1, maxInFlight: 1) { forwarder, _ in
            let loop = forwarder.group.next()
            let waiting = forwarder.resolve(try Self.query("slow.example"), on: loop)
            await #expect(throws: UpstreamError.overloaded) {
                try await forwarder.resolve(try Self.query("second.example"), on: loop).get()
            }
            #expect(forwarder.metrics.overloaded == 1)
            await #expect(throws: UpstreamError.timeout) { try await waiting.get() }
            #expect(forwarder.inFlightCount == 0)
        }
    }

    @Test func aQueryWithoutAQuestionIsNotForwarded() async throws {
        try await withForwarder([.answer]) { forwarder, fakes in
            await #expect(throws: UpstreamError.invalidQuery("0 questions")) {
                try await forwarder.resolve(DNSMessage(header: DNSHeader(id: 1, rd: true)))
            }
            #expect(fakes[0].received.isEmpty)
        }
    }

    // MARK: Decisions without a network

    @Test func aResponseIsAcceptedOnlyFromTheUpstreamWithTheSameIDQRAndQuestion() throws {
        let upstream = try SocketAddress(ipAddress: "192.0.2.53", port: 53)
        let client = try Self.query("Mixed.Example")
        let query = UpstreamQuery(forwarding: client, question: client.questions[0], id: 999, to: upstream)
        var response = client.makeResponse()
        response.header.id = 999
        response.questions[0].name = try DNSName("mixed.example")

        if case .accept = query.evaluate(response.encoded(), from: upstream) {} else { Issue.record("not accepted") }
        if case .accept = query.evaluate(response.encoded(), from: nil) {
        } else {
            Issue.record("not accepted over TCP")
        }
        let otherPort = try SocketAddress(ipAddress: "192.0.2.53", port: 5353)
        if case .ignore = query.evaluate(response.encoded(), from: otherPort) {} else { Issue.record("wrong port") }
        let otherHost = try SocketAddress(ipAddress: "192.0.2.54", port: 53)
        if case .ignore = query.evaluate(response.encoded(), from: otherHost) {} else { Issue.record("wrong host") }

        var otherName = response
        otherName.questions[0].name = try DNSName("mixed.example.net")
        if case .ignore = query.evaluate(otherName.encoded(), from: upstream) {} else { Issue.record("name") }

        var notAResponse = response
        notAResponse.header.qr = false
        if case .ignore = query.evaluate(notAResponse.encoded(), from: upstream) {} else { Issue.record("QR=0") }
        var otherType = response
        otherType.questions[0].type = .AAAA
        if case .ignore = query.evaluate(otherType.encoded(), from: upstream) {} else { Issue.record("type") }
        var garbage = ByteBuffer()
        garbage.writeInteger(UInt16(999))
        garbage.writeBytes([0x80, 0, 0, 5])
        if case .malformed = query.evaluate(garbage, from: upstream) {} else { Issue.record("garbage") }
    }

    @Test func aTruncatedAnswerIsRetriedOverTCPAtTheSameUpstreamWithoutUsingAnAttempt() throws {
        var machine = UpstreamResolutionStateMachine(order: [1, 0], attempts: 1)
        try #require(Self.sent(machine.start()) == .init(upstream: 1, transport: .udp))
        var truncated = try Self.query("x.example").makeResponse()
        truncated.header.tc = true
        try #require(Self.sent(machine.attemptEnded(.answer(truncated))) == .init(upstream: 1, transport: .tcp))
        let full = try Self.query("x.example").makeResponse()
        guard case .succeed(_, let upstream, let viaTCP) = machine.attemptEnded(.answer(full)) else {
            Issue.record("expected success")
            return
        }
        #expect(upstream == 1 && viaTCP)
    }

    @Test func aTruncatedAnswerWhoseTCPRetryFailsIsNoAnswerWhenNoAttemptIsLeft() throws {
        var machine = UpstreamResolutionStateMachine(order: [0], attempts: 1)
        try #require(Self.sent(machine.start()) == .init(upstream: 0, transport: .udp))
        var truncated = try Self.query("x.example").makeResponse()
        truncated.header.tc = true
        try #require(Self.sent(machine.attemptEnded(.answer(truncated))) == .init(upstream: 0, transport: .tcp))
        guard case .fail(let error) = machine.attemptEnded(.failed(.transport("reset"))) else {
            Issue.record("expected a failure (SERVFAIL), not the truncated answer")
            return
        }
        #expect(error == .allUpstreamsFailed(lastError: "reset"))
    }

    @Test func anAnswerTruncatedOverTCPIsAFailedAttemptAndTheNextUpstreamIsAsked() throws {
        var machine = UpstreamResolutionStateMachine(order: [0, 1], attempts: 2)
        try #require(Self.sent(machine.start()) == .init(upstream: 0, transport: .udp))
        var truncated = try Self.query("x.example").makeResponse()
        truncated.header.tc = true
        try #require(Self.sent(machine.attemptEnded(.answer(truncated))) == .init(upstream: 0, transport: .tcp))
        try #require(Self.sent(machine.attemptEnded(.answer(truncated))) == .init(upstream: 1, transport: .udp))
        try #require(Self.sent(machine.attemptEnded(.answer(truncated))) == .init(upstream: 1, transport: .tcp))
        guard case .fail(let error) = machine.attemptEnded(.answer(truncated)) else {
            Issue.record("expected a failure (SERVFAIL), not the truncated answer")
            return
        }
        #expect(error == .malformedResponse("TC=1 on an answer over TCP"))
    }

    @Test(arguments: [
        ([UpstreamAttemptFailure.timeout, .timeout, .timeout], UpstreamError.timeout),
        ([.malformed("a"), .malformed("b"), .malformed("c")], .malformedResponse("c")),
        ([.timeout, .transport("connection refused"), .timeout], .allUpstreamsFailed(lastError: "timeout")),
        ([.timeout, .timeout, .transport("connection refused")], .allUpstreamsFailed(lastError: "connection refused")),
    ])
    func failedAttemptsGoRoundTheOrderAndEndInAnErrorThatSaysWhy(
        _ failures: [UpstreamAttemptFailure], _ expected: UpstreamError
    ) {
        var machine = UpstreamResolutionStateMachine(order: [2, 0, 1], attempts: 3)
        var action = machine.start()
        var upstreams: [Int] = []
        for failure in failures {
            guard let sent = Self.sent(action) else {
                Issue.record("stopped early")
                return
            }
            upstreams.append(sent.upstream)
            action = machine.attemptEnded(.failed(failure))
        }
        #expect(upstreams == [2, 0, 1])
        guard case .fail(let error) = action else {
            Issue.record("expected a failure")
            return
        }
        #expect(error == expected)
    }

    // MARK: Helpers

    struct Sent: Equatable {
        var upstream: Int
        var transport: UpstreamResolutionStateMachine.Transport
    }

    static func sent(_ action: UpstreamResolutionStateMachine.Action) -> Sent? {
        guard case .send(let upstream, let transport) = action else { return nil }
        return Sent(upstream: upstream, transport: transport)
    }

    static func query(_ name: String, id: UInt16 = 0x1234, edns: EDNS? = nil) throws -> DNSMessage {
        DNSMessage(
            header: DNSHeader(id: id, rd: true), questions: [DNSQuestion(name: try DNSName(name), type: .A)], edns: edns
        )
    }

    /// Runs `body` with a forwarder over one fake upstream per behaviour, then tears everything down.
    func withForwarder(
        _ behaviours: [FakeUpstream.Behaviour], timeout: TimeAmount = .milliseconds(500), attempts: Int = 3,
        maxInFlight: Int = 4096, _ body: (DNSForwarder, [FakeUpstream]) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var fakes: [FakeUpstream] = []
        do {
            for (index, behaviour) in behaviours.enumerated() {
                fakes.append(
                    try await FakeUpstream.start(
                        on: group, behaviour: behaviour, answerAddress: DNSIPv4Address(192, 0, 2, UInt8(index + 1))))
            }
            let configuration = DNSForwarder.Configuration(
                upstreams: fakes.map(\.address), timeout: timeout, attempts: attempts, maxInFlight: maxInFlight)
            let forwarder = DNSForwarder(
                configuration: configuration, group: group, logger: Logger(label: "steward.test.forwarder"))
            try await body(forwarder, fakes)
        } catch {
            for fake in fakes { try? await fake.stop() }
            try await group.shutdownGracefully()
            throw error
        }
        for fake in fakes { try await fake.stop() }
        try await group.shutdownGracefully()
    }
}
