import StewardDNSWire

/// What the cache is keyed by: the question's name in lower case (RFC 4343: names compare
/// case-insensitively), type and class. The name is kept as plain lower-cased wire bytes so that
/// hashing and comparing are byte operations, not a case fold per octet on every lookup, and its
/// hash is taken once, when the key is made (with the process's seeded `Hasher`, so names cannot
/// be chosen to collide): a miss hashes its key for the shard, the lookup, the store and the
/// eviction, and each of those now combines one integer instead of hashing the name again.
struct DNSCacheKey: Hashable, Sendable {
    /// The name's wire form, ASCII letters lowered.
    let name: [UInt8]
    let type: DNSRecordType
    let `class`: DNSClass
    /// What the answer depends on besides the question (`variant(checkingDisabled:dnssecOK:)`).
    let variant: UInt8
    /// The hash of the four, made once.
    let hash: Int

    /// The query's CD bit (1) and DO bit (2). An answer fetched with checking disabled never
    /// reaches a client that wants the upstream's validation (RFC 4035 §3.2.2, RFC 6840 §5.9),
    /// and DNSSEC records fetched for a DO client never reach one that did not ask (RFC 3225 §3),
    /// nor the other way round: each kind of query has answers of its own.
    static func variant(checkingDisabled: Bool, dnssecOK: Bool) -> UInt8 {
        (checkingDisabled ? 1 : 0) | (dnssecOK ? 2 : 0)
    }

    /// Whether the query set DO: DNSSEC records are for it.
    var dnssecOK: Bool { variant & 2 != 0 }

    /// The variant of `query`'s answers.
    static func variant(of query: DNSMessage) -> UInt8 {
        variant(checkingDisabled: query.header.cd, dnssecOK: query.edns?.dnssecOK ?? false)
    }

    init(_ question: DNSQuestion, variant: UInt8 = 0) {
        self.init(
            lowercasedWire: question.name.wireBytes.map(DNSName.lower), type: question.type,
            class: question.class, variant: variant)
    }

    /// A key from a name's wire bytes that are already lower-cased.
    init(lowercasedWire name: [UInt8], type: DNSRecordType, class: DNSClass, variant: UInt8 = 0) {
        var hasher = Hasher()
        name.withUnsafeBytes { hasher.combine(bytes: $0) }
        hasher.combine(type.rawValue)
        hasher.combine(`class`.rawValue)
        hasher.combine(variant)
        self.init(lowercasedWire: name, type: type, class: `class`, variant: variant, hash: hasher.finalize())
    }

    /// A key with its hash given (tests make two keys collide with it).
    init(lowercasedWire name: [UInt8], type: DNSRecordType, class: DNSClass, variant: UInt8 = 0, hash: Int) {
        self.name = name
        self.type = type
        self.class = `class`
        self.variant = variant
        self.hash = hash
    }

    static func == (lhs: DNSCacheKey, rhs: DNSCacheKey) -> Bool {
        lhs.hash == rhs.hash && lhs.type == rhs.type && lhs.class == rhs.class && lhs.variant == rhs.variant
            && lhs.name == rhs.name
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }
}

/// One shard of the cache: a dictionary from key to slot plus a CLOCK (second chance) eviction
/// hand over the slots. A hit sets the slot's reference bit; when the shard is full the hand
/// sweeps, clearing bits, and evicts the first slot that is expired or was not used since the
/// hand last passed. That approximates LRU with O(1) work per hit and no list to relink.
///
/// The slots are parallel arrays, so the hand reads only reference bits and expiry times, packed
/// together, and touches no entry (and no reference count) on its way; an evicted slot's key hash
/// is kept beside it too, so only the entry itself, one object, is touched to free it. The index
/// maps a key's hash (taken once, with the process's seeded `Hasher`) to its slot, and the slot's
/// entry is compared with the key in full: two names whose hashes collide share a slot, the
/// later replacing the earlier, which costs a miss and never a wrong answer; and the index's own
/// work is on plain integers.
///
/// A plain value: `DNSCache` keeps each shard behind its own `Mutex`.
struct DNSCacheShard {
    /// What a slot holds: an answer read from an upstream's datagram, kept encoded only (its key
    /// is in it), or a message stored by the general path, with its key.
    enum Stored {
        case wire(DNSCachedWire)
        case message(DNSCacheEntry, DNSCacheKey)

        func matches(_ key: DNSCacheKey) -> Bool {
            switch self {
            case .wire(let wire): wire.matches(key)
            case .message(_, let stored): stored == key
            }
        }

        var hash: Int {
            switch self {
            case .wire(let wire): wire.header.hash
            case .message(_, let key): key.hash
            }
        }

        var expiresAt: UInt64 {
            switch self {
            case .wire(let wire): wire.expiresAt
            case .message(let entry, _): entry.expiresAt
            }
        }
    }

