import NIOCore

/// Reading and writing names on the wire, with message compression (RFC 1035 4.1.4).
extension DNSName {
    /// Most compression pointers one name may follow. Pointers must also point strictly backwards,
    /// which already rules out loops; the limit bounds the work on hostile input.
    public static let maxPointerHops = 128

    /// Reads a name at the reader index. `messageStart` is the absolute buffer index of the
    /// message header that compression pointers count from; when `nil` the name stands alone and
    /// any pointer is refused (it cannot point before the name). On a throw the reader index is
    /// unchanged.
    public init(from buffer: inout ByteBuffer, messageStart: Int? = nil) throws(DNSWireError) {
        self = try buffer.readDNS(messageStart: messageStart) { (reader) throws(DNSWireError) in
            try reader.readName()
        }
    }

    /// Writes the name uncompressed.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeBytes(wireBytes)
    }
}

extension DNSWireReader {
    /// Reads a possibly compressed name. Rules: each pointer must point strictly before the start
    /// of the stretch of labels it ends (so before the name itself, and each hop further back than
    /// the last), inside the message, and at most `maxPointerHops` times; the expanded name must
    /// fit in 255 octets; label types 0x40 and 0x80 are refused.
    mutating func readName() throws(DNSWireError) -> DNSName {
        // Pass 1: validate, measure and find where the name ends in the stream.
        var cursor = position
        var segmentStart = position
        var furthest = position
        var end: Int?
        var hops = 0
        var length = 1
        while true {
            guard cursor < bytes.count else {
                throw .truncated("label length octet", need: 1, have: 0)
            }
            let octet = bytes[cursor]
            if octet == 0 {
                if end == nil { end = cursor + 1 }
                break
            }
            if octet & 0xC0 == 0xC0 {
                guard cursor + 2 <= bytes.count else {
                    throw .truncated("compression pointer", need: 2, have: bytes.count - cursor)
                }
                let target = Int(octet & 0x3F) << 8 | Int(bytes[cursor + 1])
                furthest = max(furthest, cursor + 1)
                if end == nil { end = cursor + 2 }
                guard target < bytes.count else {
                    throw DNSWireError(
                        .pointerOutOfBounds, "pointer at \(cursor) to \(target) is past the end (\(bytes.count))")
                }
                guard target < segmentStart else {
                    if target <= furthest {
                        throw DNSWireError(.pointerLoop, "pointer at \(cursor) to \(target) loops back into the name")
                    }
                    throw DNSWireError(.forwardPointer, "pointer at \(cursor) to \(target) points forward")
                }
                hops += 1
                guard hops <= DNSName.maxPointerHops else {
                    throw DNSWireError(.tooManyPointers, "more than \(DNSName.maxPointerHops) compression pointers")
                }
                segmentStart = target
                cursor = target
                continue
            }
            try DNSName.checkLengthOctet(octet)
            let labelLength = Int(octet)
            guard cursor + 1 + labelLength <= bytes.count else {
                throw .truncated("label", need: labelLength, have: bytes.count - cursor - 1)
            }
            length += 1 + labelLength
            guard length <= DNSName.maxWireLength else {
                throw DNSWireError(.nameTooLong, "name length exceeds \(DNSName.maxWireLength)")
            }
            cursor += 1 + labelLength
            furthest = max(furthest, cursor - 1)
        }
        // Pass 2: copy the (now known good) labels.
        let wire = [UInt8](unsafeUninitializedCapacity: length) { out, count in
            var from = position
            count = 0
            while count < length - 1, from < bytes.count {
                let octet = bytes[from]
                if octet & 0xC0 == 0xC0, from + 1 < bytes.count {
                    from = Int(octet & 0x3F) << 8 | Int(bytes[from + 1])
                    continue
                }
                let labelEnd = from + 1 + Int(octet)
                guard octet != 0, labelEnd <= bytes.count, count + Int(octet) < length else { break }
                for index in from..<labelEnd {
                    out[count] = bytes[index]
                    count += 1
                }
                from = labelEnd
            }
            out[count] = 0
            count += 1
        }
        position = end ?? cursor + 1
        return DNSName(uncheckedWire: wire)
    }
}
