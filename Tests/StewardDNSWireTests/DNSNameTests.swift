import NIOCore
import StewardDNSWire
import Testing

@Suite struct DNSNameTests {
    @Test("Dotted text parses to wire form, with or without the trailing dot", arguments: [
        ("example.com", "076578616d706c6503636f6d00"),
        ("example.com.", "076578616d706c6503636f6d00"),
        (".", "00"),
        ("a", "016100"),
        ("a\\.b.c", "03612e62016300"),
        ("\\000\\255.x", "0200ff017800"),
    ])
    func parsesText(text: String, wireHex: String) throws {
        let parsed = try DNSName(text)
        #expect(hex(parsed.wireBytes) == wireHex)
    }

    @Test("Presentation text round-trips through description, escapes included", arguments: [
        "example.com", ".", "WwW.ExAmPlE.oRg", "a\\.b.c", "\\000\\032\\127\\255.tab\\009", "x\\\\y.z",
        "semi\\;colon.\\(paren\\).\\@at.\\$dollar.\\\"quote", "_sip._tcp.example.com",
    ])
    func descriptionRoundTrip(text: String) throws {
        let parsed = try DNSName(text)
        #expect(parsed.description == text)
        #expect(try DNSName(parsed.description).isIdentical(to: parsed))
    }

    @Test("Malformed text is refused with the right error", arguments: [
        ("", DNSWireError.Kind.emptyLabel), ("a..b", .emptyLabel), (".a", .emptyLabel), ("..", .emptyLabel),
        (String(repeating: "x", count: 64) + ".com", .labelTooLong), ("a\\", .invalidEscape),
        ("a\\25", .invalidEscape), ("a\\256", .invalidEscape), ("a\\2x5", .invalidEscape),
    ])
    func refusesBadText(text: String, kind: DNSWireError.Kind) {
        expectWireError(kind) { () throws(DNSWireError) in _ = try DNSName(text) }
    }

    @Test("A name of exactly 255 octets is accepted and one more octet is refused")
    func maximumLength() throws {
        // 4 labels of 63 = 256 octets is too long; 3 x 63 + one of 61 = 64*3 + 62 + 1 = 255.
        let label63 = String(repeating: "a", count: 63)
        let longest = try DNSName([label63, label63, label63, String(repeating: "b", count: 61)].joined(separator: "."))
        #expect(longest.wireLength == 255)
        expectWireError(.nameTooLong, detail: "256 exceeds 255") { () throws(DNSWireError) in
            _ = try DNSName([label63, label63, label63, String(repeating: "b", count: 62)].joined(separator: "."))
        }
        // 127 single-octet labels: 254 + root = 255.
        let manyLabels = try DNSName(Array(repeating: "z", count: 127).joined(separator: "."))
        #expect(manyLabels.wireLength == 255)
        #expect(manyLabels.labelCount == 127)
        var buffer = ByteBuffer()
        longest.encode(into: &buffer)
        #expect(try DNSName(from: &buffer).isIdentical(to: longest))
    }

    @Test("Equality and hashing ignore ASCII case but keep the spelling")
    func caseInsensitiveEquality() throws {
        let mixed = try DNSName("WwW.ExAmPlE.oRg")
        let lower = try DNSName("www.example.org")
        #expect(mixed == lower)
        #expect(mixed.hashValue == lower.hashValue)
        #expect(Set([mixed, lower]).count == 1)
        #expect(!mixed.isIdentical(to: lower))
        #expect(mixed.description == "WwW.ExAmPlE.oRg")
        #expect(mixed.lowercasedText == "www.example.org")
        #expect(mixed.lowercased().isIdentical(to: lower))
        // Only ASCII letters fold: 0xC0 and 0xE0 stay different.
        #expect(try DNSName("\\192") != DNSName("\\224"))
        #expect(try DNSName("a.b") != DNSName("ab"))
    }

