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

    /// The bounds a default cache has, for reading answers when there is no cache.
    static let uncached = DNSCacheAdmission(minTTL: 0, maxTTL: 86_400, negativeMaxTTL: 3_600)

    /// What admission sees of a record: its type, its TTL (set to the TTL to store by `admit`) and,
    /// for an SOA, its MINIMUM field.
    struct Record {
        let type: DNSRecordType
        var ttl: UInt32
        var soaMinimum: UInt32? = nil
    }

    /// The entry to store for `response` at `now`, or nil when it must not be cached.
    func entry(for response: DNSMessage, question: DNSQuestion, now: NIODeadline) -> DNSCacheEntry? {
        let header = response.header
        guard header.qr, !header.tc, header.opcode == .query else { return nil }
        guard response.questions.count == 1, let echoed = response.questions.first,
            echoed.name == question.name, echoed.type == question.type, echoed.class == question.class
        else { return nil }
        func seen(_ record: DNSResourceRecord) -> Record {
            guard case .soa(let soa) = record.rdata else { return Record(type: record.type, ttl: record.ttl) }
            return Record(type: record.type, ttl: record.ttl, soaMinimum: soa.minimum)
        }
        func stored(_ records: [DNSResourceRecord], _ seen: [Record]) -> [DNSResourceRecord] {
            guard zip(records, seen).contains(where: { $0.ttl != $1.ttl }) else { return records }
            return zip(records, seen).map { record, seen in
                var record = record
                record.ttl = seen.ttl
                return record
            }
        }
        let kept =
            response.additionals.contains { $0.type == .TSIG }
            ? response.additionals.filter { $0.type != .TSIG } : response.additionals
        var answers = response.answers.map(seen)
        var authorities = response.authorities.map(seen)
        var additionals = kept.map(seen)
        guard
            let ttl = admit(
                rcode: response.rcode, questionType: question.type, answers: &answers, authorities: &authorities,
                additionals: &additionals)
        else { return nil }
        return DNSCacheEntry(
            rcode: response.rcode, answers: stored(response.answers, answers),
            authorities: stored(response.authorities, authorities), additionals: stored(kept, additionals),
            storedAt: now.uptimeNanoseconds, ttl: ttl)
    }

    /// The lifetime of a response with `rcode` to a question of `questionType` made of these
    /// sections (OPT and TSIG left out), or nil when it must not be cached. Whether or not it may
    /// be, every TTL is set to the one to store and serve: clamped, and for a negative answer the
    /// SOA's set to the negative TTL and the answers' capped by the lifetime.
    func admit(
        rcode: DNSResponseCode, questionType: DNSRecordType, answers: inout [Record], authorities: inout [Record],
        additionals: inout [Record]
    ) -> UInt32? {
        // From the authorities as they came, before clamping.
        let negative = negativeTTL(authorities)
        clamp(&answers)
        clamp(&authorities)
        clamp(&additionals)
        var ttl: UInt32
        switch rcode {
        case .noError where !answers.isEmpty:
            ttl = answers.lazy.map(\.ttl).min() ?? 0
            let answersQuestion = answers.contains { $0.type == questionType } || questionType == .CNAME
            if !answersQuestion, let negative {
                // A CNAME chain ending in NODATA (RFC 2308 2.2).
                ttl = min(ttl, negative)
                setSOATTL(&authorities, negative)
            }
        case .noError, .nxDomain:
            guard let negative else { return nil }
            ttl = min(negative, answers.lazy.map(\.ttl).min() ?? negative)
            setSOATTL(&authorities, negative)
            for index in answers.indices { answers[index].ttl = min(answers[index].ttl, ttl) }
        default:
            return nil
        }
        return ttl > 0 ? ttl : nil
    }

    /// Every TTL read per RFC 2181 8 and clamped to `[minTTL, maxTTL]`.
    private func clamp(_ records: inout [Record]) {
        for index in records.indices {
            records[index].ttl = min(max(Self.wireTTL(records[index].ttl), minTTL), maxTTL)
        }
    }

    /// The negative-caching TTL from the first SOA among `authorities` as they came (RFC 2308 5), or nil.
    private func negativeTTL(_ authorities: [Record]) -> UInt32? {
        for record in authorities where record.type == .SOA {
            guard let minimum = record.soaMinimum else { continue }
            let ttl = min(Self.wireTTL(record.ttl), Self.wireTTL(minimum))
            return min(max(ttl, minTTL), negativeMaxTTL)
        }
        return nil
    }

    private func setSOATTL(_ authorities: inout [Record], _ ttl: UInt32) {
        for index in authorities.indices where authorities[index].type == .SOA { authorities[index].ttl = ttl }
    }

    /// RFC 2181 8: a TTL with the top bit set is treated as zero.
    static func wireTTL(_ ttl: UInt32) -> UInt32 {
        ttl > UInt32(Int32.max) ? 0 : ttl
    }
}
