import NIOCore
import StewardDNSWire
import Testing

@testable import StewardDNS

/// `DNSCachedWire.fromUpstream`: an upstream's datagram read as a cache entry serves the client the
/// message the encoder would have written (`UpstreamQuery.clientResponse`) and the cache would have
/// stored (`DNSCacheAdmission`), and reading is declined whenever the bytes are not a plain answer
/// that can be taken as they are.
@Suite struct UpstreamWireTests {
    /// The client's query: its letter case, ID 0xBEEF, and an OPT record if `edns` is given.
    static func clientQuery(_ name: String, edns: EDNS?) throws -> DNSMessage {
        DNSMessage(
            header: DNSHeader(id: 0xBEEF, rd: true), questions: [DNSQuestion(name: try DNSName(name), type: .A)],
            edns: edns)
    }

    /// The upstream's answer to the forwarded query: another ID, the name lower-cased, a CNAME
    /// chain and addresses (compressed against the question and each other), and an OPT record.
    static func upstreamAnswer(
        to query: DNSMessage, rcode: DNSResponseCode = .noError, edns: EDNS? = EDNS(udpPayloadSize: 1232)
    ) throws -> DNSMessage {
        let name = query.questions[0].name.lowercased()
        var answer = DNSMessage(
            header: DNSHeader(id: 0x1111, qr: true, rd: true, ra: true),
            questions: [DNSQuestion(name: name, type: .A)], edns: edns)
        answer.rcode = rcode
        if rcode == .noError {
            let target = try DNSName("edge.cdn.example.net")
            answer.addAnswer(.cname(name, ttl: 300, target: target))
            answer.addAnswer(.a(target, ttl: 60, DNSIPv4Address(192, 0, 2, 7)))
            answer.addAnswer(.a(target, ttl: 60, DNSIPv4Address(192, 0, 2, 8)))
        } else {
            answer = try CacheTests.negative(answer.questions[0], rcode: rcode, soaTTL: 900, minimum: 300)
            answer.header.id = 0x1111
            answer.edns = edns
        }
        return answer
    }

    static let admission = DNSCacheAdmission(minTTL: 0, maxTTL: 86_400, negativeMaxTTL: 3_600)

    static func read(_ upstream: ByteBuffer, for query: DNSMessage) -> (wire: DNSCachedWire, lifetime: UInt32?)? {
        DNSCachedWire.fromUpstream(
            upstream, key: DNSCacheKey(query.questions[0]), admission: admission, storedAt: 0)
    }

    /// What a client gets from `upstream` read this way, or nil if it was declined or too large.
    static func copy(_ upstream: ByteBuffer, for query: DNSMessage, maxSize: Int = 1232) -> ByteBuffer? {
        guard let (wire, _) = read(upstream, for: query) else { return nil }
        let packet = query.encoded()
        guard let preview = DNSQueryPreview(packet) else { return nil }
        let questionEnd = preview.nameRange.upperBound + 4 - packet.readerIndex
        guard wire.responseSize(questionEnd: questionEnd, withOPT: preview.opt != nil) <= maxSize else { return nil }
        var response = ByteBuffer()
        wire.write(into: &response, packet: packet, preview: preview, elapsed: 0)
        return response
    }

    @Test(
        "The answer served is the message the encoder would write: client's ID, letter case and OPT, upstream's records",
        arguments: [
            (EDNS(udpPayloadSize: 4096, dnssecOK: true) as EDNS?, EDNS(udpPayloadSize: 1232) as EDNS?, DNSResponseCode.noError),
            (nil, EDNS(udpPayloadSize: 1232), .noError),
            (EDNS(udpPayloadSize: 1400), nil, .noError),
            (nil, nil, .nxDomain),
            (EDNS(udpPayloadSize: 1400), EDNS(udpPayloadSize: 4096, dnssecOK: true), .nxDomain),
        ])
    func copyIsTheEncodedMessage(clientEDNS: EDNS?, upstreamEDNS: EDNS?, rcode: DNSResponseCode) throws {
        let query = try Self.clientQuery("WWW.Example.COM", edns: clientEDNS)
        let upstream = try Self.upstreamAnswer(to: query, rcode: rcode, edns: upstreamEDNS)
        var copied = try #require(Self.copy(upstream.encoded(), for: query))
        // The records with their TTLs as the cache stores them (a negative answer's SOA has
        // min(TTL, MINIMUM)), as every later hit serves them.
        let question = query.questions[0]
        let entry = try #require(Self.admission.entry(for: upstream, question: question, now: .uptimeNanoseconds(0)))
        var expected = UpstreamQuery.clientResponse(from: upstream, to: query)
        expected.answers = entry.answers
        expected.authorities = entry.authorities
        expected.additionals = entry.additionals
        var encoded = expected.encoded(maxSize: 1232)
        var parsedCopy = try DNSMessage(from: &copied)
        let parsedEncoded = try DNSMessage(from: &encoded)
        // Flags as a cache hit sets them: the query's RD, RA set, AA and AD clear.
        #expect(parsedCopy.header.rd && parsedCopy.header.ra && !parsedCopy.header.aa && !parsedCopy.header.ad)
        #expect(parsedCopy.header.id == 0xBEEF)
        parsedCopy.header = parsedEncoded.header
        #expect(parsedCopy == parsedEncoded)
        #expect(parsedCopy.questions[0].name.isIdentical(to: try DNSName("WWW.Example.COM")))
        #expect(parsedCopy.edns == expected.edns)
        #expect(parsedCopy.rcode == rcode)

        // What the cache stores for it: the same lifetime and records as from the parsed message,
        // and the same checks for the policy.
        let (wire, lifetime) = try #require(Self.read(upstream.encoded(), for: query))
        #expect(lifetime == entry.ttl)
        let records = try #require(wire.records(question: question))
        #expect(records.answers == entry.answers)
        #expect(records.authorities == entry.authorities)
        #expect(records.additionals == entry.additionals)
        let fromEntry = try #require(DNSCachedWire(entry, question: question, key: DNSCacheKey(question)))
        #expect(wire.checks == fromEntry.checks)
        #expect(wire.ttls == fromEntry.ttls)
    }

