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
///
/// Everything is in one allocation (`Storage`, a `ManagedBuffer`): the key's name, the sections,
/// the TTL fields and the checks, one after the other, behind a header with the counts, the key's
/// type, class and hash, and when the entry was stored and for how long. A full cache evicts an
/// entry for every new one, and the evicted entry is cold: freeing one object instead of five
/// (entry, key, sections, TTL fields, checks) is most of what a store costs. `@unchecked
/// Sendable`: the storage is written only while it is made, before anyone else sees it.
struct DNSCachedWire: @unchecked Sendable {
    /// What the filter checks in a cached answer before serving it, in answer order (see
    /// `DNSFilter.inspect`): names other than the question's (CNAME owners and targets), and
    /// addresses.
    enum Check: Sendable, Equatable {
        case name(DNSName)
        case address(IPAddress)
    }

    /// Where a TTL sits in the sections, and its value as stored (aged on every hit).
    struct TTLField: Sendable, Equatable {
        let offset: UInt16
        let ttl: UInt32
    }

    /// The counts and key, and where each part starts in the storage's octets.
    struct Header {
        /// The key's hash (`DNSCacheKey.hash`), type, class and variant.
        let hash: Int
        let type: DNSRecordType
        let `class`: DNSClass
        let variant: UInt8
        /// Uptime when stored (nanoseconds) and the lifetime in seconds (0: not to be cached).
        let storedAt: UInt64
        let lifetime: UInt32
        /// The key's lower-cased name is octets `0..<nameLength`; the question name in any
        /// response has the same length.
        let nameLength: Int
        let sectionsLength: Int
        let ttlCount: Int
        let checksLength: Int
        let answerCount: UInt16
        let authorityCount: UInt16
        let additionalCount: UInt16
        /// The RCODE (NOERROR or NXDOMAIN, so it fits the header).
        let rcode: UInt16

        var sectionsStart: Int { nameLength }
        var ttlsStart: Int { nameLength + sectionsLength }
        var checksStart: Int { ttlsStart + ttlCount * TTLField.stride }
        var totalLength: Int { checksStart + checksLength }
    }

    /// The one allocation.
    final class Storage: ManagedBuffer<Header, UInt8> {}

    let storage: Storage

    // MARK: Making

    /// A check's octets: a tag, then 4 (IPv4) or 16 (IPv6) address octets, or a length and a
    /// name's wire form.
    enum CheckTag {
        static let ipv4: UInt8 = 4
        static let ipv6: UInt8 = 6
        static let name: UInt8 = 1
    }

    /// Makes the storage for `header` and lets `fill` write its `header.totalLength` octets.
    init(header: Header, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        let made = Storage.create(minimumCapacity: header.totalLength) { _ in header }
        storage = unsafeDowncast(made, to: Storage.self)
        storage.withUnsafeMutablePointerToElements { elements in
            fill(UnsafeMutableRawBufferPointer(start: elements, count: header.totalLength))
        }
    }

    /// Encodes `entry`'s sections after `question`, keyed by `key`; nil when they cannot be served
    /// this way (an RCODE that needs an OPT record, a message too large, or anything unexpected on
    /// the wire).
    init?(_ entry: DNSCacheEntry, question: DNSQuestion, key: DNSCacheKey) {
        guard entry.rcode.fitsInHeader, question.name.wireLength == key.name.count else { return nil }
        var message = DNSMessage(header: DNSHeader(id: 0, qr: true), questions: [question])
        message.answers = entry.answers
        message.authorities = entry.authorities
        message.additionals = entry.additionals
        var encoded = ByteBuffer()
        guard !message.encode(into: &encoded) else { return nil }
        let sectionsStart = DNSHeader.size + question.name.wireLength + 4
        let records = entry.answers + entry.authorities + entry.additionals
        guard let offsets = Self.ttlOffsets(in: encoded, from: sectionsStart, records: records.count) else {
            return nil
        }
        var checks: [UInt8] = []
        // What `DNSFilter.inspect` decides: other owners, pointed names, addresses and hints.
        for record in entry.answers {
            if record.name != question.name { Self.appendCheck(name: record.name.wireBytes, to: &checks) }
            for target in record.decidedTargets { Self.appendCheck(name: target.wireBytes, to: &checks) }
            for address in record.decidedAddresses {
                if let v4 = address.ipv4 {
                    Self.appendCheck(ipv4: v4, to: &checks)
                } else {
                    Self.appendCheck(ipv6: address.high, address.low, to: &checks)
                }
            }
        }
        let header = Header(
            hash: key.hash, type: key.type, class: key.class, variant: key.variant, storedAt: entry.storedAt,
            lifetime: entry.ttl,
            nameLength: key.name.count, sectionsLength: encoded.writerIndex - sectionsStart, ttlCount: records.count,
            checksLength: checks.count, answerCount: UInt16(entry.answers.count),
            authorityCount: UInt16(entry.authorities.count), additionalCount: UInt16(entry.additionals.count),
            rcode: UInt16(entry.rcode.rawValue & 0xF))
        self.init(header: header) { octets in
            Self.write(key.name, at: 0, in: octets)
            encoded.withUnsafeReadableBytes { bytes in
                octets.baseAddress!.advanced(by: header.sectionsStart).copyMemory(
                    from: bytes.baseAddress!.advanced(by: sectionsStart), byteCount: header.sectionsLength)
            }
            for (index, (offset, record)) in zip(offsets, records).enumerated() {
                Self.write(TTLField(offset: UInt16(offset - sectionsStart), ttl: record.ttl), at: index, in: octets, header)
            }
            Self.write(checks, at: header.checksStart, in: octets)
        }
    }

