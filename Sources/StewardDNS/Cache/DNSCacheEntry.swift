import NIOCore
import StewardDNSWire

/// A response stored from a message (the general path): its sections with TTLs as they were when
/// stored (already clamped), when it was stored, and how long it lives; it gets its encoded form
/// on its first fast-path hit. (An answer the relay read from an upstream's datagram is stored as
/// its encoded form only, a `DNSCachedWire`.)
///
/// A class, so that the cache's slots hold one reference: storing, evicting and finding an entry
/// moves a pointer instead of copying (and retaining) every array it holds. `@unchecked Sendable`:
/// everything is immutable except `wire` and `wireMade`, which are only read and written while the
/// entry's shard is locked (`DNSCacheShard`).
final class DNSCacheEntry: @unchecked Sendable {
    let rcode: DNSResponseCode
    let answers: [DNSResourceRecord]
    let authorities: [DNSResourceRecord]
    let additionals: [DNSResourceRecord]
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
    /// seconds elapsed, never below 0.
    func answer(at nanoseconds: UInt64) -> CachedAnswer {
        CachedAnswer(
            rcode: rcode, answers: answers, authorities: authorities, additionals: additionals, storedAt: storedAt,
            lifetime: ttl, at: nanoseconds)
    }
}
