import NIOCore
import StewardDNSWire

/// One query as sent to one upstream in one attempt, and the rules for accepting its response.
///
/// Every attempt gets a new random 16-bit ID (RFC 5452 9.2: IDs must be unpredictable) and the
/// response is accepted only if it matches the attempt in every way an off-path attacker would
/// have to guess (RFC 5452 9.1): it comes from the upstream's address and port, carries the same
/// ID, is a response (QR=1), and repeats the question (name compared case-insensitively per
/// RFC 4343, type and class). Anything else is ignored and the attempt keeps waiting.
struct UpstreamQuery: Sendable {
    /// The UDP payload size advertised to upstreams, whatever the client advertised (DNS Flag Day
    /// 2020; the server fits the final answer to the client's own size).
    static let advertisedPayloadSize: UInt16 = EDNS.defaultUDPPayloadSize

    /// The ID of this attempt (not the client's).
    let id: UInt16
    /// The question as the client sent it (letter case kept: forwarded unchanged).
    let question: DNSQuestion
    /// Where the response must come from.
    let upstream: SocketAddress
    /// The encoded query, without TCP framing.
    let wire: ByteBuffer

    /// Builds the attempt's query from the client's: same flags (RD, CD, AD, opcode) and question,
    /// the given ID, no records, and a fresh OPT record (RFC 6891 6.1.1) advertising
    /// `advertisedPayloadSize` that keeps only the client's DO bit (RFC 3225 3). The client's own
    /// EDNS options (cookies, client subnet, padding) are hop-by-hop and are not passed on.
    init(forwarding clientQuery: DNSMessage, question: DNSQuestion, id: UInt16, to upstream: SocketAddress) {
        self.init(
            flags: clientQuery.header.flags & Self.forwardedFlags, question: question,
            dnssecOK: clientQuery.edns?.dnssecOK ?? false, id: id, to: upstream)
    }

    /// The header flags a forwarded query keeps of the client's: opcode, RD, Z, AD and CD (QR, AA,
    /// TC, RA and the RCODE are a response's).
    static let forwardedFlags: UInt16 = 0x7970

    /// The same query from its parts: `flags` already masked with `forwardedFlags`; the name is
    /// written as `spelling` (the client's own octets of the same name), if given.
    init(
        flags: UInt16, question: DNSQuestion, dnssecOK: Bool, id: UInt16, to upstream: SocketAddress,
        spelling: ByteBuffer? = nil
    ) {
        var wire = ByteBuffer()
        Self.write(flags: flags, question: question, dnssecOK: dnssecOK, id: id, spelling: spelling, into: &wire)
        self.id = id
        self.question = question
        self.upstream = upstream
        self.wire = wire
    }

    /// Writes the query `init(flags:question:dnssecOK:id:to:spelling:)` makes at the end of
    /// `wire`. Written directly: what `DNSMessage(header:questions:edns:).encoded()` writes for one
    /// question and an OPT record (a single name has nothing to compress), without building the
    /// message and its compression table for every forwarded query.
    static func write(
        flags: UInt16, question: DNSQuestion, dnssecOK: Bool, id: UInt16, spelling: ByteBuffer?,
        into wire: inout ByteBuffer
    ) {
        let opt = EDNS(udpPayloadSize: Self.advertisedPayloadSize, dnssecOK: dnssecOK)
        wire.reserveCapacity(minimumWritableBytes: DNSHeader.size + question.name.wireLength + 4 + opt.wireLength)
        wire.writeMultipleIntegers(id, flags, UInt16(1), UInt16(0), UInt16(0), UInt16(1))
        if let spelling, spelling.readableBytes == question.name.wireLength {
            wire.writeImmutableBuffer(spelling)
        } else {
            wire.writeBytes(question.name.wireBytes)
        }
        wire.writeMultipleIntegers(question.type.rawValue, question.class.rawValue)
        opt.encode(into: &wire)
    }

    /// What to do with a message received during the attempt.
    enum Verdict {
        /// The response to this attempt.
        case accept(DNSMessage)
        /// Not the response (wrong source, ID, QR or question): keep waiting.
        case ignore(String)
        /// Right source and ID but unreadable: keep waiting over UDP (it may be forged), give up
        /// over TCP.
        case malformed(String)
    }

    /// Judges a received message. `source` is the datagram's sender; `nil` over TCP, where the
    /// connection itself is to the upstream.
    func evaluate(_ bytes: ByteBuffer, from source: SocketAddress?) -> Verdict {
        if let source, source != upstream {
            return .ignore("from \(source), not \(upstream)")
        }
        return Self.evaluate(bytes, id: id, question: question)
    }

    /// Judges a message received from the right source for the query with `id` and `question`.
    static func evaluate(_ bytes: ByteBuffer, id: UInt16, question: DNSQuestion) -> Verdict {
        guard let receivedID = bytes.getInteger(at: bytes.readerIndex, as: UInt16.self) else {
            return .ignore("\(bytes.readableBytes) octets, no ID")
        }
        guard receivedID == id else {
            return .ignore("ID \(receivedID), expected \(id)")
        }
        var copy = bytes
        let response: DNSMessage
        do {
            response = try DNSMessage(from: &copy)
        } catch {
            return .malformed("unreadable response: \(error)")
        }
        guard response.header.qr else {
            return .ignore("QR=0: not a response")
        }
        guard response.questions.count == 1, let echoed = response.questions.first else {
            return .ignore("\(response.questions.count) questions in the response")
        }
        guard echoed.name == question.name, echoed.type == question.type, echoed.class == question.class else {
            return .ignore("question \(echoed.name) \(echoed.type) \(echoed.class) does not match")
        }
        return .accept(response)
    }

    /// The upstream's response as the client must see it: the client's ID and question (letter case
    /// as the client sent it, which keeps 0x20 randomisation by the client working), and an OPT
    /// record only if the client sent one (RFC 6891 7). That OPT record advertises our payload
    /// size, echoes the client's DO bit, carries the extended RCODE and keeps only Extended DNS
    /// Error options (RFC 8914), which are about the answer rather than the hop. An extended RCODE
    /// (above 15) cannot reach a client without EDNS and is about our exchange with the upstream
    /// anyway: it becomes SERVFAIL.
    static func clientResponse(from response: DNSMessage, to clientQuery: DNSMessage) -> DNSMessage {
        var message = response
        let rcode = response.rcode
        var header = message.header
        header.id = clientQuery.header.id
        // Steward answers as a recursive resolver, never as the zone's authority (RFC 1035 §4.1.1),
        // whatever the upstream's header said.
        header.aa = false
        header.ra = true
        message.header = header
        message.questions = clientQuery.questions
        if let clientEDNS = clientQuery.edns {
            let errors = response.edns?.options.filter { $0.code == .extendedDNSError } ?? []
            message.edns = EDNS(
                udpPayloadSize: EDNS.defaultUDPPayloadSize, dnssecOK: clientEDNS.dnssecOK, options: errors)
            message.rcode = rcode
        } else {
            message.edns = nil
            message.rcode = rcode.fitsInHeader ? rcode : .servFail
        }
        return message
    }
}