    static func appendCheck(name wire: [UInt8], to checks: inout [UInt8]) {
        checks.append(CheckTag.name)
        checks.append(UInt8(wire.count))
        checks.append(contentsOf: wire)
    }

    static func appendCheck(ipv4 value: UInt32, to checks: inout [UInt8]) {
        checks.append(CheckTag.ipv4)
        withUnsafeBytes(of: value.bigEndian) { checks.append(contentsOf: $0) }
    }

    static func appendCheck(ipv6 high: UInt64, _ low: UInt64, to checks: inout [UInt8]) {
        checks.append(CheckTag.ipv6)
        withUnsafeBytes(of: high.bigEndian) { checks.append(contentsOf: $0) }
        withUnsafeBytes(of: low.bigEndian) { checks.append(contentsOf: $0) }
    }

    static func write(_ bytes: [UInt8], at offset: Int, in octets: UnsafeMutableRawBufferPointer) {
        bytes.withUnsafeBytes { source in
            guard let base = source.baseAddress, !source.isEmpty else { return }
            octets.baseAddress!.advanced(by: offset).copyMemory(from: base, byteCount: source.count)
        }
    }

    static func write(_ field: TTLField, at index: Int, in octets: UnsafeMutableRawBufferPointer, _ header: Header) {
        let at = header.ttlsStart + index * TTLField.stride
        octets.storeBytes(of: field.offset, toByteOffset: at, as: UInt16.self)
        octets.storeBytes(of: field.ttl, toByteOffset: at + 2, as: UInt32.self)
    }

    // MARK: Reading

    var header: Header { storage.header }

    var rcode: UInt16 { storage.header.rcode }
    var nameLength: Int { storage.header.nameLength }
    /// Uptime when stored, in nanoseconds, and the lifetime in seconds (0: not cached).
    var storedAt: UInt64 { storage.header.storedAt }
    var lifetime: UInt32 { storage.header.lifetime }
    /// Uptime at which the entry stops being served, in nanoseconds.
    var expiresAt: UInt64 { storedAt &+ UInt64(lifetime) * 1_000_000_000 }

    /// Calls `body` with the storage's octets.
    func withOctets<R>(_ body: (UnsafeRawBufferPointer, Header) throws -> R) rethrows -> R {
        try storage.withUnsafeMutablePointers { header, elements in
            try body(UnsafeRawBufferPointer(start: elements, count: header.pointee.totalLength), header.pointee)
        }
    }

    /// Whether this is the entry for `key` (not only one whose hash is the same).
    func matches(_ key: DNSCacheKey) -> Bool {
        withOctets { octets, header in
            guard header.hash == key.hash, header.type == key.type, header.class == key.class,
                header.variant == key.variant, header.nameLength == key.name.count
            else { return false }
            return UnsafeRawBufferPointer(rebasing: octets[0..<header.nameLength]).elementsEqual(key.name)
        }
    }

    /// Every TTL field, in record order.
    var ttlFields: [TTLField] {
        withOctets { octets, header in
            (0..<header.ttlCount).map { index in Self.field(at: index, in: octets, header) }
        }
    }

    /// The TTLs as stored, in record order.
    var ttls: [UInt32] { ttlFields.map(\.ttl) }

    static func field(at index: Int, in octets: UnsafeRawBufferPointer, _ header: Header) -> TTLField {
        let at = header.ttlsStart + index * TTLField.stride
        return TTLField(
            offset: octets.loadUnaligned(fromByteOffset: at, as: UInt16.self),
            ttl: octets.loadUnaligned(fromByteOffset: at + 2, as: UInt32.self))
    }

    /// The checks, in answer order.
    var checks: [Check] {
        var all: [Check] = []
        forEachCheck { check in
            all.append(check)
            return true
        }
        return all
    }

