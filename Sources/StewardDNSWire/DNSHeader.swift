import NIOCore

/// The 12-octet message header (RFC 1035 4.1.1), with the AD and CD bits of RFC 4035 3.2
/// (formerly RFC 2535). The flag word is stored as on the wire; the named properties read and
/// write its bits:
///
///     QR | OPCODE (4) | AA | TC | RD | RA | Z | AD | CD | RCODE (4)
public struct DNSHeader: Hashable, Sendable {
    /// Size of the header on the wire.
    public static let size = 12

    /// Query identifier, copied into the response.
    public var id: UInt16
    /// The second 16-bit word: all flags, the opcode and the low 4 bits of the RCODE.
    public var flags: UInt16
    /// QDCOUNT: number of questions.
    public var questionCount: UInt16
    /// ANCOUNT: number of answer records.
    public var answerCount: UInt16
    /// NSCOUNT: number of authority records.
    public var authorityCount: UInt16
    /// ARCOUNT: number of additional records, the OPT record included.
    public var additionalCount: UInt16

    /// Creates a header from its wire words.
    public init(
        id: UInt16, flags: UInt16, questionCount: UInt16 = 0, answerCount: UInt16 = 0,
        authorityCount: UInt16 = 0, additionalCount: UInt16 = 0
    ) {
        self.id = id
        self.flags = flags
        self.questionCount = questionCount
        self.answerCount = answerCount
        self.authorityCount = authorityCount
        self.additionalCount = additionalCount
    }

    /// Creates a header from named fields; counts start at zero.
    public init(
        id: UInt16 = 0, qr: Bool = false, opcode: DNSOpcode = .query, aa: Bool = false, tc: Bool = false,
        rd: Bool = false, ra: Bool = false, z: Bool = false, ad: Bool = false, cd: Bool = false,
        rcode: DNSResponseCode = .noError
    ) {
        self.init(id: id, flags: 0)
        self.qr = qr
        self.opcode = opcode
        self.aa = aa
        self.tc = tc
        self.rd = rd
        self.ra = ra
        self.z = z
        self.ad = ad
        self.cd = cd
        self.rcode = rcode
    }

    private func bit(_ mask: UInt16) -> Bool { flags & mask != 0 }
    private mutating func setBit(_ mask: UInt16, _ on: Bool) { flags = on ? flags | mask : flags & ~mask }

    /// QR: this message is a response.
    public var qr: Bool {
        get { bit(0x8000) }
        set { setBit(0x8000, newValue) }
    }
    /// OPCODE: kind of query.
    public var opcode: DNSOpcode {
        get { DNSOpcode(rawValue: UInt8(truncatingIfNeeded: flags >> 11)) }
        set { flags = flags & ~0x7800 | UInt16(newValue.rawValue) << 11 }
    }
    /// AA: authoritative answer.
    public var aa: Bool {
        get { bit(0x0400) }
        set { setBit(0x0400, newValue) }
    }
    /// TC: truncated; the client should retry over TCP (RFC 1035 4.2.1).
    public var tc: Bool {
        get { bit(0x0200) }
        set { setBit(0x0200, newValue) }
    }
    /// RD: recursion desired, copied into the response.
    public var rd: Bool {
        get { bit(0x0100) }
        set { setBit(0x0100, newValue) }
    }
    /// RA: recursion available.
    public var ra: Bool {
        get { bit(0x0080) }
        set { setBit(0x0080, newValue) }
    }
    /// Z: the reserved bit; must be zero, carried through as received.
    public var z: Bool {
        get { bit(0x0040) }
        set { setBit(0x0040, newValue) }
    }
    /// AD: authentic data (RFC 4035 3.2.3, RFC 6840 5.7).
    public var ad: Bool {
        get { bit(0x0020) }
        set { setBit(0x0020, newValue) }
    }
    /// CD: checking disabled (RFC 4035 3.2.2).
    public var cd: Bool {
        get { bit(0x0010) }
        set { setBit(0x0010, newValue) }
    }
    /// The low 4 bits of the RCODE. Setting a larger code keeps only its low 4 bits; use
    /// `DNSMessage.rcode`, which also fills in the OPT record's extended RCODE.
    public var rcode: DNSResponseCode {
        get { DNSResponseCode(rawValue: flags & 0x000F) }
        set { flags = flags & ~0x000F | newValue.rawValue & 0x000F }
    }

    /// Reads a header at the reader index; on a throw the reader index is unchanged.
    public init(from buffer: inout ByteBuffer) throws(DNSWireError) {
        self = try buffer.readDNS(messageStart: nil) { (reader) throws(DNSWireError) in
            try DNSHeader(reading: &reader)
        }
    }

    init(reading reader: inout DNSWireReader) throws(DNSWireError) {
        try reader.require(Self.size, "header")
        self.init(
            id: try reader.readUInt16("ID"), flags: try reader.readUInt16("flags"),
            questionCount: try reader.readUInt16("QDCOUNT"), answerCount: try reader.readUInt16("ANCOUNT"),
            authorityCount: try reader.readUInt16("NSCOUNT"), additionalCount: try reader.readUInt16("ARCOUNT"))
    }

    /// Writes the 12 octets.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(id, flags, questionCount, answerCount, authorityCount, additionalCount)
    }
}
