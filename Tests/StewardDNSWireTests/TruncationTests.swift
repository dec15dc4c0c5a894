import NIOCore
import StewardDNSWire
import Testing

@Suite struct TruncationTests {
    /// A response with `count` A answers for a longish name, plus one authority and two additionals.
    static func bigResponse(count: Int, edns: EDNS? = EDNS(udpPayloadSize: 1232, dnssecOK: true)) -> DNSMessage {
        let owner = name("a-rather-long-label-for-padding.cdn.Example.com")
        var response = DNSMessage(
            header: DNSHeader(id: 0x4242, qr: true, rd: true, ra: true),
            questions: [DNSQuestion(name: owner, type: .A)], edns: edns)
        for index in 0..<count {
            response.addAnswer(.a(owner, ttl: 30, DNSIPv4Address(UInt32(0x0A00_0000 + index))))
        }
        response.addAuthority(DNSResourceRecord(name: name("example.com"), type: .NS, ttl: 60, rdata: .ns(name("ns1.example.com"))))
        response.addAdditional(.a(name("ns1.example.com"), ttl: 60, DNSIPv4Address(192, 0, 2, 53)))
        response.addAdditional(.aaaa(name("ns1.example.com"), ttl: 60, DNSIPv6Address(high: 0x2001_0DB8 << 32, low: 53)))
        return response
    }

    @Test("Many answers at 512 octets: TC set, at most 512, still parses, OPT kept", arguments: [true, false])
    func truncatesTo512(compress: Bool) throws {
        let response = Self.bigResponse(count: 100)
        var buffer = ByteBuffer()
        let truncated = response.encode(into: &buffer, maxSize: 512, compress: compress)
        #expect(truncated)
        #expect(buffer.readableBytes <= 512)
        let parsed = try DNSMessage(from: &buffer)
        #expect(parsed.header.tc)
        #expect(parsed.edns == response.edns)
        #expect(parsed.answers.count > 0 && parsed.answers.count < 100)
        #expect(parsed.answers == Array(response.answers.prefix(parsed.answers.count)))
        #expect(parsed.authorities.isEmpty && parsed.additionals.isEmpty)
        #expect(parsed.questions == response.questions)
        // Whole records were dropped: one more would not have fitted.
        var bigger = parsed
        bigger.header.tc = false
        bigger.answers.append(response.answers[parsed.answers.count])
        #expect(bigger.encoded(compress: compress).readableBytes > 512)
    }

    @Test("Without EDNS the truncated response has no OPT record either")
    func truncatesWithoutEDNS() throws {
        var buffer = Self.bigResponse(count: 60, edns: nil).encoded(maxSize: 512)
        #expect(buffer.readableBytes <= 512)
        let parsed = try DNSMessage(from: &buffer)
        #expect(parsed.header.tc)
        #expect(parsed.edns == nil)
    }

    @Test("A message that fits exactly is not truncated; one octet less is")
    func exactFit() throws {
        let response = Self.bigResponse(count: 3)
        let size = response.encoded().readableBytes
        var buffer = ByteBuffer()
        #expect(!response.encode(into: &buffer, maxSize: size))
        #expect(buffer.readableBytes == size)
        #expect(!(try DNSMessage(from: &buffer)).header.tc)
        buffer.clear()
        #expect(response.encode(into: &buffer, maxSize: size - 1))
        #expect(buffer.readableBytes < size)
    }

    @Test("Dropping only additional records does not set TC (RFC 2181 9)")
    func additionalOnly() throws {
        let response = Self.bigResponse(count: 2)
        let full = response.encoded().readableBytes
        var buffer = ByteBuffer()
        #expect(response.encode(into: &buffer, maxSize: full - 1))
        let parsed = try DNSMessage(from: &buffer)
        #expect(!parsed.header.tc)
        #expect(parsed.answers.count == 2 && parsed.authorities.count == 1)
        #expect(parsed.additionals.count == 1)
        #expect(parsed.edns != nil)
    }

    @Test("A TC bit already set is kept")
    func existingTC() throws {
        var response = Self.bigResponse(count: 1)
        response.header.tc = true
        #expect(try reparse(response).header.tc)
    }

    @Test("Every size limit gives a parseable message no larger than the limit, with sections cut from the end")
    func everyLimit() throws {
        let response = Self.bigResponse(count: 12)
        let full = response.encoded().readableBytes
        var buffer = ByteBuffer()
        for limit in 0...(full + 1) {
            buffer.clear()
            let dropped = response.encode(into: &buffer, maxSize: limit)
            #expect(buffer.readableBytes <= max(limit, 12), "limit \(limit)")
            #expect(dropped == (limit < full), "limit \(limit)")
            let parsed = try DNSMessage(from: &buffer)
            #expect(parsed.questions == Array(response.questions.prefix(parsed.questions.count)))
            #expect(parsed.answers == Array(response.answers.prefix(parsed.answers.count)))
            #expect(parsed.authorities == Array(response.authorities.prefix(parsed.authorities.count)))
            #expect(parsed.additionals == Array(response.additionals.prefix(parsed.additionals.count)))
            // The OPT record goes only when even the header and OPT would not fit.
            #expect((parsed.edns != nil) == (max(limit, 12) >= 12 + (response.edns?.wireLength ?? 0)), "limit \(limit)")
            let lostRequired = parsed.questions.count < 1 || parsed.answers.count < 12 || parsed.authorities.count < 1
            #expect(parsed.header.tc == lostRequired, "limit \(limit)")
        }
    }

    @Test("An oversized RDATA is dropped as not fitting rather than corrupting the message")
    func oversizedRdata() throws {
        var response = Self.bigResponse(count: 1)
        response.addAnswer(DNSResourceRecord(name: .root, type: .TXT, ttl: 1, rdata: .opaque([UInt8](repeating: 7, count: 70000))))
        var buffer = ByteBuffer()
        #expect(response.encode(into: &buffer))
        let parsed = try DNSMessage(from: &buffer)
        #expect(parsed.answers.count == 1)
        #expect(parsed.header.tc)
    }
}
