import NIOCore

/// Classifying what arrives at a server port.
extension DNSMessage {
    /// What a server should do with a datagram or TCP message.
    public enum QueryParseResult: Sendable {
        /// A well-formed query: answer it. (The opcode is not checked: answer NOTIMP to anything
        /// but `.query`; an EDNS version above 0 calls for BADVERS, RFC 6891 6.1.3.)
        case query(DNSMessage)
        /// Enough was read to answer (at least the ID), but the message is malformed: answer
        /// `DNSMessage.formatError(id:rd:)`.
        case malformed(id: UInt16, rd: Bool, error: DNSWireError)
        /// Not answerable: shorter than the 2-octet ID, or a response (QR=1). Answering responses
        /// could start a loop between two servers that each answer the other's errors.
        case drop(DNSWireError)
    }

    /// Parses a message received by a server (the readable bytes of `buffer`).
    ///
    /// - fewer than 2 octets: `.drop`;
    /// - QR=1: `.drop` (a response sent to a server; see `QueryParseResult.drop`);
    /// - fewer than 12 octets, a standard query (opcode QUERY) without exactly one question, or
    ///   any parse error: `.malformed`, with the ID and RD bit (false if not even that was sent);
    /// - otherwise `.query`. Trailing bytes after the last record are ignored.
    public static func parseQuery(_ buffer: ByteBuffer) -> QueryParseResult {
        let start = buffer.readerIndex
        guard let id = buffer.getInteger(at: start, as: UInt16.self) else {
            return .drop(
                DNSWireError.truncated("ID", need: 2, have: buffer.readableBytes).within("header"))
        }
        let flagsHigh = buffer.getInteger(at: start + 2, as: UInt8.self) ?? 0
        let rd = flagsHigh & 0x01 != 0
        if flagsHigh & 0x80 != 0 {
            return .drop(DNSWireError(.notAQuery, field: "header", "QR=1: a response, not a query"))
        }
        guard buffer.readableBytes >= DNSHeader.size else {
            return .malformed(
                id: id, rd: rd,
                error: DNSWireError.truncated("header", need: DNSHeader.size, have: buffer.readableBytes)
                    .within("header"))
        }
        let opcode = DNSOpcode(rawValue: flagsHigh >> 3)
        let questionCount = buffer.getInteger(at: start + 4, as: UInt16.self) ?? 0
        if opcode == .query, questionCount != 1 {
            return .malformed(
                id: id, rd: rd,
                error: DNSWireError(
                    .questionCount, field: "header", "standard query with \(questionCount) questions, expected 1"))
        }
        var copy = buffer
        do throws(DNSWireError) {
            return .query(try DNSMessage(from: &copy))
        } catch {
            return .malformed(id: id, rd: rd, error: error)
        }
    }
}
