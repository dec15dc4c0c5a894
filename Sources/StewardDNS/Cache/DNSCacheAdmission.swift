import NIOCore
import StewardDNSWire

/// Decides whether a response may be cached and for how long. Pure: no clock, no storage.
///
/// - Only responses (QR=1) to standard queries that are complete (TC=0) and repeat the question
///   (name case-insensitively, type, class) are considered.
/// - Positive (NOERROR with answers): the lifetime is the smallest answer TTL (RFC 2181 5.2: an
///   RRset's TTLs are equal, and the answer is only good while every record in it is), each record
///   clamped to `[minTTL, maxTTL]`.
/// - Negative (RFC 2308): NXDOMAIN, and NODATA (NOERROR without answers), live for
///   min(SOA TTL, SOA MINIMUM) of the SOA in the authority section (RFC 2308 5), raised to
///   `minTTL` and capped at `negativeMaxTTL`; the SOA is stored with that TTL (RFC 2308 3).
///   Without an SOA nothing is cached (RFC 2308 5: such answers "SHOULD NOT be cached"). CNAME
///   records in the answer section of an NXDOMAIN shorten the lifetime too, and so does an SOA
///   below a NOERROR answer that holds only a CNAME chain (NODATA at the end of the chain).
/// - Every other RCODE (SERVFAIL, REFUSED, FORMERR, ...) is never cached.
/// - TTLs above 2^31 - 1 count as 0 (RFC 2181 8). OPT is never stored; TSIG is dropped.
struct DNSCacheAdmission: Sendable {
    let minTTL: UInt32
    let maxTTL: UInt32
    let negativeMaxTTL: UInt32

    /// The entry to store for `response` at `now`, or nil when it must not be cached.
    func entry(for response: DNSMessage, question: DNSQuestion, now: NIODeadline) -> DNSCacheEntry? {
        let header = response.header
        guard header.qr, !header.tc, header.opcode == .query else { return nil }
        guard response.questions.count == 1, let echoed = response.questions.first,
            echoed.name == question.name, echoed.type == question.type, echoed.class == question.class
        else { return nil }

        let rcode = response.rcode
        var answers = clamped(response.answers)
        var authorities = clamped(response.authorities)
        let additionals = clamped(
            response.additionals.contains { $0.type == .TSIG }
                ? response.additionals.filter { $0.type != .TSIG } : response.additionals)
        var ttl: UInt32

        switch rcode {
        case .noError where !answers.isEmpty:
            ttl = answers.map(\.ttl).min() ?? 0
            let answersQuestion = answers.contains { $0.type == question.type } || question.type == .CNAME
            if !answersQuestion, let negative = negativeTTL(response.authorities) {
                // A CNAME chain ending in NODATA (RFC 2308 2.2).
                ttl = min(ttl, negative)
                authorities = withSOATTL(authorities, negative)
            }
        case .noError, .nxDomain:
            guard let negative = negativeTTL(response.authorities) else { return nil }
            ttl = min(negative, answers.map(\.ttl).min() ?? negative)
            authorities = withSOATTL(authorities, negative)
            answers = answers.map { record in
                var record = record
                record.ttl = min(record.ttl, ttl)
                return record
            }
        default:
            return nil
        }
        guard ttl > 0 else { return nil }
        return DNSCacheEntry(
            rcode: rcode, answers: answers, authorities: authorities, additionals: additionals,
            storedAt: now.uptimeNanoseconds, ttl: ttl)
    }

    /// `records` with their TTLs clamped; the same array (nothing copied) when every TTL is
    /// already within bounds, as it usually is.
    private func clamped(_ records: [DNSResourceRecord]) -> [DNSResourceRecord] {
        records.allSatisfy { clampedTTL($0.ttl) == $0.ttl } ? records : records.map(clamped)
    }

    /// A record with its TTL read per RFC 2181 8 and clamped to `[minTTL, maxTTL]`.
    private func clamped(_ record: DNSResourceRecord) -> DNSResourceRecord {
        var record = record
        record.ttl = clampedTTL(record.ttl)
        return record
    }

    /// A TTL read per RFC 2181 8 and clamped to `[minTTL, maxTTL]`.
    private func clampedTTL(_ ttl: UInt32) -> UInt32 {
        min(max(Self.wireTTL(ttl), minTTL), maxTTL)
    }

    /// The negative-caching TTL from the first SOA among the response's own (unclamped)
    /// `authorities` (RFC 2308 5), or nil.
    private func negativeTTL(_ authorities: [DNSResourceRecord]) -> UInt32? {
        for record in authorities where record.type == .SOA {
            guard case .soa(let soa) = record.rdata else { continue }
            let ttl = min(Self.wireTTL(record.ttl), Self.wireTTL(soa.minimum))
            return min(max(ttl, minTTL), negativeMaxTTL)
        }
        return nil
    }

    private func withSOATTL(_ authorities: [DNSResourceRecord], _ ttl: UInt32) -> [DNSResourceRecord] {
        authorities.map { record in
            guard record.type == .SOA else { return record }
            var record = record
            record.ttl = ttl
            return record
        }
    }

    /// RFC 2181 8: a TTL with the top bit set is treated as zero.
    static func wireTTL(_ ttl: UInt32) -> UInt32 {
        ttl > UInt32(Int32.max) ? 0 : ttl
    }
}
