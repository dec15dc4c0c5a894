import NIOCore
import StewardDNSWire

/// A stored response: its sections with TTLs as they were when stored (already clamped), when it
/// was stored, and how long it lives. An entry stored from a message keeps its records (and gets
/// its encoded form on its first fast-path hit); one stored from an upstream's datagram
/// (`DNSCachedWire.fromUpstream`) keeps only the encoded form, and the general path reads the
/// records from it when it needs them.
///
/// A class, so that the cache's slots hold one reference: storing, evicting and finding an entry
/// moves a pointer instead of copying (and retaining) every array it holds. `@unchecked Sendable`:
/// everything is immutable except `wire` and `wireMade`, which are only read and written while the
/// entry's shard is locked (`DNSCacheShard`), except in an entry stored as wire: there they are
/// set when it is made and never change.
final class DNSCacheEntry: @unchecked Sendable {
    let rcode: DNSResponseCode
    let answers: [DNSResourceRecord]
    let authorities: [DNSResourceRecord]
    let additionals: [DNSResourceRecord]
    /// Whether the entry was stored in its encoded form only (then `wire` holds it and the three
    /// record arrays are empty).
    let storedAsWire: Bool
    /// Uptime when stored, in nanoseconds.
    let storedAt: UInt64
    /// Lifetime in seconds, at least 1.
    let ttl: UInt32
    /// The same sections encoded for hits on the fast path, made on the first such hit (so names
    /// asked once never pay for it), if they can be served that way. Under the shard's lock only.
    var wire: DNSCachedWire? = nil
    /// Whether `wire` was made, or found impossible. Under the shard's lock only.
    var wireMade = false

    init(
        rcode: DNSResponseCode, answers: [DNSResourceRecord], authorities: [DNSResourceRecord],
        additionals: [DNSResourceRecord], storedAt: UInt64, ttl: UInt32
    ) {
        self.rcode = rcode
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
        self.storedAt = storedAt
        self.ttl = ttl
        storedAsWire = false
    }

    /// An entry stored in its encoded form only.
    init(wire: DNSCachedWire, storedAt: UInt64, ttl: UInt32) {
        rcode = DNSResponseCode(rawValue: wire.rcode)
        answers = []
        authorities = []
        additionals = []
        storedAsWire = true
        self.storedAt = storedAt
        self.ttl = ttl
        self.wire = wire
        wireMade = true
    }

    /// Uptime at which the entry stops being served, in nanoseconds.
    var expiresAt: UInt64 { storedAt &+ UInt64(ttl) * 1_000_000_000 }

    func isExpired(at nanoseconds: UInt64) -> Bool {
        nanoseconds >= expiresAt
    }

    /// Whole seconds spent in the cache at `nanoseconds`.
    func elapsedSeconds(at nanoseconds: UInt64) -> UInt32 {
        UInt32(clamping: (nanoseconds >= storedAt ? nanoseconds - storedAt : 0) / 1_000_000_000)
    }

    /// The entry as seen at `nanoseconds` (before `expiresAt`): every TTL lowered by the whole
    /// seconds elapsed, never below 0. Nil only if an entry stored from the wire does not read
    /// back as records for `question`.
    func answer(at nanoseconds: UInt64, question: DNSQuestion) -> CachedAnswer? {
        let elapsed = elapsedSeconds(at: nanoseconds)
        var (answers, authorities, additionals) = (self.answers, self.authorities, self.additionals)
        if storedAsWire {
            // Set when stored and never changed after, so it may be read without the shard's lock.
            guard let records = wire?.records(question: question) else { return nil }
            (answers, authorities, additionals) = records
        }
        func aged(_ records: [DNSResourceRecord]) -> [DNSResourceRecord] {
            guard elapsed > 0 else { return records }
            return records.map { record in
                var record = record
                record.ttl = record.ttl > elapsed ? record.ttl - elapsed : 0
                return record
            }
        }
        return CachedAnswer(
            rcode: rcode, answers: aged(answers), authorities: aged(authorities), additionals: aged(additionals),
            remainingTTL: ttl > elapsed ? ttl - elapsed : 0)
    }
}
