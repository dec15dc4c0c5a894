import StewardDNSWire

/// What the cache is keyed by: the question's name (stored lower-cased; `DNSName` compares and
/// hashes case-insensitively anyway, RFC 4343), type and class.
struct DNSCacheKey: Hashable, Sendable {
    var name: DNSName
    var type: DNSRecordType
    var `class`: DNSClass

    init(_ question: DNSQuestion) {
        self.name = question.name
        self.type = question.type
        self.class = question.class
    }
}

/// One shard of the cache: a dictionary from key to slot plus a CLOCK (second chance) eviction
/// hand over the slots. A hit sets the slot's reference bit; when the shard is full the hand
/// sweeps, clearing bits, and evicts the first slot that is expired or was not used since the
/// hand last passed. That approximates LRU with O(1) work per hit and no list to relink.
///
/// A plain value: `DNSCache` keeps each shard behind its own `Mutex`.
struct DNSCacheShard {
    private struct Slot {
        var key: DNSCacheKey
        var entry: DNSCacheEntry
        var referenced: Bool
    }

    /// What a lookup found.
    enum Lookup {
        case hit(DNSCacheEntry)
        case miss
    }

    let capacity: Int
    private var index: [DNSCacheKey: Int] = [:]
    private var slots: [Slot?] = []
    private var freeSlots: [Int] = []
    private var hand = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { index.count }

    /// The live entry for `key`; an expired one is removed and reported as a miss.
    mutating func lookup(_ key: DNSCacheKey, at nanoseconds: UInt64) -> Lookup {
        guard let position = index[key], let slot = slots[position] else { return .miss }
        guard !slot.entry.isExpired(at: nanoseconds) else {
            remove(at: position)
            return .miss
        }
        slots[position]?.referenced = true
        return .hit(slot.entry)
    }

    /// Stores `entry` under `key`, replacing any entry for it; evicts one entry if the shard is full.
    mutating func insert(_ key: DNSCacheKey, _ entry: DNSCacheEntry, at nanoseconds: UInt64) {
        if let position = index[key] {
            slots[position] = Slot(key: key, entry: entry, referenced: true)
            return
        }
        let position: Int
        if let free = freeSlots.popLast() {
            position = free
        } else if slots.count < capacity {
            position = slots.count
            slots.append(nil)
        } else {
            position = victim(at: nanoseconds)
            if let evicted = slots[position] { index.removeValue(forKey: evicted.key) }
        }
        // A new entry starts unreferenced: it must be hit once to survive the next sweep, which
        // keeps a burst of one-off names from pushing out the names that are asked again and again.
        slots[position] = Slot(key: key, entry: entry, referenced: false)
        index[key] = position
    }

    mutating func removeAll() {
        index.removeAll()
        slots.removeAll()
        freeSlots.removeAll()
        hand = 0
    }

    /// Runs the CLOCK hand to the slot to evict (all slots are occupied when this is called).
    private mutating func victim(at nanoseconds: UInt64) -> Int {
        while true {
            let position = hand
            hand = (hand + 1) % slots.count
            guard let slot = slots[position] else { return position }
            if !slot.referenced || slot.entry.isExpired(at: nanoseconds) { return position }
            slots[position]?.referenced = false
        }
    }

    private mutating func remove(at position: Int) {
        guard let slot = slots[position] else { return }
        index.removeValue(forKey: slot.key)
        slots[position] = nil
        freeSlots.append(position)
    }
}
