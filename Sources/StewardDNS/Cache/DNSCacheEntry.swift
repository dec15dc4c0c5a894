import NIOCore
import StewardDNSWire

/// A stored response: its sections with TTLs as they were when stored (already clamped), when it
/// was stored, and how long it lives.
struct DNSCacheEntry: Sendable {
    var rcode: DNSResponseCode
    var answers: [DNSResourceRecord]
    var authorities: [DNSResourceRecord]
    var additionals: [DNSResourceRecord]
    /// Uptime when stored, in nanoseconds.
    var storedAt: UInt64
    /// Lifetime in seconds, at least 1.
    var ttl: UInt32
    /// The same sections encoded for hits on the fast path, made on the first such hit (so names
    /// asked once never pay for it), if they can be served that way.
    var wire: DNSCachedWire? = nil
    /// Whether `wire` was made, or found impossible.
    var wireMade = false

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
    /// seconds elapsed, never below 0.
    func answer(at nanoseconds: UInt64) -> CachedAnswer {
        let elapsed = elapsedSeconds(at: nanoseconds)
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
