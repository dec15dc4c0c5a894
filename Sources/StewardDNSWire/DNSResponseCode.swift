/// A response code (RFC 1035 4.1.1, extended to 12 bits by RFC 6891 6.1.3: the low 4 bits live in
/// the header, the high 8 bits in the OPT record). IANA "DNS RCODEs".
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    /// The 12-bit RCODE value (higher bits are cleared).
    public let rawValue: UInt16

    /// Wraps an RCODE value, keeping its low 12 bits.
    public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0FFF }
    /// Wraps an RCODE value, keeping its low 12 bits.
    public init(_ rawValue: UInt16) { self.init(rawValue: rawValue) }
    /// Wraps an RCODE value written as a literal.
    public init(integerLiteral value: UInt16) { self.init(rawValue: value) }

    /// No error.
    public static let noError: DNSResponseCode = 0
    /// Format error: the server could not interpret the query.
    public static let formErr: DNSResponseCode = 1
    /// Server failure.
    public static let servFail: DNSResponseCode = 2
    /// Non-existent domain.
    public static let nxDomain: DNSResponseCode = 3
    /// Not implemented (e.g. an unsupported opcode).
    public static let notImp: DNSResponseCode = 4
    /// Refused by policy.
    public static let refused: DNSResponseCode = 5
    /// Name exists when it should not (RFC 2136).
    public static let yxDomain: DNSResponseCode = 6
    /// RR set exists when it should not (RFC 2136).
    public static let yxRRSet: DNSResponseCode = 7
    /// RR set that should exist does not (RFC 2136).
    public static let nxRRSet: DNSResponseCode = 8
    /// Not authoritative (RFC 2136) / not authorised (RFC 8945).
    public static let notAuth: DNSResponseCode = 9
    /// Name not contained in zone (RFC 2136).
    public static let notZone: DNSResponseCode = 10
    /// Unsupported EDNS version (RFC 6891 6.1.3); needs an OPT record to be expressed.
    public static let badVers: DNSResponseCode = 16
    /// Bad or missing server cookie (RFC 7873).
    public static let badCookie: DNSResponseCode = 23

    /// Whether the value fits in the 4-bit header field without an OPT record.
    public var fitsInHeader: Bool { rawValue < 16 }

    /// The mnemonic as dig prints it, or "RCODE" and the number.
    public var description: String {
        switch rawValue {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        case 6: "YXDOMAIN"
        case 7: "YXRRSET"
        case 8: "NXRRSET"
        case 9: "NOTAUTH"
        case 10: "NOTZONE"
        case 16: "BADVERS"
        case 23: "BADCOOKIE"
        default: "RCODE\(rawValue)"
        }
    }
}