    /// What a lookup found.
    enum Lookup {
        case hit(Stored)
        case miss
    }

    let capacity: Int
    private var index: [Int: Int] = [:]
    /// Per slot: the key's hash, the entry (nil when free), whether it was hit since the hand
    /// passed, and when it expires (uptime nanoseconds).
    private var hashes: [Int] = []
    private var entries: [Stored?] = []
    private var referenced: [Bool] = []
    private var expiries: [UInt64] = []
    private var freeSlots: [Int] = []
    private var hand = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { index.count }

    /// The live entry for `key`; an expired one is removed and reported as a miss.
    mutating func lookup(_ key: DNSCacheKey, at nanoseconds: UInt64) -> Lookup {
        guard let position = slot(of: key), let entry = entries[position] else { return .miss }
        guard nanoseconds < expiries[position] else {
            remove(at: position)
            return .miss
        }
        referenced[position] = true
        return .hit(entry)
    }

    /// What `lookupWire` found.
    enum WireLookup {
        /// The live entry's encoded form and when the entry was stored.
        case wire(DNSCachedWire, storedAt: UInt64)
        /// A live entry not encoded yet (see `setWire`).
        case unencoded(DNSCacheEntry)
        /// No live entry, or one that cannot be served encoded.
        case miss
    }

    /// The encoded form of the live entry for `key`; an expired entry is removed, as by `lookup`.
    mutating func lookupWire(_ key: DNSCacheKey, at nanoseconds: UInt64) -> WireLookup {
        guard case .hit(let stored) = lookup(key, at: nanoseconds) else { return .miss }
        switch stored {
        case .wire(let wire):
            return .wire(wire, storedAt: wire.storedAt)
        case .message(let entry, _):
            if let wire = entry.wire { return .wire(wire, storedAt: entry.storedAt) }
            return entry.wireMade ? .miss : .unencoded(entry)
        }
    }

    /// Keeps the encoded form made for the message entry stored at `storedAt` under `key` (nil: it
    /// cannot be made), unless that entry was replaced meanwhile.
    mutating func setWire(_ wire: DNSCachedWire?, for key: DNSCacheKey, storedAt: UInt64) {
        guard let position = slot(of: key), case .message(let entry, _) = entries[position],
            entry.storedAt == storedAt
        else { return }
        entry.wire = wire
        entry.wireMade = true
    }

    /// Stores the message `entry` under `key`, replacing any entry for it; evicts one entry if the
    /// shard is full.
    mutating func insert(_ key: DNSCacheKey, _ entry: DNSCacheEntry, at nanoseconds: UInt64) {
        insert(.message(entry, key), at: nanoseconds)
    }

    /// Stores `stored`, replacing any entry for its key; evicts one entry if the shard is full.
    mutating func insert(_ stored: Stored, at nanoseconds: UInt64) {
        let hash = stored.hash
        if let position = index[hash] {
            // The same key, or one whose hash collides with it: either way the slot is this key's now.
            entries[position] = stored
            referenced[position] = true
            expiries[position] = stored.expiresAt
            return
        }
        let position: Int
        if let free = freeSlots.popLast() {
            position = free
        } else if entries.count < capacity {
            position = entries.count
            hashes.append(0)
            entries.append(nil)
            referenced.append(false)
            expiries.append(0)
        } else {
            position = victim(at: nanoseconds)
            index.removeValue(forKey: hashes[position])
        }
        // A new entry starts unreferenced: it must be hit once to survive the next sweep, which
        // keeps a burst of one-off names from pushing out the names that are asked again and again.
        hashes[position] = hash
        entries[position] = stored
        referenced[position] = false
        expiries[position] = stored.expiresAt
        index[hash] = position
    }

    mutating func removeAll() {
        index.removeAll()
        hashes.removeAll()
        entries.removeAll()
        referenced.removeAll()
        expiries.removeAll()
        freeSlots.removeAll()
        hand = 0
    }

    /// Runs the CLOCK hand to the slot to evict (all slots are occupied when this is called).
    private mutating func victim(at nanoseconds: UInt64) -> Int {
        while true {
            let position = hand
            hand = (hand + 1) % entries.count
            if !referenced[position] || expiries[position] <= nanoseconds { return position }
            referenced[position] = false
        }
    }

    /// The slot holding `key` itself (not only a key with the same hash).
    private func slot(of key: DNSCacheKey) -> Int? {
        guard let position = index[key.hash], let stored = entries[position], stored.matches(key) else { return nil }
        return position
    }

    private mutating func remove(at position: Int) {
        guard entries[position] != nil else { return }
        index.removeValue(forKey: hashes[position])
        entries[position] = nil
        referenced[position] = false
        freeSlots.append(position)
    }
}
