import NIOCore
import StewardDNSWire
import Testing

@Suite struct EDNSTests {
    static let samples: [EDNS] = [
        EDNS(),
        EDNS(udpPayloadSize: 4096, dnssecOK: true),
        EDNS(udpPayloadSize: 512, extendedRCode: 1, version: 0, dnssecOK: false, reservedFlags: 0x1234),
        EDNS(udpPayloadSize: 1232, version: 1, options: [
            EDNSOption(code: .cookie, data: [1, 2, 3, 4, 5, 6, 7, 8]),
            EDNSOption(code: .clientSubnet, data: [0, 1, 24, 0, 192, 0, 2]),
            EDNSOption(code: .padding, data: [UInt8](repeating: 0, count: 40)),
            EDNSOption(code: 65001, data: []),
        ]),
    ]

    @Test("OPT records round-trip with their flags and options", arguments: samples)
    func roundTrip(edns: EDNS) throws {
        var buffer = ByteBuffer()
        edns.encode(into: &buffer)
        #expect(buffer.readableBytes == edns.wireLength)
        let decoded = try EDNS(from: &buffer)
        #expect(decoded == edns)
        #expect(buffer.readableBytes == 0)
    }

    @Test("The TTL field packs extended RCODE, version, DO and Z as RFC 6891 6.1.3 says")
    func ttlLayout() {
        let edns = EDNS(udpPayloadSize: 1232, extendedRCode: 0xAB, version: 0xCD, dnssecOK: true, reservedFlags: 0x0042)
        #expect(edns.ttlField == 0xABCD_8042)
        var buffer = ByteBuffer()
        edns.encode(into: &buffer)
        #expect(hex(buffer.allReadableBytes) == "00002904d0abcd80420000")
    }

    @Test("The captured ECS query carries its client-subnet option intact")
    func capturedClientSubnet() throws {
        let query = try message(hex: Fixtures.digHTTPSWithClientSubnet)
        let edns = try #require(query.edns)
        #expect(edns.udpPayloadSize == 4096)
        let subnet = try #require(edns.option(.clientSubnet))
        #expect(subnet.data == [0x00, 0x01, 0x18, 0x00, 0xC0, 0x00, 0x02])
        #expect(edns.option(.cookie) == nil)
        let cookie = try #require(try message(hex: Fixtures.digExampleComAEDNS).edns?.option(.cookie))
        #expect(cookie.data.count == 8)
    }

    @Test("Malformed options are refused with the option named", arguments: [
        ("00 0029 04d0 00000000 0003 000a00", "option 1", "option header needs 4 octets"),
        ("00 0029 04d0 00000000 0006 000a0004 0102", "option 1", "option length 4 exceeds the 2 remaining"),
        ("00 0029 04d0 00000000 0006 000c0000 000a", "option 2", "option header needs 4 octets"),
    ])
    func badOptions(recordHex: String, field: String, detail: String) {
        var buffer = ByteBuffer(bytes: bytes(hex: recordHex))
        expectWireError(.invalidOPT, field: "OPT " + field, detail: detail) { () throws(DNSWireError) in
            _ = try EDNS(from: &buffer)
        }
        #expect(buffer.readerIndex == 0)
    }

    @Test("An OPT record must have the root as owner and be of type OPT")
    func ownerAndType() {
        var buffer = ByteBuffer(bytes: bytes(hex: "016100 0029 04d0 00000000 0000"))
        expectWireError(.invalidOPT, detail: "is not the root") { () throws(DNSWireError) in _ = try EDNS(from: &buffer) }
        buffer = ByteBuffer(bytes: bytes(hex: "00 0001 0001 00000000 0004 7f000001"))
        expectWireError(.invalidOPT, detail: "is not OPT") { () throws(DNSWireError) in _ = try EDNS(from: &buffer) }
    }

    @Test("The message RCODE combines the header bits with the extended RCODE")
    func extendedRcode() throws {
        var response = DNSMessage(header: DNSHeader(id: 1, qr: true), edns: EDNS())
        response.rcode = .badVers
        #expect(response.header.rcode == .noError)
        #expect(response.edns?.extendedRCode == 1)
        let decoded = try reparse(response)
        #expect(decoded.rcode == .badVers)
        response.rcode = .refused
        #expect(response.rcode == .refused)
        #expect(response.edns?.extendedRCode == 0)
        var plain = DNSMessage(header: DNSHeader(id: 1, qr: true))
        plain.rcode = .badCookie  // 23 cannot be expressed without EDNS: low bits only
        #expect(plain.rcode == DNSResponseCode(7))
    }

    @Test("The response size limit follows RFC 6891 6.2.3 and 6.2.5", arguments: [
        (UInt16?.none, 512), (0, 512), (511, 512), (512, 512), (1232, 1232), (4096, 4096), (65000, 4096),
    ])
    func maxResponseSize(advertised: UInt16?, expected: Int) {
        let query = DNSMessage(
            header: DNSHeader(id: 1), questions: [DNSQuestion(name: .root, type: .NS)],
            edns: advertised.map { EDNS(udpPayloadSize: $0) })
        #expect(query.maxResponseSize == expected)
    }
}
