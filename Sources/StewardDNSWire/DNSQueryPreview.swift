import NIOCore

/// A fast, allocation-free look at a simple query, for the server's hot loop: header, the one
/// question and the OPT record, read in place from the buffer.
///
/// Contract: `init?(_:)` succeeds only for a *simple query*: at least 12 octets, QR=0, opcode
/// QUERY, QDCOUNT=1, ANCOUNT=0, NSCOUNT=0, ARCOUNT 0 or 1, an uncompressed question name that
/// obeys the name rules, and, if ARCOUNT=1, an OPT record (root owner) whose options are well
/// formed and fill its RDLENGTH exactly. For such a message `DNSMessage.parseQuery` is guaranteed
/// to return `.query` with the same ID, flags, question and OPT values; the preview is a shortcut,
/// not a looser parser. For anything else it returns `nil` and the caller falls back to
/// `parseQuery` (which then answers FORMERR, drops, or parses the unusual but valid query).
/// Trailing bytes after the last record are ignored, as by `DNSMessage(from:)`.
///
/// Ranges are absolute `ByteBuffer` indices (for `getBytes(at:length:)` and friends) into the
/// buffer that was previewed; they mean nothing for another buffer.
public struct DNSQueryPreview: Hashable, Sendable {
    /// Query ID.
    public let id: UInt16
    /// The header's flag word (see `DNSHeader.flags`).
    public let flags: UInt16
    /// QTYPE of the question.
    public let qtype: DNSRecordType
    /// QCLASS of the question.
    public let qclass: DNSClass
    /// Where the question name's wire form (labels and the final zero octet) lies in the buffer.
    public let nameRange: Range<Int>
    /// The OPT record's values, if the query has one.
    public let opt: OPTSummary?
    /// Index just after the last record (where trailing bytes, if any, start).
    public let messageEnd: Int

    /// The values of a query's OPT record (see `EDNS`).
    public struct OPTSummary: Hashable, Sendable {
        /// Advertised UDP payload size.
        public let udpPayloadSize: UInt16
        /// Extended RCODE bits (should be 0 in a query).
        public let extendedRCode: UInt8
        /// EDNS version.
        public let version: UInt8
        /// The DO bit.
        public let dnssecOK: Bool
        /// Where the options (RDATA) lie in the buffer.
        public let optionsRange: Range<Int>
    }

    /// The header as a `DNSHeader` (with the counts of a simple query).
    public var header: DNSHeader {
        DNSHeader(id: id, flags: flags, questionCount: 1, additionalCount: opt == nil ? 0 : 1)
    }
    /// RD bit.
    public var rd: Bool { flags & 0x0100 != 0 }
    /// CD bit.
    public var cd: Bool { flags & 0x0010 != 0 }
    /// Whether the query carries an OPT record.
    public var hasOPT: Bool { opt != nil }
    /// See `DNSMessage.maxResponseSize`.
    public var maxResponseSize: Int { DNSMessage.maxResponseSize(udpPayloadSize: opt?.udpPayloadSize) }

    /// Previews the readable bytes of `buffer`; `nil` when the message is not a simple query.
    public init?(_ buffer: ByteBuffer) {
        let base = buffer.readerIndex
        let found: DNSQueryPreview? = buffer.withUnsafeReadableBytes { bytes in
            Self.scan(bytes, base: base)
        }
        guard let found else { return nil }
        self = found
    }

    private init(
        id: UInt16, flags: UInt16, qtype: UInt16, qclass: UInt16, nameRange: Range<Int>, opt: OPTSummary?,
        messageEnd: Int
    ) {
        self.id = id
        self.flags = flags
        self.qtype = DNSRecordType(qtype)
        self.qclass = DNSClass(qclass)
        self.nameRange = nameRange
        self.opt = opt
        self.messageEnd = messageEnd
    }

