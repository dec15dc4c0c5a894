/// A resource record TYPE or query QTYPE (RFC 1035 3.2.2/3.2.3; IANA "Resource Record (RR) TYPEs").
/// Any 16-bit value is carried through; the constants name the common ones.
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    /// The 16-bit TYPE value.
    public var rawValue: UInt16

    /// Wraps a TYPE value.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a TYPE value.
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a TYPE value written as a literal.
    public init(integerLiteral value: UInt16) { self.rawValue = value }

    /// IPv4 address (RFC 1035 3.4.1).
    public static let A: DNSRecordType = 1
    /// Authoritative name server (RFC 1035 3.3.11).
    public static let NS: DNSRecordType = 2
    /// Canonical name (RFC 1035 3.3.1).
    public static let CNAME: DNSRecordType = 5
    /// Start of authority (RFC 1035 3.3.13).
    public static let SOA: DNSRecordType = 6
    /// Domain name pointer (RFC 1035 3.3.12).
    public static let PTR: DNSRecordType = 12
    /// Host information (RFC 1035 3.3.2; RFC 8482 minimal ANY answers).
    public static let HINFO: DNSRecordType = 13
    /// Mail exchange (RFC 1035 3.3.9).
    public static let MX: DNSRecordType = 15
    /// Text strings (RFC 1035 3.3.14).
    public static let TXT: DNSRecordType = 16
    /// IPv6 address (RFC 3596 2.1).
    public static let AAAA: DNSRecordType = 28
    /// Service location (RFC 2782).
    public static let SRV: DNSRecordType = 33
    /// Naming authority pointer (RFC 3403).
    public static let NAPTR: DNSRecordType = 35
    /// Delegation name (RFC 6672).
    public static let DNAME: DNSRecordType = 39
    /// EDNS(0) pseudo-record (RFC 6891 6.1.1).
    public static let OPT: DNSRecordType = 41
    /// Delegation signer (RFC 4034 5).
    public static let DS: DNSRecordType = 43
    /// DNSSEC signature (RFC 4034 3).
    public static let RRSIG: DNSRecordType = 46
    /// Next secure record (RFC 4034 4).
    public static let NSEC: DNSRecordType = 47
    /// DNSSEC public key (RFC 4034 2).
    public static let DNSKEY: DNSRecordType = 48
    /// Hashed next secure record (RFC 5155).
    public static let NSEC3: DNSRecordType = 50
    /// TLS certificate association (RFC 6698).
    public static let TLSA: DNSRecordType = 52
    /// Service binding (RFC 9460).
    public static let SVCB: DNSRecordType = 64
    /// HTTPS service binding (RFC 9460).
    public static let HTTPS: DNSRecordType = 65
    /// Transaction signature (RFC 8945).
    public static let TSIG: DNSRecordType = 250
    /// Incremental zone transfer (RFC 1995).
    public static let IXFR: DNSRecordType = 251
    /// Full zone transfer (RFC 5936).
    public static let AXFR: DNSRecordType = 252
    /// Any type, QTYPE only (RFC 1035 3.2.3; answered minimally per RFC 8482).
    public static let ANY: DNSRecordType = 255
    /// Certification authority authorisation (RFC 8659).
    public static let CAA: DNSRecordType = 257

    private static let mnemonics: [(DNSRecordType, String)] = [
        (.A, "A"), (.NS, "NS"), (.CNAME, "CNAME"), (.SOA, "SOA"), (.PTR, "PTR"), (.HINFO, "HINFO"),
        (.MX, "MX"), (.TXT, "TXT"), (.AAAA, "AAAA"), (.SRV, "SRV"), (.NAPTR, "NAPTR"), (.DNAME, "DNAME"),
        (.OPT, "OPT"), (.DS, "DS"), (.RRSIG, "RRSIG"), (.NSEC, "NSEC"), (.DNSKEY, "DNSKEY"),
        (.NSEC3, "NSEC3"), (.TLSA, "TLSA"), (.SVCB, "SVCB"), (.HTTPS, "HTTPS"), (.TSIG, "TSIG"),
        (.IXFR, "IXFR"), (.AXFR, "AXFR"), (.ANY, "ANY"), (.CAA, "CAA"),
    ]

    /// Parses a mnemonic ("AAAA", case-insensitive) or the RFC 3597 5 generic form ("TYPE65280").
    public init?(mnemonic: String) {
        let upper = mnemonic.uppercased()
        if let known = Self.mnemonics.first(where: { $0.1 == upper }) {
            self = known.0
        } else if upper.hasPrefix("TYPE"), let value = UInt16(upper.dropFirst(4)) {
            self.rawValue = value
        } else {
            return nil
        }
    }

    /// The mnemonic, or "TYPE" and the number for types without one (RFC 3597 5).
    public var description: String {
        Self.mnemonics.first(where: { $0.0 == self })?.1 ?? "TYPE\(rawValue)"
    }
}
