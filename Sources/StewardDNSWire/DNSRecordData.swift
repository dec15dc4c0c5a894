import NIOCore

/// The RDATA of a resource record. Types whose RDATA holds names that may be compressed are kept
/// parsed, so that decompressing and re-encoding (with new offsets) stays correct; A and AAAA
/// (class IN) are kept as addresses; every other type, and any empty RDATA (RFC 2136 updates),
/// is carried through untouched as `.opaque`.
public enum DNSRecordData: Hashable, Sendable {
    /// A, class IN (RFC 1035 3.4.1).
    case a(DNSIPv4Address)
    /// AAAA, class IN (RFC 3596 2.2).
    case aaaa(DNSIPv6Address)
    /// CNAME target (RFC 1035 3.3.1).
    case cname(DNSName)
    /// NS host (RFC 1035 3.3.11).
    case ns(DNSName)
    /// PTR target (RFC 1035 3.3.12).
    case ptr(DNSName)
    /// DNAME target (RFC 6672 2.1); decompressed on input, never compressed on output.
    case dname(DNSName)
    /// MX preference and exchange (RFC 1035 3.3.9).
    case mx(preference: UInt16, exchange: DNSName)
    /// SOA (RFC 1035 3.3.13).
    case soa(DNSSOA)
    /// SRV (RFC 2782); decompressed on input, never compressed on output.
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName)
    /// Any other RDATA, octet for octet (RFC 3597).
    case opaque([UInt8])

    /// Reads `length` octets of RDATA for a record of `type` and `class`; the reader is over the
    /// whole message so names can follow compression pointers. RDATA must end exactly at RDLENGTH.
    static func read(
        type: DNSRecordType, class: DNSClass, length: Int, from reader: inout DNSWireReader
    ) throws(DNSWireError) -> DNSRecordData {
        guard length <= reader.remaining else {
            throw DNSWireError(.truncated, "RDLENGTH \(length) exceeds the \(reader.remaining) octets that remain")
        }
        let end = reader.position + length
        var inner = reader.limited(to: end)
        let data: DNSRecordData
        switch type {
        case _ where length == 0:
            data = .opaque([])
        case .A where `class` == .IN:
            guard length == 4 else { throw mismatch(type, length, expected: 4) }
            data = .a(DNSIPv4Address(try inner.readUInt32("address")))
        case .AAAA where `class` == .IN:
            guard length == 16 else { throw mismatch(type, length, expected: 16) }
            let high = UInt64(try inner.readUInt32("address")) << 32 | UInt64(try inner.readUInt32("address"))
            let low = UInt64(try inner.readUInt32("address")) << 32 | UInt64(try inner.readUInt32("address"))
            data = .aaaa(DNSIPv6Address(high: high, low: low))
        case .CNAME: data = .cname(try inner.readName())
        case .NS: data = .ns(try inner.readName())
        case .PTR: data = .ptr(try inner.readName())
        case .DNAME: data = .dname(try inner.readName())
        case .MX:
            data = .mx(preference: try inner.readUInt16("MX preference"), exchange: try inner.readName())
        case .SOA:
            data = .soa(try DNSSOA(reading: &inner))
        case .SRV:
            data = .srv(
                priority: try inner.readUInt16("SRV priority"), weight: try inner.readUInt16("SRV weight"),
                port: try inner.readUInt16("SRV port"), target: try inner.readName())
        default:
            data = .opaque(try inner.readBytes(length, "RDATA"))
        }
        guard inner.position == end else {
            throw DNSWireError(.rdataLengthMismatch, "\(end - inner.position) octets left over in \(type) RDATA")
        }
        reader.position = end
        return data
    }

    private static func mismatch(_ type: DNSRecordType, _ length: Int, expected: Int) -> DNSWireError {
        DNSWireError(.rdataLengthMismatch, "\(type) RDLENGTH \(length), expected \(expected)")
    }

    /// Writes the RDATA (without RDLENGTH). Names in RFC 1035 types may be compressed.
    func encode(into buffer: inout ByteBuffer, compressor: inout DNSNameCompressor) {
        switch self {
        case .a(let address):
            buffer.writeInteger(address.value)
        case .aaaa(let address):
            buffer.writeMultipleIntegers(address.high, address.low)
        case .cname(let name), .ns(let name), .ptr(let name):
            compressor.write(name, into: &buffer)
        case .dname(let name):
            compressor.write(name, into: &buffer, compressible: false)
        case .mx(let preference, let exchange):
            buffer.writeInteger(preference)
            compressor.write(exchange, into: &buffer)
        case .soa(let soa):
            soa.encode(into: &buffer, compressor: &compressor)
        case .srv(let priority, let weight, let port, let target):
            buffer.writeMultipleIntegers(priority, weight, port)
            compressor.write(target, into: &buffer, compressible: false)
        case .opaque(let bytes):
            buffer.writeBytes(bytes)
        }
    }

    /// The RDATA in uncompressed wire form.
    public var wireBytes: [UInt8] {
        var buffer = ByteBuffer()
        var compressor = DNSNameCompressor(messageStart: 0, enabled: false)
        encode(into: &buffer, compressor: &compressor)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}

/// The RDATA of an SOA record (RFC 1035 3.3.13).
public struct DNSSOA: Hashable, Sendable {
    /// MNAME: the primary name server.
    public var primaryServer: DNSName
    /// RNAME: the responsible person's mailbox, as a name.
    public var responsibleMailbox: DNSName
    /// SERIAL.
    public var serial: UInt32
    /// REFRESH, seconds.
    public var refresh: UInt32
    /// RETRY, seconds.
    public var retry: UInt32
    /// EXPIRE, seconds.
    public var expire: UInt32
    /// MINIMUM: the negative-caching TTL (RFC 2308 4).
    public var minimum: UInt32

    /// Creates SOA RDATA.
    public init(
        primaryServer: DNSName, responsibleMailbox: DNSName, serial: UInt32, refresh: UInt32, retry: UInt32,
        expire: UInt32, minimum: UInt32
    ) {
        self.primaryServer = primaryServer
        self.responsibleMailbox = responsibleMailbox
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }

    init(reading reader: inout DNSWireReader) throws(DNSWireError) {
        let primary = try withContext("MNAME") { () throws(DNSWireError) in try reader.readName() }
        let mailbox = try withContext("RNAME") { () throws(DNSWireError) in try reader.readName() }
        try reader.require(20, "SOA timers")
        self.init(
            primaryServer: primary, responsibleMailbox: mailbox, serial: try reader.readUInt32("SERIAL"),
            refresh: try reader.readUInt32("REFRESH"), retry: try reader.readUInt32("RETRY"),
            expire: try reader.readUInt32("EXPIRE"), minimum: try reader.readUInt32("MINIMUM"))
    }

    func encode(into buffer: inout ByteBuffer, compressor: inout DNSNameCompressor) {
        compressor.write(primaryServer, into: &buffer)
        compressor.write(responsibleMailbox, into: &buffer)
        buffer.writeMultipleIntegers(serial, refresh, retry, expire, minimum)
    }
}
