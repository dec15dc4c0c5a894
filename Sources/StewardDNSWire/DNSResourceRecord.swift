import NIOCore

/// A resource record (RFC 1035 4.1.3): NAME, TYPE, CLASS, TTL, RDLENGTH, RDATA. RDLENGTH is
/// derived from `rdata` when encoding.
///
/// `type` is stored separately from `rdata` so unknown types round-trip; keep them consistent
/// (the static constructors do). RDATA longer than 65,535 octets cannot be represented: a message
/// encoder drops such a record as not fitting, and the standalone `encode(into:)` cuts it.
public struct DNSResourceRecord: Hashable, Sendable {
    /// Owner name, letter case as received.
    public var name: DNSName
    /// TYPE.
    public var type: DNSRecordType
    /// CLASS.
    public var `class`: DNSClass
    /// TTL in seconds, as on the wire (RFC 2181 8: readers should treat values above 2^31-1 as 0).
    public var ttl: UInt32
    /// RDATA.
    public var rdata: DNSRecordData

    /// Creates a record.
    public init(name: DNSName, type: DNSRecordType, class: DNSClass = .IN, ttl: UInt32, rdata: DNSRecordData) {
        self.name = name
        self.type = type
        self.class = `class`
        self.ttl = ttl
        self.rdata = rdata
    }

    /// An A record.
    public static func a(_ name: DNSName, ttl: UInt32, _ address: DNSIPv4Address) -> DNSResourceRecord {
        DNSResourceRecord(name: name, type: .A, ttl: ttl, rdata: .a(address))
    }

    /// An AAAA record.
    public static func aaaa(_ name: DNSName, ttl: UInt32, _ address: DNSIPv6Address) -> DNSResourceRecord {
        DNSResourceRecord(name: name, type: .AAAA, ttl: ttl, rdata: .aaaa(address))
    }

    /// A CNAME record.
    public static func cname(_ name: DNSName, ttl: UInt32, target: DNSName) -> DNSResourceRecord {
        DNSResourceRecord(name: name, type: .CNAME, ttl: ttl, rdata: .cname(target))
    }

    /// An SOA record (e.g. for the authority section of a negative answer, RFC 2308 3).
    public static func soa(_ name: DNSName, ttl: UInt32, _ soa: DNSSOA) -> DNSResourceRecord {
        DNSResourceRecord(name: name, type: .SOA, ttl: ttl, rdata: .soa(soa))
    }

    /// The CNAME target, for a CNAME record.
    public var cnameTarget: DNSName? {
        if case .cname(let target) = rdata { return target }
        return nil
    }

    /// The address, for an A record.
    public var ipv4: DNSIPv4Address? {
        if case .a(let address) = rdata { return address }
        return nil
    }

    /// The address, for an AAAA record.
    public var ipv6: DNSIPv6Address? {
        if case .aaaa(let address) = rdata { return address }
        return nil
    }

    /// Reads a record at the reader index. `messageStart` is the absolute index of the message
    /// header for compression pointers (`nil`: none allowed). An OPT record read this way is an
    /// ordinary record with opaque RDATA; `DNSMessage` turns it into `EDNS`. On a throw the reader
    /// index is unchanged.
    public init(from buffer: inout ByteBuffer, messageStart: Int? = nil) throws(DNSWireError) {
        self = try buffer.readDNS(messageStart: messageStart) { (reader) throws(DNSWireError) in
            switch try Self.read(from: &reader, opt: .plain) {
            case .record(let record): return record
            case .opt: throw DNSWireError(.invalidOPT, "unexpected OPT")  // not produced with .plain
            }
        }
    }

    /// What to do with a record of type OPT.
    enum OPTHandling {
        /// Read it as an ordinary record.
        case plain
        /// Read it as EDNS (additional section).
        case edns
        /// Refuse it (answer and authority sections).
        case refuse
    }

    enum Parsed {
        case record(DNSResourceRecord)
        case opt(EDNS)
    }

    static func read(from reader: inout DNSWireReader, opt: OPTHandling) throws(DNSWireError) -> Parsed {
        let name = try withContext("name") { () throws(DNSWireError) in try reader.readName() }
        try reader.require(10, "TYPE, CLASS, TTL and RDLENGTH")
        let type = DNSRecordType(try reader.readUInt16("TYPE"))
        let `class` = DNSClass(try reader.readUInt16("CLASS"))
        let ttl = try reader.readUInt32("TTL")
        let length = Int(try reader.readUInt16("RDLENGTH"))
        if type == .OPT, opt != .plain {
            guard opt == .edns else {
                throw DNSWireError(.invalidOPT, "OPT record outside the additional section")
            }
            guard name.isRoot else { throw DNSWireError(.invalidOPT, "OPT owner name \(name) is not the root") }
            let edns = try withContext("OPT") { () throws(DNSWireError) in
                try EDNS(payloadSize: `class`.rawValue, ttl: ttl, rdataLength: length, reader: &reader)
            }
            return .opt(edns)
        }
        let rdata = try withContext("rdata") { () throws(DNSWireError) in
            try DNSRecordData.read(type: type, class: `class`, length: length, from: &reader)
        }
        return .record(DNSResourceRecord(name: name, type: type, class: `class`, ttl: ttl, rdata: rdata))
    }

    /// Writes the record without compression.
    public func encode(into buffer: inout ByteBuffer) {
        var compressor = DNSNameCompressor(messageStart: buffer.writerIndex, enabled: false)
        encode(into: &buffer, compressor: &compressor)
    }

    func encode(into buffer: inout ByteBuffer, compressor: inout DNSNameCompressor) {
        compressor.write(name, into: &buffer)
        buffer.writeMultipleIntegers(type.rawValue, `class`.rawValue, ttl)
        buffer.writeRDATA { buffer in rdata.encode(into: &buffer, compressor: &compressor) }
    }
}

extension ByteBuffer {
    /// Writes a 16-bit length, then what `body` writes, then patches the length. More than 65,535
    /// octets cannot be represented and are cut.
    mutating func writeRDATA(_ body: (inout ByteBuffer) -> Void) {
        let lengthIndex = writerIndex
        writeInteger(UInt16(0))
        body(&self)
        var length = writerIndex - lengthIndex - 2
        if length > Int(UInt16.max) {
            length = Int(UInt16.max)
            moveWriterIndex(to: lengthIndex + 2 + length)
        }
        setInteger(UInt16(length), at: lengthIndex)
    }
}
