import NIOCore
import NIOPosix
import StewardDNSWire
import Synchronization

@testable import StewardDNS

/// A scripted upstream resolver for forwarder tests: real NIO sockets on 127.0.0.1, UDP and TCP
/// on the same port, answering as `behaviour` says and recording every query it receives.
final class FakeUpstream: Sendable {
    /// How the fake answers.
    enum Behaviour: Sendable, Equatable {
        /// An A record (`answerAddress`, TTL 300) for any question, with the question lower-cased
        /// (so tests see the forwarder restore the client's letter case).
        case answer
        /// Never answers.
        case silent
        /// Over UDP: TC=1 and no records; over TCP: the full answer.
        case truncateOverUDP
        /// First a forged answer (ID + 1, A 6.6.6.6), then the real one.
        case wrongIDFirst
        /// First a forged answer to another question (right ID, A 6.6.6.6), then the real one.
        case wrongQuestionFirst
        /// Only the forged answer with the wrong ID.
        case onlyWrongID
        /// SERVFAIL.
        case servFail
        /// REFUSED.
        case refused
    }

    /// One query as the fake received it.
    struct Received: Sendable {
        var message: DNSMessage
        var source: SocketAddress
        var overTCP: Bool
    }

    static let forgedAddress = DNSIPv4Address(6, 6, 6, 6)

    /// Where the fake listens (UDP and TCP).
    let address: SocketAddress
    private let script: FakeUpstreamScript
    private let channels: [any Channel]

    private init(address: SocketAddress, script: FakeUpstreamScript, channels: [any Channel]) {
        self.address = address
        self.script = script
        self.channels = channels
    }

    /// The address every `.answer` carries.
    var answerAddress: DNSIPv4Address { script.answerAddress }

    /// Starts a fake on `group`: UDP on an ephemeral port, then TCP on the same port number.
    static func start(
        on group: any EventLoopGroup, behaviour: Behaviour, answerAddress: DNSIPv4Address = DNSIPv4Address(192, 0, 2, 1)
    ) async throws -> FakeUpstream {
        let script = FakeUpstreamScript(behaviour: behaviour, answerAddress: answerAddress)
        let (udp, tcp, port) = try await bindUDPAndTCP(
            group: group,
            udp: { try $0.pipeline.syncOperations.addHandler(FakeUDPHandler(script: script)) },
            tcp: {
                try $0.pipeline.syncOperations.addHandlers(
                    ByteToMessageHandler(DNSTCPFrameDecoder()), FakeTCPHandler(script: script))
            })
        return FakeUpstream(
            address: try SocketAddress(ipAddress: "127.0.0.1", port: port), script: script, channels: [udp, tcp])
    }

    /// Changes how the fake answers from now on.
    func setBehaviour(_ behaviour: Behaviour) {
        script.state.withLock { $0.behaviour = behaviour }
    }

    /// Every query received so far, in order.
    var received: [Received] { script.state.withLock { $0.received } }

    /// Closes the sockets.
    func stop() async throws {
        for channel in channels {
            try await channel.close()
        }
    }
}

/// What a fake upstream does and has seen; shared by its UDP and TCP handlers.
final class FakeUpstreamScript: Sendable {
    typealias Behaviour = FakeUpstream.Behaviour
    typealias Received = FakeUpstream.Received

    let answerAddress: DNSIPv4Address
    let state: Mutex<(behaviour: Behaviour, received: [Received])>

    // A literal known to be valid.
    // swift-format-ignore: NeverUseForceTry
    static let spoofedName = try! DNSName("spoofed.invalid")

    init(behaviour: Behaviour, answerAddress: DNSIPv4Address) {
        self.answerAddress = answerAddress
        self.state = Mutex((behaviour, []))
    }

    /// Records `query` and returns the messages to send back, in order.
    func respond(to query: DNSMessage, from source: SocketAddress, overTCP: Bool) -> [DNSMessage] {
        let behaviour = state.withLock { state in
            state.received.append(Received(message: query, source: source, overTCP: overTCP))
            return state.behaviour
        }
        switch behaviour {
        case .answer:
            return [answer(to: query)]
        case .silent:
            return []
        case .truncateOverUDP:
            if overTCP { return [answer(to: query)] }
            var truncated = query.makeResponse()
            truncated.header.tc = true
            return [truncated]
        case .wrongIDFirst:
            var forged = answer(to: query, address: FakeUpstream.forgedAddress)
            forged.header.id &+= 1
            return [forged, answer(to: query)]
        case .wrongQuestionFirst:
            var forged = answer(to: query, address: FakeUpstream.forgedAddress)
            forged.questions = [DNSQuestion(name: Self.spoofedName, type: .A)]
            return [forged, answer(to: query)]
        case .onlyWrongID:
            var forged = answer(to: query, address: FakeUpstream.forgedAddress)
            forged.header.id &+= 1
            return [forged]
        case .servFail:
            return [query.makeResponse(rcode: .servFail)]
        case .refused:
            return [query.makeResponse(rcode: .refused)]
        }
    }

    private func answer(to query: DNSMessage, address: DNSIPv4Address? = nil) -> DNSMessage {
        var response = query.makeResponse()
        response.questions = query.questions.map { question in
            var lowered = question
            lowered.name = question.name.lowercased()
            return lowered
        }
        if let question = query.questions.first {
            response.addAnswer(.a(question.name.lowercased(), ttl: 300, address ?? answerAddress))
        }
        return response
    }
}

/// The fake's UDP side. Not `Sendable`: lives on its channel's event loop.
private final class FakeUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let script: FakeUpstreamScript

    init(script: FakeUpstreamScript) { self.script = script }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        var bytes = envelope.data
        guard let query = try? DNSMessage(from: &bytes) else { return }
        for response in script.respond(to: query, from: envelope.remoteAddress, overTCP: false) {
            let reply = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: response.encoded())
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        }
    }
}

/// The fake's TCP side (after the frame decoder). Not `Sendable`: lives on its channel's event loop.
private final class FakeTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let script: FakeUpstreamScript

    init(script: FakeUpstreamScript) { self.script = script }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard let query = try? DNSMessage(from: &bytes), let source = context.channel.remoteAddress else { return }
        for response in script.respond(to: query, from: source, overTCP: true) {
            let encoded = response.encoded()
            var framed = context.channel.allocator.buffer(capacity: encoded.readableBytes + 2)
            framed.writeInteger(UInt16(encoded.readableBytes))
            framed.writeImmutableBuffer(encoded)
            context.writeAndFlush(wrapOutboundOut(framed), promise: nil)
        }
    }
}
