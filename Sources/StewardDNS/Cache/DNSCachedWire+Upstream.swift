import NIOCore
import StewardDNSWire
import StewardPolicy

extension DNSCachedWire {
    /// Reads an upstream's answer straight from its datagram as the sections a cache hit serves,
    /// with the lifetime to cache it for (nil: served, not cached), so a relayed miss builds no
    /// `DNSMessage`: it is stored and answered as the hit that follows it will be.
    ///
    /// The datagram is taken only when it is a plain answer to `key`'s question: a response
    /// (QR) to a standard query, not truncated, NOERROR or NXDOMAIN, one question written out in
    /// full that is the key's (name compared case-insensitively, type, class). Its records are
    /// walked to the last octet with the parser's rules (`DNSRecordData.read`): names of at most
    /// 255 octets whose compression pointers go backwards (before the labels they end, at most
    /// `DNSName.maxPointerHops` of them) and never into the header (a
    /// served answer has the client's header there; the question's name, at the same offset and of
    /// the same length, is the client's spelling of the same name), A and AAAA data of their
    /// sizes, CNAME, NS, PTR, DNAME, MX, SRV and SOA data that are exactly their names and fields.
    /// An OPT record may only be the last record, with no options, no extended RCODE and version
    /// 0; it is left out. A TSIG record, or anything else, declines (nil): the caller reads the
    /// datagram with `UpstreamQuery.evaluate` and goes the general way.
    ///
    /// TTLs are set as `DNSCacheAdmission.admit` stores them; the checks are those `init(_:question:)`
    /// makes from the answer section (names other than the question's, the names records point to,
    /// addresses and SVCB/HTTPS hints). An authority record other than SOA/NSEC/NSEC3/RRSIG, or an
    /// additional record, declines: the general way passes the message on without them.
    static func fromUpstream(
        _ datagram: ByteBuffer, key: DNSCacheKey, admission: DNSCacheAdmission, storedAt: UInt64
    ) -> (wire: DNSCachedWire, lifetime: UInt32?)? {
        datagram.withUnsafeReadableBytes { bytes -> (wire: DNSCachedWire, lifetime: UInt32?)? in
            func u16(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
            func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) << 16 | UInt32(u16(at + 2)) }
            let count = bytes.count
            guard count >= DNSHeader.size else { return nil }
            let flags = u16(2)
            // QR, opcode QUERY, TC clear, NOERROR or NXDOMAIN, one question.
            guard flags & 0x8000 != 0, flags & 0x7800 == 0, flags & 0x0200 == 0 else { return nil }
            let rcode = flags & 0x000F
            guard rcode == 0 || rcode == 3, u16(4) == 1 else { return nil }

            // The question: the key's name letter for letter but for case, then type and class.
            let nameLength = key.name.count
            let questionEnd = DNSHeader.size + nameLength + 4
            guard count >= questionEnd else { return nil }
            for index in 0..<nameLength {
                let octet = bytes[DNSHeader.size + index]
                guard DNSName.lower(octet) == key.name[index] else { return nil }
            }
            guard u16(DNSHeader.size + nameLength) == Int(key.type.rawValue),
                u16(DNSHeader.size + nameLength + 2) == Int(key.class.rawValue)
            else { return nil }

            /// Where the name at `start` ends in the stream, or nil if it breaks a rule above or
            /// one of `DNSWireReader.readName`'s: a pointer must land before the run of labels it
            /// ends (not only before itself), and a name follows at most `maxPointerHops`.
            func nameEnd(_ start: Int, limit: Int) -> Int? {
                var cursor = start
                var segmentStart = start
                var end: Int? = nil
                var length = 0
                var hops = 0
                while true {
                    guard cursor < limit else { return nil }
                    let label = Int(bytes[cursor])
                    if label == 0 {
                        guard length + 1 <= DNSName.maxWireLength else { return nil }
                        return end ?? cursor + 1
                    }
                    if label & 0xC0 == 0xC0 {
                        guard cursor + 2 <= limit else { return nil }
                        let target = (label & 0x3F) << 8 | Int(bytes[cursor + 1])
                        hops += 1
                        guard target >= DNSHeader.size, target < segmentStart, hops <= DNSName.maxPointerHops else {
                            return nil
                        }
                        if end == nil { end = cursor + 2 }
                        segmentStart = target
                        cursor = target
                        continue
                    }
                    guard label & 0xC0 == 0 else { return nil }
                    length += 1 + label
                    guard length < DNSName.maxWireLength else { return nil }
                    cursor += 1 + label
                }
            }
            /// The name at `start` written out, pointers followed (after `nameEnd` accepted it).
            func flattened(_ start: Int) -> [UInt8] {
                var name: [UInt8] = []
                var cursor = start
                while true {
                    let label = Int(bytes[cursor])
                    if label == 0 { break }
                    if label & 0xC0 == 0xC0 {
                        cursor = (label & 0x3F) << 8 | Int(bytes[cursor + 1])
                        continue
                    }
                    name.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[cursor..<cursor + 1 + label]))
                    cursor += 1 + label
                }
                name.append(0)
                return name
            }
            /// Whether `name` is the question's name (case-insensitively).
            func isQuestion(_ name: [UInt8]) -> Bool {
                name.count == nameLength
                    && zip(name, key.name).allSatisfy { octet, lowered in DNSName.lower(octet) == lowered }
            }

            let answerCount = u16(6)
            let authorityCount = u16(8)
            var additionalCount = u16(10)
            let total = answerCount + authorityCount + additionalCount
            var answers: [DNSCacheAdmission.Record] = []
            var authorities: [DNSCacheAdmission.Record] = []
            var additionals: [DNSCacheAdmission.Record] = []
            var ttlOffsets: [UInt16] = []
            var checks: [UInt8] = []
            // (Counts are the sender's: reserve no more than the datagram can hold, 11 octets a record.)
            answers.reserveCapacity(min(answerCount, count / 11))
            ttlOffsets.reserveCapacity(min(total, count / 11))
            var position = questionEnd
            var optStart: Int? = nil
            /// The CNAME targets met so far, lower-cased: the names an answer record may be owned by.
            var aliases: [[UInt8]] = []
            for index in 0..<total {
                let start = position
                guard let ownerEnd = nameEnd(position, limit: count), ownerEnd + 10 <= count else { return nil }
                let type = DNSRecordType(UInt16(u16(ownerEnd)))
                let isIN = u16(ownerEnd + 2) == Int(DNSClass.IN.rawValue)
                let ttl = u32(ownerEnd + 4)
                let rdataStart = ownerEnd + 10
                let rdataLength = u16(ownerEnd + 8)
                let rdataEnd = rdataStart + rdataLength
                guard rdataEnd <= count else { return nil }
                if type == .OPT {
                    // Root owner, no extended RCODE bits, version 0, no options; the last record.
                    guard index == total - 1, additionalCount > 0, bytes[start] == 0, bytes[ownerEnd + 4] == 0,
                        bytes[ownerEnd + 5] == 0, rdataLength == 0
                    else { return nil }
                    optStart = start
                    position = rdataEnd
                    break
                }
                guard type != .TSIG else { return nil }
                // DNSSEC records for a client without DO: the general path takes them out.
                if !key.dnssecOK, DNSMessage.dnssecTypes.contains(type), type != key.type { return nil }
                // The data the parser reads as fields, as it would read them.
                var soaMinimum: UInt32? = nil
                if rdataLength > 0 {
                    switch type {
                    case .A where isIN: guard rdataLength == 4 else { return nil }
                    case .AAAA where isIN: guard rdataLength == 16 else { return nil }
                    case .CNAME, .NS, .PTR, .DNAME:
                        guard nameEnd(rdataStart, limit: rdataEnd) == rdataEnd else { return nil }
                    case .MX:
                        guard rdataLength > 2, nameEnd(rdataStart + 2, limit: rdataEnd) == rdataEnd else { return nil }
                    case .SRV:
                        guard rdataLength > 6, nameEnd(rdataStart + 6, limit: rdataEnd) == rdataEnd else { return nil }
                    case .SOA:
                        guard let mname = nameEnd(rdataStart, limit: rdataEnd),
                            let rname = nameEnd(mname, limit: rdataEnd), rname + 20 == rdataEnd
                        else { return nil }
                        soaMinimum = u32(rdataEnd - 4)
                    default: break
                    }
                }
                ttlOffsets.append(UInt16(ownerEnd + 4 - questionEnd))
                let record = DNSCacheAdmission.Record(type: type, ttl: ttl, soaMinimum: soaMinimum)
                if index < answerCount {
                    answers.append(record)
                    // What the policy must see (`DNSFilter.inspect`): the owner if it is not the
                    // question (a pointer to the question's name, the usual owner, is), the
                    // target of a CNAME, the address of an A or AAAA.
                    // Only the question's name and the CNAME chain from it, in order: an answer
                    // with other owners (or a DNAME) is scrubbed the general way.
                    let ownedByQuestion = bytes[start] == 0xC0 && bytes[start + 1] == UInt8(DNSHeader.size)
                    if !ownedByQuestion {
                        let owner = flattened(start)
                        if !isQuestion(owner) {
                            let lowered = owner.map(DNSName.lower)
                            guard aliases.contains(lowered) else { return nil }
                            appendCheck(name: owner, to: &checks)
                        }
                    }
                    guard type != .DNAME else { return nil }
                    if type == .CNAME, rdataLength > 0 { aliases.append(flattened(rdataStart).map(DNSName.lower)) }
                    if rdataLength > 0 {
                        switch type {
                        case .CNAME, .NS, .PTR, .DNAME:
                            appendCheck(name: flattened(rdataStart), to: &checks)
                        case .MX:
                            appendCheck(name: flattened(rdataStart + 2), to: &checks)
                        case .SRV:
                            appendCheck(name: flattened(rdataStart + 6), to: &checks)
                        case .SVCB, .HTTPS:
                            // The target and the address hints (RFC 9460); data that does not read
                            // as a service binding goes the general way.
                            guard let binding = DNSServiceBinding(rdata: bytes[rdataStart..<rdataEnd]) else { return nil }
                            if !binding.targetIsRoot { appendCheck(name: binding.targetWire, to: &checks) }
                            for v4 in binding.ipv4Hints { appendCheck(ipv4: v4, to: &checks) }
                            for v6 in binding.ipv6Hints { appendCheck(ipv6: v6.high, v6.low, to: &checks) }
                        case .A where isIN:
                            appendCheck(ipv4: u32(rdataStart), to: &checks)
                        case .AAAA where isIN:
                            let high = UInt64(u32(rdataStart)) << 32 | UInt64(u32(rdataStart + 4))
                            let low = UInt64(u32(rdataStart + 8)) << 32 | UInt64(u32(rdataStart + 12))
                            appendCheck(ipv6: high, low, to: &checks)
                        default: break
                        }
                    }
                } else if index < answerCount + authorityCount {
                    // Only what a stub uses (`DNSMessage.minimal`); anything else is taken out
                    // the general way.
                    guard DNSMessage.keptAuthorityTypes.contains(type) else { return nil }
                    authorities.append(record)
                } else {
                    // Glue and other additional records: the general way drops them.
                    return nil
                }
                position = rdataEnd
            }
            guard position == count else { return nil }
            let sectionsEnd = optStart ?? count
            if optStart != nil { additionalCount -= 1 }

            let lifetime = admission.admit(
                rcode: rcode == 0 ? .noError : .nxDomain, questionType: key.type, answers: &answers,
                authorities: &authorities, additionals: &additionals)
            let header = Header(
                hash: key.hash, type: key.type, class: key.class, variant: key.variant, storedAt: storedAt,
                lifetime: lifetime ?? 0,
                nameLength: nameLength, sectionsLength: sectionsEnd - questionEnd, ttlCount: ttlOffsets.count,
                checksLength: checks.count, answerCount: UInt16(answerCount), authorityCount: UInt16(authorityCount),
                additionalCount: UInt16(additionalCount), rcode: UInt16(rcode))
            let wire = DNSCachedWire(header: header) { octets in
                write(key.name, at: 0, in: octets)
                octets.baseAddress!.advanced(by: header.sectionsStart).copyMemory(
                    from: bytes.baseAddress!.advanced(by: questionEnd), byteCount: header.sectionsLength)
                // The TTLs as admitted, in the sections and in their fields.
                for (index, (offset, record)) in zip(ttlOffsets, [answers, authorities, additionals].joined()).enumerated() {
                    write(TTLField(offset: offset, ttl: record.ttl), at: index, in: octets, header)
                    octets.storeBytes(
                        of: record.ttl.bigEndian, toByteOffset: header.sectionsStart + Int(offset), as: UInt32.self)
                }
                write(checks, at: header.checksStart, in: octets)
            }
            return (wire, lifetime)
        }
    }
}