    /// Calls `body` with each check in answer order while it returns true; returns whether every
    /// call did. (Addresses are read without allocating; a name is made only when there is one.)
    @discardableResult
    func forEachCheck(_ body: (Check) -> Bool) -> Bool {
        withOctets { octets, header in
            var position = header.checksStart
            let end = header.totalLength
            while position < end {
                let tag = octets[position]
                position += 1
                let check: Check
                switch tag {
                case CheckTag.ipv4:
                    check = .address(IPAddress(ipv4: UInt32(bigEndian: octets.loadUnaligned(fromByteOffset: position, as: UInt32.self))))
                    position += 4
                case CheckTag.ipv6:
                    let high = UInt64(bigEndian: octets.loadUnaligned(fromByteOffset: position, as: UInt64.self))
                    let low = UInt64(bigEndian: octets.loadUnaligned(fromByteOffset: position + 8, as: UInt64.self))
                    check = .address(IPAddress(high: high, low: low))
                    position += 16
                default:
                    let length = Int(octets[position])
                    let wire = Array(octets[(position + 1)..<(position + 1 + length)])
                    position += 1 + length
                    // (Written from a name that was read, so it reads back.)
                    guard let name = try? DNSName(wireBytes: wire) else { continue }
                    check = .name(name)
                }
                if !body(check) { return false }
            }
            return true
        }
    }

    /// The records again, for the general path (`DNSCache.lookup`), with the TTLs as stored: the
    /// sections parsed after a header and `question`; nil if they do not parse.
    func records(question: DNSQuestion) -> (answers: [DNSResourceRecord], authorities: [DNSResourceRecord], additionals: [DNSResourceRecord])? {
        withOctets { octets, header in
            guard question.name.wireLength == header.nameLength else { return nil }
            var message = ByteBuffer()
            message.reserveCapacity(DNSHeader.size + header.nameLength + 4 + header.sectionsLength)
            message.writeMultipleIntegers(
                UInt16(0), UInt16(0x8000) | header.rcode, UInt16(1), header.answerCount, header.authorityCount,
                header.additionalCount)
            question.name.encode(into: &message)
            message.writeMultipleIntegers(question.type.rawValue, question.class.rawValue)
            message.writeBytes(UnsafeRawBufferPointer(rebasing: octets[header.sectionsStart..<header.ttlsStart]))
            guard let parsed = try? DNSMessage(from: &message) else { return nil }
            return (parsed.answers, parsed.authorities, parsed.additionals)
        }
    }

    /// Octets of the response to a query whose header and question take `questionEnd` octets.
    func responseSize(questionEnd: Int, withOPT: Bool) -> Int {
        questionEnd + storage.header.sectionsLength + (withOPT ? 11 : 0)
    }

    /// Writes the response to the simple query `preview` of `packet`: the query's ID and question
    /// (the client's letter case), flags as `DNSMessage.makeResponse` sets them, these sections
    /// with every TTL lowered by `elapsed` seconds (never below 0), and an OPT record advertising
    /// our payload size with the query's DO bit if the query had one (RFC 6891 6.1.1, RFC 3225).
    func write(
        into response: inout ByteBuffer, packet: ByteBuffer, preview: DNSQueryPreview, elapsed: UInt32
    ) {
        withOctets { octets, header in
            let base = response.writerIndex
            let questionEnd = preview.nameRange.upperBound + 4 - packet.readerIndex
            response.writeBytes(packet.readableBytesView.prefix(questionEnd))
            response.writeBytes(UnsafeRawBufferPointer(rebasing: octets[header.sectionsStart..<header.ttlsStart]))
            if let opt = preview.opt {
                response.writeMultipleIntegers(
                    UInt8(0), DNSRecordType.OPT.rawValue, EDNS.defaultUDPPayloadSize,
                    UInt32(opt.dnssecOK ? 0x8000 : 0), UInt16(0))
            }
            // QR, opcode, RD and CD from the query, RA set; AA, TC, AD and Z clear.
            let flags = 0x8000 | (preview.flags & 0x7910) | 0x0080 | header.rcode
            response.setMultipleIntegers(
                flags, UInt16(1), header.answerCount, header.authorityCount,
                header.additionalCount + (preview.opt == nil ? 0 : 1), at: base + 2)
            guard elapsed > 0 else { return }
            let sectionsStart = base + questionEnd
            for index in 0..<header.ttlCount {
                let field = Self.field(at: index, in: octets, header)
                response.setInteger(
                    field.ttl > elapsed ? field.ttl - elapsed : 0, at: sectionsStart + Int(field.offset))
            }
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

extension DNSCachedWire.TTLField {
    /// Octets a field takes in the storage: the offset, then the TTL (native order, unaligned).
    static let stride = 6
}
