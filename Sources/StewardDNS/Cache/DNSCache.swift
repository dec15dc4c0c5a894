import NIOCore
import StewardDNSWire
import Synchronization

/// The answer cache: complete responses from upstreams, positive and negative (RFC 1035 7.4,
/// RFC 2308), keyed by question (name case-insensitive, type, class), served with their TTLs
/// counted down, and bounded in size.
///
/// What is cached and for how long is decided by `DNSCacheAdmission`. Entries live in shards
/// chosen by the key's hash, each behind its own `Mutex` and evicting with CLOCK (see
/// `DNSCacheShard`); a lookup or store holds one shard's lock only to find or place the entry
/// (records are copied out, and TTLs aged, outside it), so event loops rarely contend.
///
/// `Sendable`: all mutable state is behind the shards' mutexes or in atomics.
public final class DNSCache: Sendable {
    /// Size and TTL bounds.
    public struct Configuration: Sendable {
        /// Most entries kept. Divided evenly among the shards (each holds at least one entry), so
        /// the cache may hold up to `shards - 1` more.
        public var capacity: Int
        /// Floor for every TTL, seconds (raising it trades freshness for fewer upstream queries).
        public var minTTL: UInt32
        /// Ceiling for every TTL, seconds.
        public var maxTTL: UInt32
        /// Ceiling for negative answers (NXDOMAIN, NODATA), seconds (RFC 2308 5 suggests 1-3 hours).
        public var negativeMaxTTL: UInt32
        /// Number of independently locked parts; 1 makes eviction exact LRU-approximation order
        /// over the whole cache (tests), more spreads lock contention.
        public var shards: Int

        /// Creates a configuration.
        public init(
            capacity: Int = 100_000, minTTL: UInt32 = 0, maxTTL: UInt32 = 86_400, negativeMaxTTL: UInt32 = 3_600,
            shards: Int = 16
        ) {
            self.capacity = capacity
            self.minTTL = minTTL
            self.maxTTL = maxTTL
            self.negativeMaxTTL = negativeMaxTTL
            self.shards = shards
        }
    }

    /// A shard and its lock; a class because `Mutex` cannot be copied into an array.
    private final class Shard: Sendable {
        let state: Mutex<DNSCacheShard>
        init(capacity: Int) { state = Mutex(DNSCacheShard(capacity: capacity)) }
    }

    /// The configuration in force.
    public let configuration: Configuration
    /// What may be cached, and for how long.
    let admission: DNSCacheAdmission
    private let shards: [Shard]
    private let hitCount = Atomic<UInt64>(0)
    private let missCount = Atomic<UInt64>(0)

    /// Creates an empty cache.
    public init(configuration: Configuration) {
        self.configuration = configuration
        admission = DNSCacheAdmission(
            minTTL: configuration.minTTL, maxTTL: max(configuration.minTTL, configuration.maxTTL),
            negativeMaxTTL: configuration.negativeMaxTTL)
        let capacity = max(1, configuration.capacity)
        let shardCount = min(max(1, configuration.shards), capacity)
        let perShard = (capacity + shardCount - 1) / shardCount
        shards = (0..<shardCount).map { _ in Shard(capacity: perShard) }
    }

    /// Creates an empty cache (see `Configuration` for the parameters).
    public convenience init(
        capacity: Int = 100_000, minTTL: UInt32 = 0, maxTTL: UInt32 = 86_400, negativeMaxTTL: UInt32 = 3_600,
        shards: Int = 16
    ) {
        self.init(
            configuration: Configuration(
                capacity: capacity, minTTL: minTTL, maxTTL: maxTTL, negativeMaxTTL: negativeMaxTTL, shards: shards))
    }

    /// Entries held (expired ones included until they are looked up or evicted).
    public var count: Int { shards.reduce(0) { total, shard in total + shard.state.withLock { $0.count } } }
    /// Lookups that found a live entry.
    public var hits: UInt64 { hitCount.load(ordering: .relaxed) }
    /// Lookups that did not.
    public var misses: UInt64 { missCount.load(ordering: .relaxed) }

