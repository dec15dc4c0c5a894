import NIOCore
import StewardDNSWire
import Testing

@Suite struct DNSMessageTests {
    @Test("Every captured or assembled packet re-encodes to a message that parses the same",
        arguments: Fixtures.all.map(\.1), [true, false])
    func fixtureRoundTrip(fixture: String, compress: Bool) throws {
        let original = try message(hex: fixture)
        let reparsed = try reparse(original, compress: compress)
        #expect(reparsed == original)
        #expect(reparsed.questions.map(\.name.wireBytes) == original.questions.map(\.name.wireBytes))
        #expect(reparsed.answers.map(\.name.wireBytes) == original.answers.map(\.name.wireBytes))
    }

    @Test("Captured dig queries re-encode to exactly the octets dig sent", arguments: Fixtures.queries.map(\.1))
    func queriesAreByteExact(fixture: String) throws {
        let parsed = try message(hex: fixture)
        #expect(hex(parsed.encoded().allReadableBytes) == fixture)
    }

    // Not the SRV/PTR fixture: its PTR target is assembled as "sip" + pointer, while the encoder
    // points at the whole (uncompressed) SRV target instead, which is 4 octets shorter.
    @Test("Hand-assembled responses re-encode to exactly the same octets (same compression choices)",
        arguments: [Fixtures.cnameChainResponse, Fixtures.nxdomainSOAResponse, Fixtures.mxWithGlueResponse,
            Fixtures.rfc8482AnyResponse, Fixtures.httpsResponse])
    func responsesAreByteExact(fixture: String) throws {
        #expect(hex(try message(hex: fixture).encoded().allReadableBytes) == fixture)
    }

    @Test("The SRV/PTR response compresses the PTR target against the SRV target")
    func srvPTRCompression() throws {
        let original = bytes(hex: Fixtures.srvAndPTRResponse)
        let encoded = try message(hex: Fixtures.srvAndPTRResponse).encoded().allReadableBytes
        #expect(encoded.count == original.count - 4)
        #expect(Array(encoded.suffix(2)) == [0xC0, 0x39])  // offset of the SRV target
    }

    @Test("The captured A query has the fields dig put in it")
    func capturedQueryFields() throws {
        let query = try message(hex: Fixtures.digExampleComAEDNS)
        #expect(query.header.id == 0xB600)
        #expect(query.header.rd && query.header.ad && !query.header.qr && !query.header.cd)
        #expect(query.header.opcode == .query)
        #expect(query.questions == [DNSQuestion(name: name("example.com"), type: .A, class: .IN)])
        #expect(query.header.additionalCount == 1)
        #expect(query.additionals.isEmpty)
        #expect(query.edns?.udpPayloadSize == 1232)
        #expect(query.edns?.dnssecOK == false)
        #expect(try message(hex: Fixtures.digAnyDNSSEC).edns?.dnssecOK == true)
        #expect(try message(hex: Fixtures.digExampleComANoEDNS).edns == nil)
        #expect(try message(hex: Fixtures.digRootNS).question?.name.isRoot == true)
        #expect(try message(hex: Fixtures.digTXTWithCD).header.cd == true)
        let mixed = try message(hex: Fixtures.digMixedCaseAAAA)
        #expect(mixed.question?.name.description == "WwW.ExAmPlE.oRg")
        #expect(mixed.question?.type == .AAAA)
    }

    @Test("A CNAME chain with pointers into RDATA decompresses to full names")
    func cnameChain() throws {
        let response = try message(hex: Fixtures.cnameChainResponse)
        #expect(response.answers.count == 4)
        #expect(response.answers[0].cnameTarget == name("cdn.example.net"))
        #expect(response.answers[1].name == name("cdn.example.net"))
        #expect(response.answers[1].cnameTarget == name("edge.cdn.example.net"))
        #expect(response.answers[2].name.description == "edge.cdn.example.net")
        #expect(response.answers.compactMap(\.ipv4).map(\.description) == ["192.0.2.10", "192.0.2.11"])
        #expect(response.answers.map(\.ttl) == [300, 60, 20, 20])
        #expect(response.edns == EDNS(udpPayloadSize: 1232))
    }

    @Test("NXDOMAIN keeps its SOA authority, MX keeps its glue, SRV and PTR keep their names")
    func otherResponses() throws {
        let nx = try message(hex: Fixtures.nxdomainSOAResponse)
        #expect(nx.rcode == .nxDomain)
        guard case .soa(let soa) = nx.authorities.first?.rdata else {
            Issue.record("no SOA in \(nx.authorities)")
            return
        }
        #expect(soa.primaryServer.description == "ns1.example.com")
        #expect(soa.responsibleMailbox.description == "hostmaster.example.com")
        #expect([soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] == [2_024_010_101, 7200, 3600, 1_209_600, 300])
        #expect(nx.edns?.dnssecOK == true)

        let mx = try message(hex: Fixtures.mxWithGlueResponse)
        #expect(mx.answers.first?.rdata == .mx(preference: 10, exchange: name("mail.example.com")))
        #expect(mx.additionals.map(\.type) == [.A, .AAAA])
        #expect(mx.additionals.last?.ipv6?.description == "2001:db8::25")
        #expect(mx.edns?.option(.nsid)?.data == Array("ns-1".utf8))
        #expect(mx.header.aa)

        let srv = try message(hex: Fixtures.srvAndPTRResponse)
        #expect(srv.answers.first?.rdata == .srv(priority: 10, weight: 60, port: 5060, target: name("sip.example.com")))
        #expect(srv.additionals.first?.rdata == .ptr(name("sip.example.com")))

        let any = try message(hex: Fixtures.rfc8482AnyResponse)
        #expect(any.answers.first?.type == .HINFO)
        #expect(any.answers.first?.rdata == .opaque([7] + Array("RFC8482".utf8) + [0]))
    }

