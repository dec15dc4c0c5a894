import NIOCore

/// The EDNS(0) OPT pseudo-record (RFC 6891 6.1): owner is the root, CLASS carries the sender's UDP
/// payload size, TTL carries the extended RCODE, version and flags (DO, RFC 3225), and RDATA is a
/// list of options kept as opaque code/data pairs.
///
///     TTL:  EXTENDED-RCODE (8) | VERSION (8) | DO (1) | Z (15)
public struct EDNS: Hashable, Sendable {
    /// The payload size this server advertises by default (the DNS Flag Day 2020 value).
    public static let defaultUDPPayloadSize: UInt16 = 1232

    /// Largest UDP payload the sender can reassemble; values below 512 mean 512 (RFC 6891 6.2.5).
    public var udpPayloadSize: UInt16
    /// The high 8 bits of the 12-bit RCODE (RFC 6891 6.1.3).
    public var extendedRCode: UInt8
    /// EDNS version; only 0 is defined.
    public var version: UInt8
    /// DO: DNSSEC answers wanted (RFC 3225 3).
    public var dnssecOK: Bool
    /// The other 15 flag bits (Z), reserved; carried through as received.
    public var reservedFlags: UInt16
    /// Options in the order received.
    public var options: [EDNSOption]

    /// Creates an OPT record.
    public init(
        udpPayloadSize: UInt16 = EDNS.defaultUDPPayloadSize, extendedRCode: UInt8 = 0, version: UInt8 = 0,
        dnssecOK: Bool = false, reservedFlags: UInt16 = 0, options: [EDNSOption] = []
    ) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedRCode = extendedRCode
        self.version = version
        self.dnssecOK = dnssecOK
        self.reservedFlags = reservedFlags & 0x7FFF
        self.options = options
    }

    /// The TTL field as on the wire.
    public var ttlField: UInt32 {
        UInt32(extendedRCode) << 24 | UInt32(version) << 16 | (dnssecOK ? 0x8000 : 0) | UInt32(reservedFlags & 0x7FFF)
    }

    /// Octets of the whole OPT record on the wire.
    public var wireLength: Int {
        options.reduce(11) { $0 + 4 + $1.data.count }
    }

    /// The first option with `code`, if any.
    public func option(_ code: EDNSOption.Code) -> EDNSOption? {
        options.first { $0.code == code }
    }

    /// Reads a whole OPT record (root owner, TYPE 41, ...) at the reader index; on a throw the
    /// reader index is unchanged.
    public init(from buffer: inout ByteBuffer) throws(DNSWireError) {
        self = try buffer.readDNS(messageStart: nil) { (reader) throws(DNSWireError) in
            switch try DNSResourceRecord.read(from: &reader, opt: .edns) {
            case .opt(let edns): return edns
            case .record(let record): throw DNSWireError(.invalidOPT, "record of type \(record.type) is not OPT")
            }
        }
    }

    /// Builds the value from an OPT record's CLASS and TTL, reading `rdataLength` octets of options.
    init(payloadSize: UInt16, ttl: UInt32, rdataLength: Int, reader: inout DNSWireReader) throws(DNSWireError) {
        guard rdataLength <= reader.remaining else {
            throw DNSWireError(
                .truncated, "RDLENGTH \(rdataLength) exceeds the \(reader.remaining) octets that remain")
        }
        var inner = reader.limited(to: reader.position + rdataLength)
        var options: [EDNSOption] = []
        var number = 0
        while inner.remaining > 0 {
            number += 1
            let option = try withContext("option \(number)") { () throws(DNSWireError) in
                guard inner.remaining >= 4 else {
                    throw DNSWireError(.invalidOPT, "option header needs 4 octets but only \(inner.remaining) remain")
                }
                let code = try inner.readUInt16("option code")
                let length = Int(try inner.readUInt16("option length"))
                guard length <= inner.remaining else {
                    throw DNSWireError(.invalidOPT, "option length \(length) exceeds the \(inner.remaining) remaining")
                }
                return EDNSOption(code: EDNSOption.Code(rawValue: code), data: try inner.readBytes(length, "option"))
            }
            options.append(option)
        }
        reader.position = inner.position
        self.init(
            udpPayloadSize: payloadSize, extendedRCode: UInt8(truncatingIfNeeded: ttl >> 24),
            version: UInt8(truncatingIfNeeded: ttl >> 16), dnssecOK: ttl & 0x8000 != 0,
            reservedFlags: UInt16(truncatingIfNeeded: ttl & 0x7FFF), options: options)
    }

    /// Writes the whole OPT record.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(UInt8(0), DNSRecordType.OPT.rawValue, udpPayloadSize, ttlField)
        buffer.writeRDATA { buffer in
            for option in options {
                buffer.writeMultipleIntegers(option.code.rawValue, UInt16(truncatingIfNeeded: option.data.count))
                buffer.writeBytes(option.data)
            }
        }
    }
}

/// One EDNS option (RFC 6891 6.1.2), kept as an opaque code and data.
public struct EDNSOption: Hashable, Sendable {
    /// An option code (IANA "DNS EDNS0 Option Codes").
    public struct Code: RawRepresentable, Hashable, Sendable, ExpressibleByIntegerLiteral {
        /// The 16-bit code.
        public var rawValue: UInt16
        /// Wraps a code.
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// Wraps a code written as a literal.
        public init(integerLiteral value: UInt16) { self.rawValue = value }

        /// Name server identifier (RFC 5001).
        public static let nsid: Code = 3
        /// Client subnet (RFC 7871).
        public static let clientSubnet: Code = 8
        /// Cookie (RFC 7873).
        public static let cookie: Code = 10
        /// TCP keepalive (RFC 7828).
        public static let tcpKeepalive: Code = 11
        /// Padding (RFC 7830).
        public static let padding: Code = 12
        /// Extended DNS error (RFC 8914).
        public static let extendedDNSError: Code = 15
    }

    /// OPTION-CODE.
    public var code: Code
    /// OPTION-DATA (at most 65,535 octets; longer data cannot be encoded).
    public var data: [UInt8]

    /// Creates an option.
    public init(code: Code, data: [UInt8]) {
        self.code = code
        self.data = data
    }
}