    @Test("Subdomain checks work at label boundaries only", arguments: [
        ("a.b.example.com", "example.com", true), ("example.com", "example.com", true),
        ("EXAMPLE.com", "example.COM", true), ("notexample.com", "example.com", false),
        ("example.com", "a.example.com", false), ("anything.at.all", ".", true), (".", ".", true),
        ("com", "example.com", false), ("x\\.example.com", "example.com", false), ("x\\.example.com", "com", true),
    ])
    func subdomain(child: String, parent: String, expected: Bool) throws {
        #expect(try DNSName(child).isSubdomain(of: DNSName(parent)) == expected)
    }

    @Test("Dotted bytes keep case, drop the trailing dot and are empty for the root", arguments: [
        ("WwW.Example.COM.", "WwW.Example.COM"), (".", ""), ("a\\.b.c", "a.b.c"), ("x", "x"),
    ])
    func dottedBytes(text: String, dotted: String) throws {
        let text = try DNSName(text).withUTF8Text { String(decoding: $0, as: UTF8.self) }
        #expect(text == dotted)
    }

    @Test("Labels are exposed leftmost first and rebuild the same name")
    func labels() throws {
        let parsed = try DNSName("_sip._tcp.Example.com")
        #expect(parsed.labels.map { String(decoding: $0, as: UTF8.self) } == ["_sip", "_tcp", "Example", "com"])
        #expect(try DNSName(labels: parsed.labels).isIdentical(to: parsed))
        #expect(DNSName.root.labels.isEmpty)
        #expect(DNSName.root.isRoot)
        expectWireError(.emptyLabel) { () throws(DNSWireError) in _ = try DNSName(labels: [[UInt8]()]) }
        expectWireError(.labelTooLong, detail: "70 exceeds 63") { () throws(DNSWireError) in
            _ = try DNSName(labels: [[UInt8](repeating: 0x61, count: 70)])
        }
    }

    @Test("Wire bytes are validated when wrapped", arguments: [
        ("00", nil), ("0161016200", nil), ("01", DNSWireError.Kind.truncated), ("016101", .truncated),
        ("4100", .labelTooLong), ("8100", .reservedLabelType), ("c00c", .reservedLabelType), ("000000", .rdataLengthMismatch),
    ])
    func wireValidation(wireHex: String, kind: DNSWireError.Kind?) throws {
        if let kind {
            expectWireError(kind) { () throws(DNSWireError) in _ = try DNSName(wireBytes: bytes(hex: wireHex)) }
        } else {
            #expect(hex(try DNSName(wireBytes: bytes(hex: wireHex)).wireBytes) == wireHex)
        }
    }

    @Test("Names round-trip through the wire codec standalone", arguments: [
        ".", "com", "Example.COM", "a.b.c.d.e.f.g", "\\000.\\255", String(repeating: "q", count: 63),
    ])
    func wireRoundTrip(text: String) throws {
        let original = try DNSName(text)
        var buffer = ByteBuffer()
        original.encode(into: &buffer)
        #expect(buffer.readableBytes == original.wireLength)
        let decoded = try DNSName(from: &buffer)
        #expect(decoded.isIdentical(to: original))
        #expect(buffer.readableBytes == 0)
    }

    @Test("A standalone name refuses compression pointers but reads them with a message start")
    func pointerContext() throws {
        // "example" "com" at 0, then "www" + pointer to 0 at 13.
        var buffer = ByteBuffer(bytes: bytes(hex: "076578616d706c6503636f6d00" + "03777777c000"))
        buffer.moveReaderIndex(forwardBy: 13)
        expectWireError(.pointerLoop) { () throws(DNSWireError) in _ = try DNSName(from: &buffer) }
        #expect(buffer.readerIndex == 13)
        let decoded = try DNSName(from: &buffer, messageStart: 0)
        #expect(decoded.description == "www.example.com")
        #expect(buffer.readableBytes == 0)
    }
}