    /// Stores `response` as the answer to `question` if it may be cached (see
    /// `DNSCacheAdmission`); returns whether it was stored. Replaces any entry for the question
    /// and `variant` (the asking query's CD and DO bits, `DNSCacheKey.variant`).
    @discardableResult
    public func store(_ response: DNSMessage, for question: DNSQuestion, variant: UInt8 = 0, now: NIODeadline) -> Bool {
        guard let entry = admission.entry(for: response, question: question, now: now) else { return false }
        let key = DNSCacheKey(question, variant: variant)
        let nanoseconds = now.uptimeNanoseconds
        shard(for: key).state.withLock { $0.insert(key, entry, at: nanoseconds) }
        return true
    }

    /// Stores an answer read from an upstream's datagram (`DNSCachedWire.fromUpstream`, made
    /// with the time it is stored and a lifetime above 0), replacing any entry for its key.
    func store(_ wire: DNSCachedWire) {
        shard(forHash: wire.header.hash).state.withLock { $0.insert(.wire(wire), at: wire.storedAt) }
    }

    /// The cached answer to `question` (for a query of `variant`) at `now`, TTLs counted down, or
    /// nil. An expired entry is a miss and is removed.
    public func lookup(_ question: DNSQuestion, variant: UInt8 = 0, now: NIODeadline) -> CachedAnswer? {
        let key = DNSCacheKey(question, variant: variant)
        let nanoseconds = now.uptimeNanoseconds
        let found = shard(for: key).state.withLock { $0.lookup(key, at: nanoseconds) }
        switch found {
        case .hit(.message(let entry, _)):
            hitCount.add(1, ordering: .relaxed)
            return entry.answer(at: nanoseconds)
        case .hit(.wire(let wire)):
            // The records read back from the encoded form (they were read from it when stored).
            guard let records = wire.records(question: question) else {
                missCount.add(1, ordering: .relaxed)
                return nil
            }
            hitCount.add(1, ordering: .relaxed)
            return CachedAnswer(
                rcode: DNSResponseCode(rawValue: wire.rcode), answers: records.answers,
                authorities: records.authorities, additionals: records.additionals, storedAt: wire.storedAt,
                lifetime: wire.lifetime, at: nanoseconds)
        case .miss:
            missCount.add(1, ordering: .relaxed)
            return nil
        }
    }

    /// The pre-encoded answer for `key` at `now` and the whole seconds it has spent in the
    /// cache, or nil (a miss, or an entry without a wire form). Only a hit is counted: after a nil
    /// the caller looks the question up again with `lookup(_:now:)`, which counts it.
    func wireLookup(_ key: DNSCacheKey, now: NIODeadline) -> (wire: DNSCachedWire, elapsed: UInt32)? {
        let nanoseconds = now.uptimeNanoseconds
        let shard = shard(for: key)
        let wire: DNSCachedWire
        let storedAt: UInt64
        switch shard.state.withLock({ $0.lookupWire(key, at: nanoseconds) }) {
        case .miss:
            return nil
        case .wire(let found, let at):
            (wire, storedAt) = (found, at)
        case .unencoded(let entry):
            // The first hit on the fast path encodes the entry (outside the lock) and keeps it.
            guard let name = try? DNSName(wireBytes: key.name) else { return nil }
            let made = DNSCachedWire(entry, question: DNSQuestion(name: name, type: key.type, class: key.class), key: key)
            shard.state.withLock { $0.setWire(made, for: key, storedAt: entry.storedAt) }
            guard let made else { return nil }
            (wire, storedAt) = (made, entry.storedAt)
        }
        hitCount.add(1, ordering: .relaxed)
        return (wire, UInt32(clamping: (nanoseconds >= storedAt ? nanoseconds - storedAt : 0) / 1_000_000_000))
    }

    /// Empties the cache (the hit and miss counters keep counting).
    public func removeAll() {
        for shard in shards {
            shard.state.withLock { $0.removeAll() }
        }
    }

    private func shard(for key: DNSCacheKey) -> Shard {
        shard(forHash: key.hash)
    }

    private func shard(forHash hash: Int) -> Shard {
        guard shards.count > 1 else { return shards[0] }
        return shards[Int(UInt(bitPattern: hash) % UInt(shards.count))]
    }
}