    @Test("Reading is declined when the bytes are not a plain answer that can be taken as they are")
    func declines() throws {
        let query = try Self.clientQuery("www.example.com", edns: EDNS(udpPayloadSize: 1232))
        let plain = try Self.upstreamAnswer(to: query).encoded()
        #expect(Self.copy(plain, for: query) != nil, "the unchanged answer is copied")

        // The upstream's OPT record carries an option (an Extended DNS Error to pass on).
        var withOption = try Self.upstreamAnswer(to: query)
        withOption.edns?.options = [EDNSOption(code: .extendedDNSError, data: [0, 18])]
        #expect(Self.copy(withOption.encoded(), for: query) == nil)

        // An extended RCODE (BADCOOKIE, 23) lives in the OPT record.
        var extended = try Self.upstreamAnswer(to: query)
        extended.rcode = DNSResponseCode(rawValue: 23)
        #expect(Self.copy(extended.encoded(), for: query) == nil)

        // Bytes after the last record.
        var trailing = plain
        trailing.writeBytes([0, 0])
        #expect(Self.copy(trailing, for: query) == nil)

        // A record after the OPT record (ARCOUNT raised to match).
        var afterOPT = plain
        afterOPT.writeBytes([0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 9])
        let additionals = try #require(afterOPT.getInteger(at: 10, as: UInt16.self))
        afterOPT.setInteger(additionals + 1, at: 10)
        #expect(Self.copy(afterOPT, for: query) == nil)

        // A question name written as a pointer.
        // (Padded past where the client's question would end, so only the pointer is wrong.)
        var pointer = ByteBuffer(
            bytes: Array(plain.readableBytesView.prefix(12)) + [0xC0, 0x0C, 0, 1, 0, 1] + Array(repeating: 0, count: 40))
        pointer.setInteger(UInt16(0), at: 6)
        pointer.setInteger(UInt16(0), at: 10)
        #expect(Self.copy(pointer, for: query) == nil)

        // A name that reaches into the header, which the copy does not keep: a CNAME whose target
        // points at offset 5 (QDCOUNT's low octet), read by the parser as a name made of the counts.
        let noOPT = try Self.clientQuery("www.example.com", edns: nil)
        var intoHeader = DNSMessage(
            header: DNSHeader(id: 0x1111, qr: true, rd: true, ra: true),
            questions: [DNSQuestion(name: try DNSName("www.example.com"), type: .A)])
        intoHeader.addAnswer(.cname(try DNSName("www.example.com"), ttl: 60, target: try DNSName("x.example.com")))
        intoHeader.addAnswer(.a(try DNSName("x.example.com"), ttl: 60, DNSIPv4Address(192, 0, 2, 9)))
        var headerPointer = intoHeader.encoded()
        // The CNAME's RDATA starts after header (12), question (17 + 4) and the owner pointer and
        // fixed fields (2 + 10): rewrite it as a bare pointer to offset 5.
        let rdataStart = 12 + 21 + 12
        let rdLength = try #require(headerPointer.getInteger(at: rdataStart - 2, as: UInt16.self))
        var rewritten = ByteBuffer(bytes: Array(headerPointer.readableBytesView.prefix(rdataStart - 2)))
        rewritten.writeInteger(UInt16(2))
        rewritten.writeBytes([0xC0, 0x05])
        rewritten.writeBytes(Array(headerPointer.readableBytesView.dropFirst(rdataStart + Int(rdLength))))
        headerPointer = rewritten
        var parsed = headerPointer
        #expect((try? DNSMessage(from: &parsed)) != nil, "the parser accepts the pointer into the header")
        #expect(Self.copy(headerPointer, for: noOPT) == nil)

        // Cut short.
        #expect(Self.copy(plain.getSlice(at: 0, length: plain.readableBytes - 3)!, for: query) == nil)

        // Truncated, a failure, another question, a TSIG record: the general way decides.
        for change in [
            { (message: inout DNSMessage) in message.header.tc = true },
            { (message: inout DNSMessage) in message.rcode = .servFail },
            { (message: inout DNSMessage) in message.rcode = .refused },
            { (message: inout DNSMessage) in message.header.qr = false },
            { (message: inout DNSMessage) in message.questions[0].type = .AAAA },
            { (message: inout DNSMessage) in message.questions[0].name = try! DNSName("www.example.org") },
            { (message: inout DNSMessage) in
                message.additionals.append(
                    DNSResourceRecord(name: try! DNSName("key.example"), type: .TSIG, class: .ANY, ttl: 0, rdata: .opaque([1, 2, 3])))
            },
        ] {
            var changed = try Self.upstreamAnswer(to: query)
            change(&changed)
            #expect(Self.read(changed.encoded(), for: query) == nil, "\(changed)")
        }
    }

