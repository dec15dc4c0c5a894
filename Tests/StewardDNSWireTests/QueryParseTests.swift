import NIOCore
import StewardDNSWire
import Testing

@Suite struct QueryParseTests {
    @Test("Captured dig queries are accepted as queries", arguments: Fixtures.queries.map(\.1))
    func capturedQueriesAccepted(fixture: String) {
        guard case .query(let query) = DNSMessage.parseQuery(buffer(hex: fixture)) else {
            Issue.record("not accepted")
            return
        }
        #expect(query.questions.count == 1)
        #expect(!query.header.qr)
    }

    @Test("Fewer than 2 octets are dropped", arguments: 0...1)
    func tooShortForID(length: Int) {
        guard case .drop(let error) = DNSMessage.parseQuery(ByteBuffer(bytes: [UInt8](repeating: 0x12, count: length))) else {
            Issue.record("not dropped")
            return
        }
        #expect(error.kind == .truncated)
        #expect(error.field == "header")
    }

    @Test("2 to 11 octets are malformed, with the ID and (once present) the RD bit", arguments: 2...11)
    func shortHeaderIsFormErr(length: Int) {
        let query = bytes(hex: Fixtures.digExampleComAEDNS)
        guard case .malformed(let id, let rd, let error) = DNSMessage.parseQuery(ByteBuffer(bytes: query.prefix(length))) else {
            Issue.record("not malformed")
            return
        }
        #expect(id == 0xB600)
        #expect(rd == (length >= 3))
        #expect(error.kind == .truncated)
    }

    @Test("A response (QR=1) sent to the server is dropped, never answered")
    func responsesDropped() {
        for fixture in Fixtures.responses.map(\.1) {
            guard case .drop(let error) = DNSMessage.parseQuery(buffer(hex: fixture)) else {
                Issue.record("response not dropped")
                continue
            }
            #expect(error.kind == .notAQuery)
        }
        // Even a 3-octet one.
        guard case .drop = DNSMessage.parseQuery(ByteBuffer(bytes: [0, 1, 0x80])) else {
            Issue.record("short response not dropped")
            return
        }
    }

    @Test("Malformed bodies give FORMERR material with the query's ID and RD")
    func malformedBody() {
        var query = bytes(hex: Fixtures.digExampleComANoEDNS)
        query[12] = 0x46  // label length 70
        guard case .malformed(let id, let rd, let error) = DNSMessage.parseQuery(ByteBuffer(bytes: query)) else {
            Issue.record("not malformed")
            return
        }
        #expect(id == 0x9579)
        #expect(rd)
        #expect(error.kind == .labelTooLong)
        #expect(error.field == "question 1 name")
    }

    @Test("Non-QUERY opcodes with other question counts are left to the server (NOTIMP)")
    func otherOpcodes() {
        var update = DNSMessage(header: DNSHeader(id: 5, opcode: .update))
        update.addAuthority(DNSResourceRecord(name: name("example.com"), type: .A, class: .ANY, ttl: 0, rdata: .opaque([])))
        guard case .query(let parsed) = DNSMessage.parseQuery(update.encoded()) else {
            Issue.record("UPDATE not passed through")
            return
        }
        #expect(parsed.header.opcode == .update)
        #expect(parsed == update)
    }

