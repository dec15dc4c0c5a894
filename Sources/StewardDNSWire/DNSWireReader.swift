import NIOCore

/// A bounds-checked cursor over the bytes of one DNS message. Offset 0 is the first octet of the
/// message header, so compression pointers (RFC 1035 4.1.4) are plain offsets into `bytes`.
///
/// Every read checks the remaining length first and throws `DNSWireError` instead of trapping.
/// The pointer is only valid inside the closure that vended it (`ByteBuffer.readDNS`).
struct DNSWireReader {
    let bytes: UnsafeRawBufferPointer
    var position: Int

    init(bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }

    /// A reader over the same message that ends at `end` (used to keep RDATA parsing inside RDLENGTH;
    /// compression pointers still reach everything before `end`).
    func limited(to end: Int) -> DNSWireReader {
        DNSWireReader(bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), position: position)
    }

    mutating func require(_ count: Int, _ what: @autoclosure () -> String) throws(DNSWireError) {
        guard count <= remaining else { throw .truncated(what(), need: count, have: remaining) }
    }

    mutating func readUInt8(_ what: @autoclosure () -> String) throws(DNSWireError) -> UInt8 {
        try require(1, what())
        defer { position += 1 }
        return bytes[position]
    }

    mutating func readUInt16(_ what: @autoclosure () -> String) throws(DNSWireError) -> UInt16 {
        try require(2, what())
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    mutating func readUInt32(_ what: @autoclosure () -> String) throws(DNSWireError) -> UInt32 {
        try require(4, what())
        var value: UInt32 = 0
        for index in position..<position + 4 { value = value << 8 | UInt32(bytes[index]) }
        position += 4
        return value
    }

    mutating func readBytes(_ count: Int, _ what: @autoclosure () -> String) throws(DNSWireError) -> [UInt8] {
        try require(count, what())
        defer { position += count }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[position..<position + count]))
    }
}

extension ByteBuffer {
    /// Calls `body` with a reader whose offset 0 is the absolute index `messageStart` and whose
    /// position is the reader index, then moves the reader index to where the reader stopped.
    /// On a throw the reader index is left unchanged.
    mutating func readDNS<T>(
        messageStart: Int?, _ body: (inout DNSWireReader) throws(DNSWireError) -> T
    ) throws(DNSWireError) -> T {
        let start = messageStart ?? readerIndex
        guard start >= 0, start <= readerIndex else {
            throw DNSWireError(.pointerOutOfBounds, "message start \(start) is after the reader index \(readerIndex)")
        }
        let reader = readerIndex
        let end = writerIndex
        let (value, consumed) = try withVeryUnsafeBytes { (storage) throws(DNSWireError) -> (T, Int) in
            // Bytes before the writer index are initialised; the message is start..<writerIndex.
            var cursor = DNSWireReader(
                bytes: UnsafeRawBufferPointer(rebasing: storage[start..<end]), position: reader - start)
            let value = try body(&cursor)
            return (value, cursor.position - (reader - start))
        }
        moveReaderIndex(forwardBy: consumed)
        return value
    }
}

/// Runs `body`, putting `context` in front of the field of any error it throws.
@inline(__always)
func withContext<T>(
    _ context: @autoclosure () -> String, _ body: () throws(DNSWireError) -> T
) throws(DNSWireError) -> T {
    do throws(DNSWireError) {
        return try body()
    } catch {
        throw error.within(context())
    }
}
