import NIOCore
import StewardDNSWire
import StewardPolicy

/// A cache entry encoded once, when stored, so a cache hit copies bytes instead of building and
/// encoding a message: the answer, authority and additional sections as they follow the question,
/// where each TTL sits in them, and what of the answer the policy must still see.
///
/// The sections are encoded (with compression, RFC 1035 4.1.4) after a question whose name has
/// the cached name's length, at offset 12 as in every response; a compression pointer into that
/// question therefore points at the client's own question in the response, whatever its letter
/// case (RFC 4343), and every other pointer stays valid. A hit writes the query's header and
/// question, these sections and, if the query had one, an OPT record (`DNSCachedWire.write`).
struct DNSCachedWire: Sendable {
    /// What the filter checks in a cached answer before serving it, in answer order (see
    /// `DNSFilter.inspect`): names other than the question's (CNAME owners and targets), and
    /// addresses.
    enum Check: Sendable, Equatable {
        case name(DNSName)
        case address(IPAddress)
    }

    /// Where a TTL sits in `sections`, and its value as stored (aged on every hit).
    struct TTLField: Sendable {
        let offset: UInt16
        let ttl: UInt32
    }

    /// The sections, encoded.
    let sections: [UInt8]
    /// The question name's length on the wire (a client's spelling has the same length).
    let nameLength: Int
    let answerCount: UInt16
    let authorityCount: UInt16
    let additionalCount: UInt16
    /// The RCODE (NOERROR or NXDOMAIN, so it fits the header).
    let rcode: UInt16
    /// Every TTL field, in record order.
    let ttlFields: [TTLField]
    let checks: [Check]

    /// The TTLs as stored, in record order.
    var ttls: [UInt32] { ttlFields.map(\.ttl) }

    /// Encodes `entry`'s sections after `question`; nil when they cannot be served this way (an
    /// RCODE that needs an OPT record, a message too large, or anything unexpected on the wire).
    init?(_ entry: DNSCacheEntry, question: DNSQuestion) {
        guard entry.rcode.fitsInHeader else { return nil }
        var message = DNSMessage(header: DNSHeader(id: 0, qr: true), questions: [question])
        message.answers = entry.answers
        message.authorities = entry.authorities
        message.additionals = entry.additionals
        var encoded = ByteBuffer()
        guard !message.encode(into: &encoded) else { return nil }
        let sectionsStart = DNSHeader.size + question.name.wireLength + 4
        let recordCount = entry.answers.count + entry.authorities.count + entry.additionals.count
        guard let offsets = Self.ttlOffsets(in: encoded, from: sectionsStart, records: recordCount),
            let sections = encoded.getBytes(at: sectionsStart, length: encoded.writerIndex - sectionsStart)
        else { return nil }
        self.sections = sections
        self.nameLength = question.name.wireLength
        self.answerCount = UInt16(entry.answers.count)
        self.authorityCount = UInt16(entry.authorities.count)
        self.additionalCount = UInt16(entry.additionals.count)
        self.rcode = UInt16(entry.rcode.rawValue & 0xF)
        self.ttlFields = zip(offsets, entry.answers + entry.authorities + entry.additionals).map { offset, record in
            TTLField(offset: UInt16(offset - sectionsStart), ttl: record.ttl)
        }
        var checks: [Check] = []
        for record in entry.answers {
            if record.name != question.name { checks.append(.name(record.name)) }
            if let target = record.cnameTarget { checks.append(.name(target)) }
            if let v4 = record.ipv4 { checks.append(.address(IPAddress(ipv4: v4.value))) }
            if let v6 = record.ipv6 { checks.append(.address(IPAddress(high: v6.high, low: v6.low))) }
        }
        self.checks = checks
    }

    init(
        sections: [UInt8], nameLength: Int, answerCount: UInt16, authorityCount: UInt16, additionalCount: UInt16,
        rcode: UInt16, ttlFields: [TTLField], checks: [Check]
    ) {
        self.sections = sections
        self.nameLength = nameLength
        self.answerCount = answerCount
        self.authorityCount = authorityCount
        self.additionalCount = additionalCount
        self.rcode = rcode
        self.ttlFields = ttlFields
        self.checks = checks
    }

