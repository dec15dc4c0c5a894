import NIOCore

/// One entry of the question section (RFC 1035 4.1.2): QNAME, QTYPE, QCLASS.
public struct DNSQuestion: Hashable, Sendable {
    /// The name asked about, in the case the client sent it.
    public var name: DNSName
    /// QTYPE.
    public var type: DNSRecordType
    /// QCLASS.
    public var `class`: DNSClass

    /// Creates a question.
    public init(name: DNSName, type: DNSRecordType, class: DNSClass = .IN) {
        self.name = name
        self.type = type
        self.class = `class`
    }

    /// Reads a question at the reader index. `messageStart` is the absolute index of the message
    /// header for compression pointers (`nil`: none allowed). On a throw the reader index is unchanged.
    public init(from buffer: inout ByteBuffer, messageStart: Int? = nil) throws(DNSWireError) {
        self = try buffer.readDNS(messageStart: messageStart) { (reader) throws(DNSWireError) in
            try DNSQuestion(reading: &reader)
        }
    }

    init(reading reader: inout DNSWireReader) throws(DNSWireError) {
        let name = try withContext("name") { () throws(DNSWireError) in try reader.readName() }
        let type = try reader.readUInt16("QTYPE")
        let `class` = try reader.readUInt16("QCLASS")
        self.init(name: name, type: DNSRecordType(type), class: DNSClass(`class`))
    }

    /// Writes the question without compression.
    public func encode(into buffer: inout ByteBuffer) {
        name.encode(into: &buffer)
        buffer.writeMultipleIntegers(type.rawValue, `class`.rawValue)
    }

    func encode(into buffer: inout ByteBuffer, compressor: inout DNSNameCompressor) {
        compressor.write(name, into: &buffer)
        buffer.writeMultipleIntegers(type.rawValue, `class`.rawValue)
    }
}