    private static func scan(_ bytes: UnsafeRawBufferPointer, base: Int) -> DNSQueryPreview? {
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
        guard bytes.count >= DNSHeader.size else { return nil }
        let flags = u16(2)
        // QR=0 and opcode QUERY; QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0 or 1.
        guard flags & 0xF800 == 0, u16(4) == 1, u16(6) == 0, u16(8) == 0 else { return nil }
        let additionalCount = u16(10)
        guard additionalCount <= 1 else { return nil }
        var position = DNSHeader.size
        while true {
            guard position < bytes.count else { return nil }
            let length = Int(bytes[position])
            if length == 0 { break }
            guard length <= DNSName.maxLabelLength else { return nil }
            position += 1 + length
        }
        position += 1
        let nameRange = (base + DNSHeader.size)..<(base + position)
        guard nameRange.count <= DNSName.maxWireLength, position + 4 <= bytes.count else { return nil }
        let qtype = u16(position)
        let qclass = u16(position + 2)
        position += 4
        var opt: OPTSummary?
        if additionalCount == 1 {
            // Root owner (1), TYPE (2), CLASS (2), TTL (4), RDLENGTH (2).
            guard position + 11 <= bytes.count, bytes[position] == 0, u16(position + 1) == DNSRecordType.OPT.rawValue
            else { return nil }
            let ttlHigh = u16(position + 5)
            let ttlLow = u16(position + 7)
            let rdataStart = position + 11
            let rdataEnd = rdataStart + Int(u16(position + 9))
            guard rdataEnd <= bytes.count else { return nil }
            var option = rdataStart
            while option < rdataEnd {
                guard option + 4 <= rdataEnd else { return nil }
                option += 4 + Int(u16(option + 2))
            }
            guard option == rdataEnd else { return nil }
            opt = OPTSummary(
                udpPayloadSize: u16(position + 3), extendedRCode: UInt8(truncatingIfNeeded: ttlHigh >> 8),
                version: UInt8(truncatingIfNeeded: ttlHigh), dnssecOK: ttlLow & 0x8000 != 0,
                optionsRange: (base + rdataStart)..<(base + rdataEnd))
            position = rdataEnd
        }
        return DNSQueryPreview(
            id: u16(0), flags: flags, qtype: qtype, qclass: qclass, nameRange: nameRange, opt: opt,
            messageEnd: base + position)
    }

    /// Calls `body` with the question name as dotted bytes (see `DNSName.withUTF8Text`), read in
    /// place from `buffer`, which must be the buffer that was previewed. Does not allocate.
    public func withDottedName<R>(in buffer: ByteBuffer, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withVeryUnsafeBytes { storage in
            let range = nameRange.clamped(to: 0..<buffer.writerIndex)
            return try DNSName.withDottedText(UnsafeRawBufferPointer(rebasing: storage[range]), body)
        }
    }

    /// The question name's wire form with ASCII letters lowered (RFC 4343 canonical case), read
    /// from `buffer`, which must be the buffer that was previewed; `nil` if it no longer holds it.
    public func lowercasedNameWire(in buffer: ByteBuffer) -> [UInt8]? {
        guard nameRange.lowerBound >= buffer.readerIndex, nameRange.upperBound <= buffer.writerIndex else { return nil }
        return buffer.withUnsafeReadableBytes { bytes in
            let start = nameRange.lowerBound - buffer.readerIndex
            return [UInt8](unsafeUninitializedCapacity: nameRange.count) { output, count in
                for index in 0..<nameRange.count { output[index] = DNSName.lower(bytes[start + index]) }
                count = nameRange.count
            }
        }
    }

    /// The question name, letter case kept; `nil` if `buffer` no longer holds it.
    public func name(in buffer: ByteBuffer) -> DNSName? {
        guard let wire = buffer.getBytes(at: nameRange.lowerBound, length: nameRange.count) else { return nil }
        return try? DNSName(wireBytes: wire)
    }

    /// The question, letter case kept; `nil` if `buffer` no longer holds it.
    public func question(in buffer: ByteBuffer) -> DNSQuestion? {
        name(in: buffer).map { DNSQuestion(name: $0, type: qtype, class: qclass) }
    }

    /// The query as `DNSMessage.parseQuery` reads it (same header, question and OPT record), made
    /// from what the preview found; `nil` if `buffer`, which must be the buffer that was
    /// previewed, no longer holds it.
    public func query(in buffer: ByteBuffer) -> DNSMessage? {
        guard let question = question(in: buffer) else { return nil }
        var edns: EDNS? = nil
        if opt != nil {
            let start = nameRange.upperBound + 4
            guard var record = buffer.getSlice(at: start, length: messageEnd - start),
                let read = try? EDNS(from: &record)
            else { return nil }
            edns = read
        }
        return DNSMessage(header: header, questions: [question], edns: edns)
    }
}
