/// A resource record CLASS or query QCLASS (RFC 1035 3.2.4/3.2.5). Any 16-bit value is carried
/// through. In an OPT record this field holds the UDP payload size instead (see `EDNS`).
public struct DNSClass: RawRepresentable, Hashable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    /// The 16-bit CLASS value.
    public var rawValue: UInt16

    /// Wraps a CLASS value.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a CLASS value.
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a CLASS value written as a literal.
    public init(integerLiteral value: UInt16) { self.rawValue = value }

    /// The Internet.
    public static let IN: DNSClass = 1
    /// Chaos (used for `version.bind`-style server queries).
    public static let CH: DNSClass = 3
    /// Hesiod.
    public static let HS: DNSClass = 4
    /// NONE (RFC 2136 dynamic update).
    public static let NONE: DNSClass = 254
    /// Any class, QCLASS only.
    public static let ANY: DNSClass = 255

    /// The mnemonic, or "CLASS" and the number (RFC 3597 5).
    public var description: String {
        switch self {
        case .IN: "IN"
        case .CH: "CH"
        case .HS: "HS"
        case .NONE: "NONE"
        case .ANY: "ANY"
        default: "CLASS\(rawValue)"
        }
    }
}
