import NIOCore
import NIOPosix
import StewardDNSWire
import Synchronization

/// A small authoritative stand-in for the district's upstream resolver, on 127.0.0.1 (UDP and TCP
/// on one port), answering from a table. Names it does not know are NXDOMAIN with a SOA.
final class IntegrationUpstream: Sendable {
    /// Records by lower-case name; CNAME chains are followed within the table.
    let records: [String: [DNSResourceRecord]]
    /// Names answered with TC=1 over UDP (full answer over TCP).
    let truncateOverUDP: Set<String>
    /// Records added to the answer's authority and additional sections, by question name (glue
    /// as a hostile or careless upstream might add it).
    let extraSections: [String: (authority: [DNSResourceRecord], additional: [DNSResourceRecord])]
    let received = Mutex<[String]>([])
    private let channels = Mutex<[any Channel]>([])
    private let boundPort = Mutex<Int>(0)
    var port: Int { boundPort.withLock { $0 } }

    init(
        records: [String: [DNSResourceRecord]], truncateOverUDP: Set<String> = [],
        extraSections: [String: (authority: [DNSResourceRecord], additional: [DNSResourceRecord])] = [:]
    ) {
        self.records = records
        self.truncateOverUDP = truncateOverUDP
        self.extraSections = extraSections
    }

    func start() async throws {
        let (udp, tcp, port) = try await bindUDPAndTCP(
            group: MultiThreadedEventLoopGroup.singleton,
            udp: { try $0.pipeline.syncOperations.addHandler(UDPResponder(upstream: self)) },
            tcp: { try $0.pipeline.syncOperations.addHandler(TCPResponder(upstream: self)) })
        channels.withLock { $0 = [udp, tcp] }
        boundPort.withLock { $0 = port }
    }

    func stop() async {
        for channel in channels.withLock({ $0 }) { try? await channel.close() }
    }

    func answer(_ packet: ByteBuffer, overTCP: Bool) -> ByteBuffer? {
        var buffer = packet
        guard let query = try? DNSMessage(from: &buffer), let question = query.questions.first else { return nil }
        let name = question.name.lowercasedText
        received.withLock { $0.append(name) }
        var response = query.makeResponse()
        response.header.rd = query.header.rd
        // A name whose upstream never answers (a lame delegation, a dead authority).
        if name.hasSuffix("silent.example") { return nil }
        // Truncated over UDP, and over TCP never answered (the connection is held).
        if name == "tcphang.example" {
            guard !overTCP else { return nil }
            var truncated = query.makeResponse()
            truncated.header.tc = true
            return truncated.encoded()
        }
        if name == "tcponly.example" {
            // As the zone's own server answers: authoritative, no recursion.
            response.header.aa = true
            response.header.ra = false
        }
        var current = name
        var found = false
        for _ in 0..<8 {
            guard let set = records[current] else { break }
            found = true
            let matching = set.filter { $0.type == question.type || $0.type == .CNAME }
            response.addAnswers(matching)
            guard let cname = matching.first(where: { $0.type == .CNAME })?.cnameTarget else { break }
            current = cname.lowercasedText
        }
        if !found {
            response.rcode = .nxDomain
            // Names are constants here.
            let zone = try! DNSName("example")
            response.addAuthority(
                .soa(
                    zone, ttl: 300,
                    DNSSOA(
                        primaryServer: try! DNSName("ns.example"), responsibleMailbox: try! DNSName("admin.example"),
                        serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60)))
        }
        if let extra = extraSections[name] {
            for record in extra.authority { response.addAuthority(record) }
            for record in extra.additional { response.addAdditional(record) }
        }
        if !overTCP, truncateOverUDP.contains(name) {
            var truncated = query.makeResponse()
            truncated.header.tc = true
            return truncated.encoded()
        }
        return response.encoded()
    }
}

private final class UDPResponder: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let upstream: IntegrationUpstream
    init(upstream: IntegrationUpstream) { self.upstream = upstream }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        if let reply = upstream.answer(envelope.data, overTCP: false) {
            context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
        }
    }
}

private final class TCPResponder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let upstream: IntegrationUpstream
    var pending = ByteBuffer()
    init(upstream: IntegrationUpstream) { self.upstream = upstream }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        pending.writeBuffer(&incoming)
        while let length = pending.getInteger(at: pending.readerIndex, as: UInt16.self),
            pending.readableBytes >= 2 + Int(length)
        {
            pending.moveReaderIndex(forwardBy: 2)
            guard let message = pending.readSlice(length: Int(length)),
                let reply = upstream.answer(message, overTCP: true)
            else { continue }
            var framed = context.channel.allocator.buffer(capacity: reply.readableBytes + 2)
            framed.writeInteger(UInt16(reply.readableBytes))
            framed.writeImmutableBuffer(reply)
            context.writeAndFlush(wrapOutboundOut(framed), promise: nil)
        }
    }
}
