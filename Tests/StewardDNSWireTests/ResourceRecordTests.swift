import NIOCore
import StewardDNSWire
import Testing

@Suite struct ResourceRecordTests {
    static let owner = name("Host.Example.com")

    static let records: [DNSResourceRecord] = [
        .a(owner, ttl: 300, DNSIPv4Address(192, 0, 2, 1)),
        .aaaa(owner, ttl: 300, DNSIPv6Address(high: 0x2001_0DB8_0000_0000, low: 0x0000_0000_0000_0001)),
        .cname(owner, ttl: 60, target: name("Target.example.NET")),
        DNSResourceRecord(name: owner, type: .NS, ttl: 86400, rdata: .ns(name("ns1.example.com"))),
        DNSResourceRecord(name: name("1.2.0.192.in-addr.arpa"), type: .PTR, ttl: 1, rdata: .ptr(owner)),
        DNSResourceRecord(name: owner, type: .DNAME, ttl: 5, rdata: .dname(name("example.org"))),
        DNSResourceRecord(name: owner, type: .MX, ttl: 3600, rdata: .mx(preference: 10, exchange: name("mx.example.com"))),
        .soa(name("example.com"), ttl: 300, DNSSOA(
            primaryServer: name("ns1.example.com"), responsibleMailbox: name("hostmaster.example.com"),
            serial: 2_024_010_101, refresh: 7200, retry: 3600, expire: 1_209_600, minimum: 300)),
        DNSResourceRecord(
            name: name("_sip._tcp.example.com"), type: .SRV, ttl: 600,
            rdata: .srv(priority: 10, weight: 60, port: 5060, target: name("sip.example.com"))),
        DNSResourceRecord(name: owner, type: .TXT, ttl: 0, rdata: .opaque([5] + Array("hello".utf8))),
        DNSResourceRecord(name: owner, type: .HTTPS, ttl: 300, rdata: .opaque([0, 1, 0, 0, 1, 0, 3, 2, 0x68, 0x32])),
        DNSResourceRecord(name: owner, type: DNSRecordType(65280), class: DNSClass(999), ttl: .max, rdata: .opaque([1, 2, 3])),
        DNSResourceRecord(name: owner, type: .A, class: .CH, ttl: 0, rdata: .opaque([0x00, 0x01, 0x02])),
        DNSResourceRecord(name: owner, type: .A, class: .ANY, ttl: 0, rdata: .opaque([])),
        DNSResourceRecord(name: .root, type: .CAA, ttl: 7, rdata: .opaque([0, 5] + Array("issueletsencrypt.org".utf8))),
    ]

    @Test("Each kind of RDATA round-trips standalone", arguments: records)
    func standaloneRoundTrip(record: DNSResourceRecord) throws {
        var buffer = ByteBuffer()
        record.encode(into: &buffer)
        let decoded = try DNSResourceRecord(from: &buffer)
        #expect(decoded == record)
        #expect(decoded.name.isIdentical(to: record.name))
        #expect(buffer.readableBytes == 0)
    }

    @Test("Each kind of RDATA round-trips inside a message, compressed and not", arguments: records, [true, false])
    func messageRoundTrip(record: DNSResourceRecord, compress: Bool) throws {
        let original = DNSMessage(
            header: DNSHeader(id: 7, qr: true, rd: true, ra: true),
            questions: [DNSQuestion(name: record.name, type: record.type)],
            answers: [record, record], authorities: [record], additionals: [record])
        let decoded = try reparse(original, compress: compress)
        #expect(decoded == original)
        #expect(decoded.answers.map(\.name.wireBytes) == original.answers.map(\.name.wireBytes))
    }

    @Test("Addresses decode from the wire and print canonically")
    func addresses() throws {
        var buffer = ByteBuffer(bytes: bytes(hex: "00 0001 0001 0000003c 0004 c0000201"))
        let a = try DNSResourceRecord(from: &buffer)
        #expect(a.ipv4 == DNSIPv4Address(0xC000_0201))
        #expect(a.ipv4?.description == "192.0.2.1")
        #expect(a.ipv6 == nil)
        #expect(a.cnameTarget == nil)
        buffer = ByteBuffer(bytes: bytes(hex: "00 001c 0001 0000003c 0010 20010db8000000000000ff0000420001"))
        let aaaa = try DNSResourceRecord(from: &buffer)
        #expect(aaaa.ipv6?.description == "2001:db8::ff00:42:1")
        #expect(aaaa.ipv6?.octets == bytes(hex: "20010db8000000000000ff0000420001"))
    }

    @Test("IPv6 text follows RFC 5952", arguments: [
        ("00000000000000000000000000000000", "::"), ("00000000000000000000000000000001", "::1"),
        ("20010db8000000000001000000000001", "2001:db8::1:0:0:1"), ("20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"),
        ("fe800000000000000000000000000000", "fe80::"), ("00010002000300040005000600070008", "1:2:3:4:5:6:7:8"),
    ])
    func ipv6Text(octetsHex: String, text: String) throws {
        let address = try #require(DNSIPv6Address(octets: bytes(hex: octetsHex)))
        #expect(address.description == text)
    }

    @Test("IPv4 text parsing refuses anything but four plain decimal octets", arguments: [
        ("192.0.2.1", UInt32?(0xC000_0201)), ("0.0.0.0", 0), ("255.255.255.255", 0xFFFF_FFFF), ("256.0.0.1", nil),
        ("1.2.3", nil), ("01.2.3.4", nil), ("1.2.3.4.", nil), ("a.b.c.d", nil), ("1..2.3", nil),
    ])
    func ipv4Text(text: String, value: UInt32?) {
        #expect(DNSIPv4Address(text)?.value == value)
    }

    @Test("RDATA whose length does not match its type is refused", arguments: [
        ("00 0001 0001 00000000 0005 c000020101", "A RDLENGTH 5, expected 4"),
        ("00 001c 0001 00000000 0004 c0000201", "AAAA RDLENGTH 4, expected 16"),
        ("00 0005 0001 00000000 0004 0161 0000", "left over in CNAME RDATA"),
        ("00 000f 0001 00000000 0004 000a 00 ff", "left over in MX RDATA"),
    ])
    func lengthMismatch(recordHex: String, detail: String) {
        var buffer = ByteBuffer(bytes: bytes(hex: recordHex))
        expectWireError(.rdataLengthMismatch, field: "rdata", detail: detail) { () throws(DNSWireError) in
            _ = try DNSResourceRecord(from: &buffer)
        }
        #expect(buffer.readerIndex == 0)
    }

    @Test("A name in RDATA may not run past RDLENGTH")
    func nameOverrunsRdata() {
        // CNAME with RDLENGTH 2 but a 5-octet name: the name must stop at the RDATA end.
        var buffer = ByteBuffer(bytes: bytes(hex: "00 0005 0001 00000000 0002 03616263 00"))
        expectWireError(.truncated, field: "rdata") { () throws(DNSWireError) in
            _ = try DNSResourceRecord(from: &buffer)
        }
    }

    @Test("TTL and other fields are mutable in place")
    func mutableTTL() {
        var record = DNSResourceRecord.a(name("x.example"), ttl: 300, DNSIPv4Address(10, 0, 0, 1))
        record.ttl = 5
        #expect(record.ttl == 5)
        #expect(record.rdata.wireBytes == [10, 0, 0, 1])
        #expect(DNSRecordData.mx(preference: 1, exchange: name("a")).wireBytes == [0, 1, 1, 0x61, 0])
    }
}
