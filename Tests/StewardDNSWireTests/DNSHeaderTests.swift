import NIOCore
import StewardDNSWire
import Testing

@Suite struct DNSHeaderTests {
    @Test("Every one of the 65,536 flag words survives encode and decode")
    func allFlagWordsRoundTrip() throws {
        var buffer = ByteBuffer()
        for flags in UInt16.min...UInt16.max {
            buffer.clear()
            let header = DNSHeader(
                id: flags &* 31, flags: flags, questionCount: 1, answerCount: flags, authorityCount: ~flags,
                additionalCount: 7)
            header.encode(into: &buffer)
            let decoded = try DNSHeader(from: &buffer)
            guard decoded == header else {
                Issue.record("flags \(flags) decoded as \(decoded.flags)")
                return
            }
            // Rebuilding from the named fields gives back the same word.
            let rebuilt = DNSHeader(
                id: decoded.id, qr: decoded.qr, opcode: decoded.opcode, aa: decoded.aa, tc: decoded.tc, rd: decoded.rd,
                ra: decoded.ra, z: decoded.z, ad: decoded.ad, cd: decoded.cd, rcode: decoded.rcode)
            guard rebuilt.flags == flags else {
                Issue.record("flags \(flags) rebuilt as \(rebuilt.flags)")
                return
            }
        }
    }

    /// Sets one named flag (key paths are not Sendable, so tests name the flag instead).
    static func set(_ flag: String, _ on: Bool, in header: inout DNSHeader) {
        switch flag {
        case "qr": header.qr = on
        case "aa": header.aa = on
        case "tc": header.tc = on
        case "rd": header.rd = on
        case "ra": header.ra = on
        case "z": header.z = on
        case "ad": header.ad = on
        case "cd": header.cd = on
        default: Issue.record("unknown flag \(flag)")
        }
    }

    @Test("Each named flag maps to its RFC 1035 / RFC 4035 bit", arguments: [
        ("qr", UInt16(0x8000)), ("aa", 0x0400), ("tc", 0x0200), ("rd", 0x0100), ("ra", 0x0080), ("z", 0x0040),
        ("ad", 0x0020), ("cd", 0x0010),
    ])
    func flagBits(flag: String, mask: UInt16) {
        var header = DNSHeader(id: 1, flags: 0)
        Self.set(flag, true, in: &header)
        #expect(header.flags == mask)
        header.flags = 0xFFFF
        Self.set(flag, false, in: &header)
        #expect(header.flags == ~mask)
    }

    @Test("Opcode and RCODE occupy their 4-bit fields; larger RCODEs keep only the low bits")
    func opcodeAndRcode() {
        var header = DNSHeader(opcode: .update, rcode: .nxDomain)
        #expect(header.flags == 0x2803)
        #expect(header.opcode == .update)
        #expect(header.rcode == .nxDomain)
        header.rcode = .badVers  // 16: low 4 bits are 0
        #expect(header.rcode == .noError)
        header.opcode = DNSOpcode(rawValue: 0xFF)
        #expect(header.opcode.rawValue == 0x0F)
        #expect(header.flags == 0x7800)
    }

    @Test("A header shorter than 12 octets is refused and the reader index stays put", arguments: 0...11)
    func shortHeader(length: Int) {
        var buffer = ByteBuffer(bytes: [UInt8](repeating: 0xAB, count: length))
        expectWireError(.truncated, detail: "needs 12 octets but only \(length) remain") { () throws(DNSWireError) in
            _ = try DNSHeader(from: &buffer)
        }
        #expect(buffer.readerIndex == 0)
        #expect(buffer.readableBytes == length)
    }

    @Test("Mnemonics print as dig prints them, unknown values generically", arguments: [
        (DNSRecordType.A.description, "A"), (DNSRecordType.HTTPS.description, "HTTPS"),
        (DNSRecordType(65280).description, "TYPE65280"), (DNSClass.IN.description, "IN"),
        (DNSClass(42).description, "CLASS42"), (DNSResponseCode.nxDomain.description, "NXDOMAIN"),
        (DNSResponseCode.badVers.description, "BADVERS"), (DNSResponseCode(3841).description, "RCODE3841"),
        (DNSOpcode.notify.description, "NOTIFY"), (DNSOpcode(rawValue: 9).description, "OPCODE9"),
    ])
    func mnemonics(actual: String, expected: String) {
        #expect(actual == expected)
    }

    @Test("Record types parse from mnemonics and the RFC 3597 generic form")
    func typeMnemonics() {
        #expect(DNSRecordType(mnemonic: "aaaa") == .AAAA)
        #expect(DNSRecordType(mnemonic: "TYPE65") == .HTTPS)
        #expect(DNSRecordType(mnemonic: "TYPE70000") == nil)
        #expect(DNSRecordType(mnemonic: "BOGUS") == nil)
        #expect(DNSResponseCode(rawValue: 0xFFFF).rawValue == 0x0FFF)
    }
}
