import NIOCore

/// Encoding with name compression (RFC 1035 4.1.4) and a size limit (RFC 1035 4.2.1,
/// RFC 6891 7, RFC 2181 9).
extension DNSMessage {
    /// Largest message the 16-bit TCP length prefix allows, and the default `maxSize`.
    public static let maxMessageSize = 65535

    /// Appends the message at the writer index.
    ///
    /// - Parameters:
    ///   - maxSize: most octets to write (clamped to 12...65,535). Questions and records are
    ///     written in order; the first one that does not fit, and everything after it, is dropped
    ///     whole. Room is kept for the OPT record, which is always written last (RFC 6891 7); only
    ///     if the header and OPT record alone exceed `maxSize` is the OPT record dropped too.
    ///     TC is set when a question, answer or authority record was dropped; dropping only
    ///     additional records does not set it (RFC 2181 9). A TC bit already in `header` is kept.
    ///   - compress: whether to use compression pointers. Names are compressed only against
    ///     identically spelled earlier names (letter case included), and only in owner names,
    ///     questions and the RDATA of RFC 1035 types (RFC 3597 4).
    /// - Returns: whether anything (a question, a record or the OPT record) was dropped.
    @discardableResult
    public func encode(into buffer: inout ByteBuffer, maxSize: Int = DNSMessage.maxMessageSize, compress: Bool = true)
        -> Bool
    {
        let limit = min(max(maxSize, DNSHeader.size), Self.maxMessageSize)
        let start = buffer.writerIndex
        var compressor = DNSNameCompressor(messageStart: start, enabled: compress)
        var header = self.header
        header.encode(into: &buffer)

        var opt = edns
        if let record = opt, DNSHeader.size + record.wireLength > limit { opt = nil }
        var writer = SectionWriter(start: start, limit: limit - (opt?.wireLength ?? 0))

        header.questionCount = writer.write(questions, into: &buffer) { question, buffer in
            question.encode(into: &buffer, compressor: &compressor)
        }
        header.answerCount = writer.write(answers, into: &buffer) { $0.encode(into: &$1, compressor: &compressor) }
        header.authorityCount = writer.write(authorities, into: &buffer) {
            $0.encode(into: &$1, compressor: &compressor)
        }
        let requiredDropped = writer.dropped
        header.additionalCount = writer.write(additionals, into: &buffer, room: opt == nil ? 0 : 1) {
            $0.encode(into: &$1, compressor: &compressor)
        }
        if let opt {
            opt.encode(into: &buffer)
            header.additionalCount += 1
        }
        if requiredDropped { header.tc = true }
        buffer.setMultipleIntegers(
            header.id, header.flags, header.questionCount, header.answerCount, header.authorityCount,
            header.additionalCount, at: start)
        return writer.dropped || (edns != nil && opt == nil)
    }

    /// The encoded message in a new buffer (see `encode(into:maxSize:compress:)`).
    public func encoded(maxSize: Int = DNSMessage.maxMessageSize, compress: Bool = true) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer, maxSize: maxSize, compress: compress)
        return buffer
    }
}

/// Writes the items of one section after another until one does not fit, then drops the rest.
private struct SectionWriter {
    let start: Int
    let limit: Int
    private(set) var dropped = false

    init(start: Int, limit: Int) {
        self.start = start
        self.limit = limit
    }

    /// Writes as many of `items` as fit and returns how many were written. `room` is the number
    /// of count slots to leave free (for the OPT record in ARCOUNT).
    mutating func write<Item>(
        _ items: [Item], into buffer: inout ByteBuffer, room: Int = 0,
        _ encode: (Item, inout ByteBuffer) -> Void
    ) -> UInt16 {
        var written = 0
        for item in items {
            guard !dropped, written < Int(UInt16.max) - room else {
                dropped = true
                break
            }
            let mark = buffer.writerIndex
            encode(item, &buffer)
            if buffer.writerIndex - start > limit {
                // Rolled back names may stay in the compression table; nothing that could point
                // at them is written afterwards except the OPT record, whose name is the root.
                buffer.moveWriterIndex(to: mark)
                dropped = true
                break
            }
            written += 1
        }
        return UInt16(written)
    }
}