    /// An answer to `www.example.com A` whose second record's owner reaches the question through
    /// `chain` compression pointers kept in the first record (a TXT record's data): `chain + 1` hops.
    static func pointerChain(_ chain: Int) -> ByteBuffer {
        var bytes: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]
        bytes += [3] + Array("www".utf8) + [7] + Array("example".utf8) + [3] + Array("com".utf8) + [0, 0, 1, 0, 1]
        let rdataStart = bytes.count + 12
        bytes += [0xC0, 0x0C, 0, 16, 0, 1, 0, 0, 0, 60, UInt8((2 * chain) >> 8), UInt8((2 * chain) & 0xFF)]
        for index in 0..<chain {
            let target = index == 0 ? 12 : rdataStart + 2 * (index - 1)
            bytes += [0xC0 | UInt8(target >> 8), UInt8(target & 0xFF)]
        }
        let last = rdataStart + 2 * (chain - 1)
        bytes += [0xC0 | UInt8(last >> 8), UInt8(last & 0xFF), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]
        return ByteBuffer(bytes: bytes)
    }

    @Test("Names are read by the parser's pointer rules: no pointer into the labels it ends, at most 128 hops")
    func pointerRules() throws {
        let query = try Self.clientQuery("www.example.com", edns: nil)
        // 101 hops: the parser reads it, and so does the wire reader.
        var within = Self.pointerChain(100)
        #expect((try? DNSMessage(from: &within)) != nil)
        #expect(Self.read(Self.pointerChain(100), for: query) != nil)
        // 131 hops: neither does.
        var beyond = Self.pointerChain(130)
        #expect((try? DNSMessage(from: &beyond)) == nil)
        #expect(Self.read(Self.pointerChain(130), for: query) == nil)

        // A CNAME target `02 00 00 C0 <its own second octet>`: the pointer lands inside the run of
        // labels it ends (before itself, but not before the run): the parser calls that a loop.
        var message = DNSMessage(
            header: DNSHeader(id: 0x1111, qr: true, rd: true, ra: true), questions: query.questions)
        message.addAnswer(.cname(try DNSName("www.example.com"), ttl: 60, target: try DNSName("x.example.com")))
        let encoded = message.encoded()
        let rdataStart = 12 + 21 + 12
        var bytes = Array(encoded.readableBytesView.prefix(rdataStart - 2))
        bytes += [0, 5, 0x02, 0x00, 0x00, 0xC0, UInt8(rdataStart + 1)]
        var looped = ByteBuffer(bytes: bytes)
        #expect((try? DNSMessage(from: &looped)) == nil)
        #expect(Self.read(ByteBuffer(bytes: bytes), for: query) == nil)
    }

    @Test("TTLs are stored and served as the cache admits them: clamped, and a negative answer's from its SOA")
    func ttls() throws {
        let query = try Self.clientQuery("www.example.com", edns: nil)
        // A TTL over the ceiling, and one with the top bit set (RFC 2181 8: zero).
        var answer = try Self.upstreamAnswer(to: query)
        answer.answers[0].ttl = 1_000_000
        answer.answers[1].ttl = 0x8000_0010
        let (wire, lifetime) = try #require(Self.read(answer.encoded(), for: query))
        #expect(wire.ttls == [86_400, 0, 60])
        #expect(lifetime == nil, "an answer with a record of TTL 0 is not cached")
        var served = try #require(Self.copy(answer.encoded(), for: query))
        #expect(try DNSMessage(from: &served).answers.map(\.ttl) == [86_400, 0, 60])

        // NXDOMAIN: the SOA's TTL is min(TTL, MINIMUM), and so is the lifetime.
        let negative = try Self.upstreamAnswer(to: query, rcode: .nxDomain, edns: nil)
        let (negativeWire, negativeLifetime) = try #require(Self.read(negative.encoded(), for: query))
        #expect(negativeLifetime == 300)
        #expect(negativeWire.ttls == [300])
        #expect(negativeWire.rcode == 3)

        // NODATA without an SOA: served, not cached.
        var bare = DNSMessage(header: DNSHeader(id: 9, qr: true, rd: true, ra: true), questions: query.questions)
        bare.rcode = .noError
        let (_, bareLifetime) = try #require(Self.read(bare.encoded(), for: query))
        #expect(bareLifetime == nil)
    }
}
