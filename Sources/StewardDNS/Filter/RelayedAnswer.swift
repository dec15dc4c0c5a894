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
/// on an earlier record. Copying is declined (nil: the caller encodes) unless the upstream's
/// question name is written out in full, the records end exactly at the end of the datagram, the
/// OPT record, if any, is the last record and carries no options and no extended RCODE, and the
/// result fits `maxSize`.
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
            // Walk the records to the end, noting where an OPT record starts.
            let total = answers + authorities + additionals
            position = questionEnd
            var optStart: Int? = nil
            for index in 0..<total {
                let start = position
                while true {
                    guard position < bytes.count else { return nil }
                    let length = Int(bytes[position])
                    if length == 0 {
                        position += 1
                        break
                    }
                    if length & 0xC0 == 0xC0 {
                        position += 2
                        break
                    }
                    guard length & 0xC0 == 0 else { return nil }
                    position += 1 + length
                }
                guard position + 10 <= bytes.count else { return nil }
                if u16(position) == Int(DNSRecordType.OPT.rawValue) {
                    // Only as the last record, in the additional section.
                    guard index == total - 1, additionals > 0 else { return nil }
                    optStart = start
                }
                position += 10 + u16(position + 8)
                guard position <= bytes.count else { return nil }
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