    @Test("Compression shrinks repeated names and only points at identically spelled suffixes")
    func compression() throws {
        let owner = name("www.example.com")
        let response = DNSMessage(
            header: DNSHeader(id: 9, qr: true),
            questions: [DNSQuestion(name: owner, type: .A)],
            answers: [.a(owner, ttl: 1, DNSIPv4Address(1, 2, 3, 4)), .a(name("WWW.EXAMPLE.COM"), ttl: 1, DNSIPv4Address(5, 6, 7, 8))])
        let compressed = response.encoded()
        let plain = response.encoded(compress: false)
        // Question name: 17 octets. Answer 1 owner: a 2-octet pointer. Answer 2 owner differs in case: written in full.
        #expect(plain.readableBytes == 12 + 21 + 2 * (17 + 14))
        #expect(compressed.readableBytes == 12 + 21 + (2 + 14) + (17 + 14))
        var copy = compressed
        let decoded = try DNSMessage(from: &copy)
        #expect(decoded.answers[1].name.description == "WWW.EXAMPLE.COM")
        #expect(decoded == response)
    }

    @Test("Names in SRV and DNAME RDATA are never compressed, but can be pointed at")
    func uncompressibleRdata() throws {
        let target = name("sip.example.com")
        let response = DNSMessage(
            header: DNSHeader(id: 1, qr: true),
            questions: [DNSQuestion(name: target, type: .A)],
            answers: [
                DNSResourceRecord(name: target, type: .SRV, ttl: 1, rdata: .srv(priority: 0, weight: 0, port: 1, target: target)),
                DNSResourceRecord(name: target, type: .DNAME, ttl: 1, rdata: .dname(target)),
                .cname(target, ttl: 1, target: target),
            ])
        let bytes = response.encoded().allReadableBytes
        let plainName = target.wireBytes
        // The question, the SRV target and the DNAME target each appear in full.
        var occurrences = 0
        for start in 0...(bytes.count - plainName.count) where Array(bytes[start..<start + plainName.count]) == plainName {
            occurrences += 1
        }
        #expect(occurrences == 3)
        var buffer = ByteBuffer(bytes: bytes)
        #expect(try DNSMessage(from: &buffer) == response)
    }

    @Test("Names written past offset 0x3FFF are never pointed at (pointers have 14 bits)", arguments: [true, false])
    func largeMessage(compress: Bool) throws {
        var response = DNSMessage(header: DNSHeader(id: 3, qr: true), questions: [DNSQuestion(name: name("big.example"), type: .A)])
        for index in 0..<1500 {
            let owner = name("host-\(index / 2).big.example")  // each name twice in a row
            response.addAnswer(.a(owner, ttl: 1, DNSIPv4Address(UInt32(index))))
        }
        let encoded = response.encoded(compress: compress)
        #expect(encoded.readableBytes > 0x4000)
        var copy = encoded
        let decoded = try DNSMessage(from: &copy)
        #expect(decoded == response)
        #expect(decoded.answers.map(\.name.wireBytes) == response.answers.map(\.name.wireBytes))
    }

    @Test("Header counts always describe the sections, whatever is assigned")
    func countsFollowSections() {
        var message = DNSMessage(header: DNSHeader(id: 1, flags: 0, questionCount: 9, answerCount: 9))
        #expect(message.header.questionCount == 0)
        #expect(message.header.answerCount == 0)
        message.addAnswer(.a(name("a"), ttl: 1, DNSIPv4Address(1)))
        message.addAdditional(.a(name("a"), ttl: 1, DNSIPv4Address(1)))
        message.edns = EDNS()
        #expect(message.header.answerCount == 1)
        #expect(message.header.additionalCount == 2)
        message.header.authorityCount = 40
        #expect(message.header.authorityCount == 0)
        message.header.rd = true
        #expect(message.header.rd)
    }

    @Test("Trailing bytes after the last record are ignored and left unread")
    func trailingGarbage() throws {
        var buffer = ByteBuffer(bytes: bytes(hex: Fixtures.digExampleComANoEDNS + "deadbeef"))
        let parsed = try DNSMessage(from: &buffer)
        #expect(parsed.question?.name == name("example.com"))
        #expect(buffer.readableBytes == 4)
    }

    @Test("A message that does not start at index 0 resolves pointers from its own start")
    func offsetMessage() throws {
        // A 2-octet TCP length prefix in front of the message.
        let body = bytes(hex: Fixtures.cnameChainResponse)
        var buffer = ByteBuffer(bytes: [UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body)
        #expect(buffer.readInteger(as: UInt16.self) == UInt16(body.count))
        let parsed = try DNSMessage(from: &buffer)
        #expect(parsed.answers.last?.name.description == "edge.cdn.example.net")
        // And encoding after existing bytes writes pointers relative to the message start.
        var out = ByteBuffer(bytes: [0xAA, 0xBB, 0xCC])
        parsed.encode(into: &out)
        out.moveReaderIndex(forwardBy: 3)
        #expect(try DNSMessage(from: &out) == parsed)
    }
}
