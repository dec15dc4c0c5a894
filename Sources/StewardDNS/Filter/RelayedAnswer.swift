import NIOCore
import StewardDNSWire

/// The client's answer copied from the upstream's datagram rather than encoded again: the
/// client's header and question (its ID and letter case), the upstream's answer, authority and
/// additional records after it as they came, without the upstream's OPT record, and, if the client
/// sent one, an OPT record of ours (our payload size, the client's DO bit; RFC 6891 6.1.1, RFC 3225).
/// The message is the one `UpstreamQuery.clientResponse` makes and the encoder would write; only
/// the compression may differ.
///
/// The upstream's question has the client's name at offset 12 with the same length (the response
/// was accepted only if it repeats the question), so every compression pointer in the copied
/// records still lands where it did: on the question's name, now in the client's letter case, or
/// on an earlier record. The header is not the upstream's, so no name may reach into it: every
/// pointer of every name the parser reads (owner names, and the names in CNAME, NS, PTR, DNAME,
/// MX, SRV and SOA data) must land at the question or after it. Copying is declined (nil: the
/// caller encodes) unless that holds, the upstream's question name is written out in full, the
/// records end exactly at the end of the datagram, the OPT record, if any, is the last record and
/// carries no options and no extended RCODE, and the result fits `maxSize`.
enum RelayedAnswer {
    static func copy(
        _ answer: ByteBuffer, packet: ByteBuffer, nameLength: Int, clientOPT: EDNS?, maxSize: Int
    ) -> ByteBuffer? {
        let questionEnd = DNSHeader.size + nameLength + 4
        guard packet.readableBytes >= questionEnd else { return nil }
        return answer.withUnsafeReadableBytes { bytes -> ByteBuffer? in
            func u16(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
            guard bytes.count >= questionEnd else { return nil }
            // The question name: labels only, as long as the client's.
            var position = DNSHeader.size
            while bytes[position] != 0 {
                let length = Int(bytes[position])
                guard length & 0xC0 == 0 else { return nil }
                position += 1 + length
                guard position < DNSHeader.size + nameLength else { return nil }
            }
            guard position == DNSHeader.size + nameLength - 1 else { return nil }
            let answers = u16(6)
            let authorities = u16(8)
            var additionals = u16(10)
            /// Where the name at `start` ends in the stream, or nil if it is malformed or one of its
            /// pointers lands before the question (or not strictly before itself).
            func nameEnd(_ start: Int, limit: Int) -> Int? {
                var cursor = start
                var end: Int? = nil
                var hops = 0
                while true {
                    guard cursor < limit else { return nil }
                    let length = Int(bytes[cursor])
                    if length == 0 { return end ?? cursor + 1 }
                    if length & 0xC0 == 0xC0 {
                        guard cursor + 2 <= limit else { return nil }
                        let target = (length & 0x3F) << 8 | Int(bytes[cursor + 1])
                        guard target >= DNSHeader.size, target < cursor, hops < 128 else { return nil }
                        if end == nil { end = cursor + 2 }
                        hops += 1
                        cursor = target
                        continue
                    }
                    guard length & 0xC0 == 0 else { return nil }
                    cursor += 1 + length
                }
            }
            // Walk the records to the end, noting where an OPT record starts.
            let total = answers + authorities + additionals
            position = questionEnd
            var optStart: Int? = nil
            for index in 0..<total {
                let start = position
                guard let ownerEnd = nameEnd(position, limit: bytes.count) else { return nil }
                position = ownerEnd
                guard position + 10 <= bytes.count else { return nil }
                let type = u16(position)
                if type == Int(DNSRecordType.OPT.rawValue) {
                    // Only as the last record, in the additional section.
                    guard index == total - 1, additionals > 0 else { return nil }
                    optStart = start
                }
                let rdataStart = position + 10
                let rdataEnd = rdataStart + u16(position + 8)
                guard rdataEnd <= bytes.count else { return nil }
                // The names in the data the parser reads, at their offsets.
                let recordType = DNSRecordType(UInt16(type))
                let nameOffset: Int?
                switch recordType {
                case .CNAME, .NS, .PTR, .DNAME, .SOA: nameOffset = 0
                case .MX: nameOffset = 2
                case .SRV: nameOffset = 6
                default: nameOffset = nil
                }
                if let offset = nameOffset, rdataEnd > rdataStart {
                    guard let first = nameEnd(rdataStart + offset, limit: rdataEnd) else { return nil }
                    if recordType == .SOA, nameEnd(first, limit: rdataEnd) == nil { return nil }
                }
                position = rdataEnd
            }
            guard position == bytes.count else { return nil }
            var sectionsEnd = position
            if let start = optStart {
                // Root owner; no extended RCODE bits, version 0, no options.
                guard bytes[start] == 0, bytes[start + 5] == 0, bytes[start + 6] == 0, u16(start + 9) == 0 else {
                    return nil
                }
                sectionsEnd = start
                additionals -= 1
            }
            let size = questionEnd + (sectionsEnd - questionEnd) + (clientOPT == nil ? 0 : 11)
            guard size <= maxSize else { return nil }
            var output = ByteBufferAllocator().buffer(capacity: size)
            output.writeBytes(packet.readableBytesView.prefix(questionEnd))
            output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[questionEnd..<sectionsEnd]))
            if let clientOPT {
                output.writeMultipleIntegers(
                    UInt8(0), DNSRecordType.OPT.rawValue, EDNS.defaultUDPPayloadSize,
                    UInt32(clientOPT.dnssecOK ? 0x8000 : 0), UInt16(0))
            }
            let base = output.readerIndex
            output.setMultipleIntegers(
                UInt16(u16(2)), UInt16(1), UInt16(answers), UInt16(authorities),
                UInt16(additionals + (clientOPT == nil ? 0 : 1)), at: base + 2)
            return output
        }
    }
}
