import NIOCore
import StewardDNSWire

/// What the cache returns for a question: the records and RCODE of the stored response, with every
/// TTL counted down by the whole seconds spent in the cache (RFC 1035 7.4, RFC 2308 5). The
/// question itself is not stored: the response must echo the client's own spelling of the name.
public struct CachedAnswer: Hashable, Sendable {
    /// NOERROR (positive or NODATA) or NXDOMAIN.
    public var rcode: DNSResponseCode
    /// The answer section.
    public var answers: [DNSResourceRecord]
    /// The authority section (for a negative answer, the SOA with the negative TTL left).
    public var authorities: [DNSResourceRecord]
    /// The additional section, without OPT (and TSIG) records.
    public var additionals: [DNSResourceRecord]
    /// Seconds until the entry expires; at least 1 (an entry with no time left is a miss).
    public var remainingTTL: UInt32

    /// Creates an answer.
    public init(
        rcode: DNSResponseCode, answers: [DNSResourceRecord], authorities: [DNSResourceRecord],
        additionals: [DNSResourceRecord], remainingTTL: UInt32
    ) {
        self.rcode = rcode
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
        self.remainingTTL = remainingTTL
    }

    /// `rcode` and the records of an entry stored at `storedAt` (uptime nanoseconds) for
    /// `lifetime` seconds, as seen at `nanoseconds` (before it expires): every TTL lowered by the
    /// whole seconds elapsed, never below 0.
    init(
        rcode: DNSResponseCode, answers: [DNSResourceRecord], authorities: [DNSResourceRecord],
        additionals: [DNSResourceRecord], storedAt: UInt64, lifetime: UInt32, at nanoseconds: UInt64
    ) {
        let elapsed = UInt32(clamping: (nanoseconds >= storedAt ? nanoseconds - storedAt : 0) / 1_000_000_000)
        func aged(_ records: [DNSResourceRecord]) -> [DNSResourceRecord] {
            guard elapsed > 0 else { return records }
            return records.map { record in
                var record = record
                record.ttl = record.ttl > elapsed ? record.ttl - elapsed : 0
                return record
            }
        }
        self.init(
            rcode: rcode, answers: aged(answers), authorities: aged(authorities), additionals: aged(additionals),
            remainingTTL: lifetime > elapsed ? lifetime - elapsed : 0)
    }

    /// A response to `query` made of this answer: the query's ID, flags and question (letter case
    /// as the client sent it, see `DNSMessage.makeResponse`), and an OPT record only if the query
    /// had one.
    public func response(to query: DNSMessage) -> DNSMessage {
        var response = query.makeResponse(rcode: rcode)
        response.answers = answers
        response.authorities = authorities
        response.additionals = additionals
        return response
    }
}