    @Test("The FORMERR reply is a bare 12-octet header")
    func formatError() throws {
        let reply = DNSMessage.formatError(id: 0xABCD, rd: true)
        let encoded = reply.encoded()
        #expect(hex(encoded.allReadableBytes) == "abcd8181" + "0000000000000000")
        #expect(DNSMessage.formatError(id: 1, rd: false).encoded().allReadableBytes == [0, 1, 0x80, 0x81, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test("makeResponse copies ID, opcode, RD, CD and the question's spelling, and answers EDNS with EDNS")
    func makeResponse() throws {
        let query = try message(hex: Fixtures.digMixedCaseAAAA)
        var response = query.makeResponse(rcode: .noError)
        #expect(response.header.id == query.header.id)
        #expect(response.header.qr && response.header.ra && response.header.rd)
        #expect(!response.header.aa && !response.header.ad && !response.header.tc)
        #expect(response.questions.first?.name.description == "WwW.ExAmPlE.oRg")
        #expect(response.edns == EDNS(udpPayloadSize: 1232))
        response.addAnswer(.aaaa(query.questions[0].name, ttl: 60, DNSIPv6Address(high: 0, low: 1)))
        let wire = try reparse(response)
        #expect(wire == response)
        #expect(wire.answers[0].name.isIdentical(to: query.questions[0].name))

        let cd = try message(hex: Fixtures.digTXTWithCD).makeResponse(rcode: .refused)
        #expect(cd.header.cd)
        #expect(cd.rcode == .refused)
        let dnssec = try message(hex: Fixtures.digAnyDNSSEC).makeResponse(rcode: .badVers, udpPayloadSize: 4096)
        #expect(dnssec.edns?.dnssecOK == true)
        #expect(dnssec.edns?.udpPayloadSize == 4096)
        #expect(dnssec.rcode == .badVers)
        let plain = try message(hex: Fixtures.digExampleComANoEDNS).makeResponse(rcode: .nxDomain)
        #expect(plain.edns == nil)
        #expect(plain.header.rcode == .nxDomain)
    }
}

@Suite struct DNSQueryPreviewTests {
    @Test("The preview of each captured query agrees with the full parse", arguments: Fixtures.queries.map(\.1))
    func agreesWithFullParse(fixture: String) throws {
        let buffer = buffer(hex: fixture)
        let preview = try #require(DNSQueryPreview(buffer))
        let full = try message(hex: fixture)
        #expect(preview.header == full.header)
        #expect(preview.qtype == full.questions[0].type)
        #expect(preview.qclass == full.questions[0].class)
        #expect(preview.name(in: buffer)?.isIdentical(to: full.questions[0].name) == true)
        #expect(preview.opt?.udpPayloadSize == full.edns?.udpPayloadSize)
        #expect(preview.opt?.dnssecOK == full.edns?.dnssecOK)
        #expect(preview.opt?.version == full.edns?.version)
        #expect(preview.maxResponseSize == full.maxResponseSize)
        #expect(preview.messageEnd == buffer.writerIndex)
        let dotted = preview.withDottedName(in: buffer) { String(decoding: $0, as: UTF8.self) }
        let expected = full.questions[0].name.withUTF8Text { String(decoding: $0, as: UTF8.self) }
        #expect(dotted == expected)
        #expect(preview.query(in: buffer) == full, "the query made from the preview is the parsed one")
    }

    @Test("Ranges are absolute buffer indices, so a reader index past a TCP prefix works")
    func absoluteRanges() throws {
        var buffer = ByteBuffer(bytes: [0x00, 0x37] + bytes(hex: Fixtures.digHTTPSWithClientSubnet))
        buffer.moveReaderIndex(forwardBy: 2)
        let preview = try #require(DNSQueryPreview(buffer))
        #expect(preview.nameRange == 14..<30)
        #expect(preview.question(in: buffer) == DNSQuestion(name: name("cloudflare.com"), type: .HTTPS))
        let options = try #require(preview.opt?.optionsRange)
        #expect(buffer.getBytes(at: options.lowerBound, length: options.count) == bytes(hex: "0008000700011800c00002"))
        #expect(preview.withDottedName(in: buffer) { String(decoding: $0, as: UTF8.self) } == "cloudflare.com")
        guard case .query(let parsed) = DNSMessage.parseQuery(buffer) else {
            Issue.record("the fixture must parse")
            return
        }
        #expect(preview.query(in: buffer) == parsed)
    }

    static let notSimple: [(String, String)] = [
        ("response", Fixtures.cnameChainResponse),
        ("compressed question name", "010201000001000000000000c00c00010001"),
        ("two questions", "010201000002000000000000" + exampleQuestion + exampleQuestion),
        ("an answer record", "010201000001000100000000" + exampleQuestion + "c00c000100010000000000040a000001"),
        ("non-OPT additional", "010201000001000000000001" + exampleQuestion + "c00c000100010000000000040a000001"),
        ("bad OPT option", "010201000001000000000001" + exampleQuestion + "0000290200000000000003000a00"),
        ("NOTIFY opcode", "010221000001000000000000" + exampleQuestion),
        ("truncated question", "01020100000100000000000007657861"),
        ("label over 63", "010201000001000000000000" + "46" + String(repeating: "61", count: 70) + "0000010001"),
    ]

    @Test("Anything but a simple query falls back (nil)", arguments: notSimple)
    func fallsBack(label: String, packetHex: String) {
        #expect(DNSQueryPreview(buffer(hex: packetHex)) == nil, "\(label)")
    }
}
