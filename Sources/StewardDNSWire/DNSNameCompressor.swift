import NIOCore

/// Writes names into one message being encoded, replacing repeated suffixes with compression
/// pointers (RFC 1035 4.1.4). Suffixes match byte for byte, letter case included, so compression
/// never changes how a name is spelled. Only offsets below 0x4000 can be pointed at.
struct DNSNameCompressor {
    /// Absolute buffer index of the message header.
    let messageStart: Int
    /// Whether to emit pointers at all; when false every name is written in full.
    let enabled: Bool
    /// Known suffixes (as slices of a name's wire bytes, ending with the root label) to the offset
    /// where they were written.
    private var offsets: [Suffix: UInt16] = [:]

    /// A name suffix as a dictionary key, hashed as one block of bytes (an `ArraySlice`'s own
    /// hashing feeds the hasher one element at a time, which dominated encoding).
    private struct Suffix: Hashable {
        let bytes: ArraySlice<UInt8>

        init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

        func hash(into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }

        static func == (lhs: Suffix, rhs: Suffix) -> Bool {
            lhs.bytes.withUnsafeBytes { left in
                rhs.bytes.withUnsafeBytes { right in
                    left.count == right.count && left.elementsEqual(right)
                }
            }
        }
    }

    init(messageStart: Int, enabled: Bool) {
        self.messageStart = messageStart
        self.enabled = enabled
    }

    /// Writes `name`; `compressible` is false for fields that must not use pointers (RDATA of
    /// types newer than RFC 1035, RFC 3597 4), whose names may still be pointed at later.
    mutating func write(_ name: DNSName, into buffer: inout ByteBuffer, compressible: Bool = true) {
        let wire = name.wireBytes
        guard enabled, wire.count > 1 else {
            buffer.writeBytes(wire)
            return
        }
        let nameStart = buffer.writerIndex - messageStart
        var offset = 0
        var pointer: UInt16?
        while offset < wire.count, wire[offset] != 0 {
            if compressible, let target = offsets[Suffix(wire[offset...])] {
                pointer = target
                break
            }
            offset += 1 + Int(wire[offset])
        }
        if let pointer {
            buffer.writeBytes(wire[..<offset])
            buffer.writeInteger(0xC000 | pointer)
        } else {
            buffer.writeBytes(wire)
        }
        // Remember every suffix written out literally here.
        var label = 0
        while label < offset {
            let at = nameStart + label
            guard at < 0x4000 else { break }
            if offsets[Suffix(wire[label...])] == nil { offsets[Suffix(wire[label...])] = UInt16(at) }
            label += 1 + Int(wire[label])
        }
    }
}