    /// The records again, for the general path (`DNSCache.lookup`), with the TTLs as stored: the
    /// sections parsed after a header and `question`; nil if they do not parse.
    func records(question: DNSQuestion) -> (answers: [DNSResourceRecord], authorities: [DNSResourceRecord], additionals: [DNSResourceRecord])? {
        guard question.name.wireLength == nameLength else { return nil }
        var message = ByteBuffer()
        message.reserveCapacity(DNSHeader.size + nameLength + 4 + sections.count)
        message.writeMultipleIntegers(
            UInt16(0), UInt16(0x8000) | rcode, UInt16(1), answerCount, authorityCount, additionalCount)
        question.name.encode(into: &message)
        message.writeMultipleIntegers(question.type.rawValue, question.class.rawValue)
        message.writeBytes(sections)
        guard let parsed = try? DNSMessage(from: &message) else { return nil }
        return (parsed.answers, parsed.authorities, parsed.additionals)
    }

    /// Octets of the response to a query whose header and question take `questionEnd` octets.
    func responseSize(questionEnd: Int, withOPT: Bool) -> Int {
        questionEnd + sections.count + (withOPT ? 11 : 0)
    }

    /// Writes the response to the simple query `preview` of `packet`: the query's ID and question
    /// (the client's letter case), flags as `DNSMessage.makeResponse` sets them, these sections
    /// with every TTL lowered by `elapsed` seconds (never below 0), and an OPT record advertising
    /// our payload size with the query's DO bit if the query had one (RFC 6891 6.1.1, RFC 3225).
    func write(
        into response: inout ByteBuffer, packet: ByteBuffer, preview: DNSQueryPreview, elapsed: UInt32
    ) {
        let base = response.writerIndex
        let questionEnd = preview.nameRange.upperBound + 4 - packet.readerIndex
        response.writeBytes(packet.readableBytesView.prefix(questionEnd))
        response.writeBytes(sections)
        if let opt = preview.opt {
            response.writeInteger(UInt8(0))
            response.writeInteger(DNSRecordType.OPT.rawValue)
            response.writeInteger(EDNS.defaultUDPPayloadSize)
            response.writeInteger(UInt32(opt.dnssecOK ? 0x8000 : 0))
            response.writeInteger(UInt16(0))
        }
        // QR, opcode, RD and CD from the query, RA set; AA, TC, AD and Z clear.
        let flags = 0x8000 | (preview.flags & 0x7910) | 0x0080 | rcode
        response.setMultipleIntegers(
            flags, UInt16(1), answerCount, authorityCount, additionalCount + (preview.opt == nil ? 0 : 1),
            at: base + 2)
        guard elapsed > 0 else { return }
        let sectionsStart = base + questionEnd
        for field in ttlFields {
            response.setInteger(field.ttl > elapsed ? field.ttl - elapsed : 0, at: sectionsStart + Int(field.offset))
        }
    }

    /// Absolute indices of the TTL fields of `records` records starting at `start` in `message`,
    /// or nil if they do not parse as records.
    private static func ttlOffsets(in message: ByteBuffer, from start: Int, records: Int) -> [Int]? {
        var offsets: [Int] = []
        offsets.reserveCapacity(records)
        var position = start
        let end = message.writerIndex
        for _ in 0..<records {
            // Owner name: labels up to the root label or a compression pointer.
            while true {
                guard position < end, let length = message.getInteger(at: position, as: UInt8.self) else { return nil }
                if length == 0 {
                    position += 1
                    break
                }
                if length & 0xC0 == 0xC0 {
                    position += 2
                    break
                }
                guard length & 0xC0 == 0 else { return nil }
                position += 1 + Int(length)
            }
            // TYPE, CLASS, TTL, RDLENGTH, RDATA.
            guard position + 10 <= end, let rdLength = message.getInteger(at: position + 8, as: UInt16.self) else {
                return nil
            }
            offsets.append(position + 4)
            position += 10 + Int(rdLength)
        }
        return position == end ? offsets : nil
    }
}
