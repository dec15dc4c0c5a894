/// The 4-bit OPCODE of a message header (RFC 1035 4.1.1; IANA "DNS OpCodes").
public struct DNSOpcode: RawRepresentable, Hashable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    /// The 4-bit value (higher bits are cleared).
    public let rawValue: UInt8

    /// Wraps an OPCODE value, keeping its low 4 bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }
    /// Wraps an OPCODE value written as a literal.
    public init(integerLiteral value: UInt8) { self.init(rawValue: value) }

    /// A standard query.
    public static let query: DNSOpcode = 0
    /// Inverse query (obsolete, RFC 3425).
    public static let inverseQuery: DNSOpcode = 1
    /// Server status request.
    public static let status: DNSOpcode = 2
    /// Zone change notification (RFC 1996).
    public static let notify: DNSOpcode = 4
    /// Dynamic update (RFC 2136).
    public static let update: DNSOpcode = 5
    /// DNS stateful operations (RFC 8490).
    public static let dso: DNSOpcode = 6

    /// The mnemonic as dig prints it, or "OPCODE" and the number.
    public var description: String {
        switch rawValue {
        case 0: "QUERY"
        case 1: "IQUERY"
        case 2: "STATUS"
        case 4: "NOTIFY"
        case 5: "UPDATE"
        case 6: "DSO"
        default: "OPCODE\(rawValue)"
        }
    }
}
