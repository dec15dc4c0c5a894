/// An immutable open-addressing hash table from a domain name (lower-case ASCII, no trailing dot)
/// to a 24-bit value, built to answer "which listed names is this name, or a parent of it?" with
/// no allocation and no locks.
///
/// The hash is FNV-1a run over the name's bytes from the *last* byte to the first, so one pass
/// over a query name yields the hash of every suffix at each label boundary: `a.b.example.com`
/// probes `com`, `example.com`, `b.example.com` and `a.b.example.com` in a single walk. Because
/// only label boundaries are probed, `notcasino.com` can never match `casino.com`. Every hit is
/// confirmed against the stored bytes, so a hash collision can never cause a false block.
public struct NameTable: Sendable {
    @usableFromInline struct Slot: Sendable {
        /// Mixed hash; 0 marks an empty slot.
        @usableFromInline var key: UInt64
        /// `offset << 32 | length << 24 | value`.
        @usableFromInline var meta: UInt64
    }

    @usableFromInline let slots: [Slot]
    @usableFromInline let arena: [UInt8]
    /// Number of names stored.
    public let count: Int
    /// Whether any stored name is a single label (a top-level name), so walks can skip that probe.
    @usableFromInline let hasSingleLabel: Bool

    init(slots: [Slot], arena: [UInt8], count: Int, hasSingleLabel: Bool) {
        self.slots = slots
        self.arena = arena
        self.count = count
        self.hasSingleLabel = hasSingleLabel
    }

    static let empty = NameTable(slots: [Slot(key: 0, meta: 0)], arena: [], count: 0, hasSingleLabel: false)

    /// Bytes of memory the table holds (slots and name bytes).
    public var memoryFootprint: Int {
        slots.capacity * MemoryLayout<Slot>.stride + arena.capacity
    }

    @inlinable @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    @inlinable @inline(__always)
    static func step(_ hash: UInt64, _ byte: UInt8) -> UInt64 {
        (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }

    @usableFromInline static let seed: UInt64 = 0xCBF2_9CE4_8422_2325

    /// Final avalanche (MurmurHash3 fmix64) so the low and high bits of the slot index are both good.
    @inlinable @inline(__always)
    static func finish(_ hash: UInt64) -> UInt64 {
        var h = hash
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h &*= 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h == 0 ? 1 : h
    }

    /// Calls `body` with the value of every stored name that equals `name` or is a parent domain of
    /// it, from the top-level name down. `name` may be in mixed case and must have no trailing dot.
    @inlinable
    public func forEachMatch(in name: UnsafeRawBufferPointer, _ body: (UInt32) -> Void) {
        guard count > 0, !name.isEmpty else { return }
        let capacity = UInt64(slots.count)
        var hash = Self.seed
        var index = name.count - 1
        slots.withUnsafeBufferPointer { slots in
            arena.withUnsafeBufferPointer { arena in
                var sawDot = false
                while index >= 0 {
                    let byte = name[index]
                    hash = Self.step(hash, Self.lower(byte))
                    if byte == UInt8(ascii: ".") { sawDot = true }
                    if index == 0 || name[index - 1] == UInt8(ascii: ".") {
                        if sawDot || hasSingleLabel {
                            let length = name.count - index
                            let key = Self.finish(hash)
                            var position = Int(key.multipliedFullWidth(by: capacity).high)
                            while true {
                                let slot = slots[position]
                                if slot.key == 0 { break }
                                if slot.key == key, Int(slot.meta >> 24 & 0xFF) == length,
                                    Self.equal(arena, Int(slot.meta >> 32), name, from: index, length: length)
                                {
                                    body(UInt32(truncatingIfNeeded: slot.meta & 0xFF_FFFF))
                                    break
                                }
                                position += 1
                                if position == slots.count { position = 0 }
                            }
                        }
                    }
                    index -= 1
                }
            }
        }
    }

    @inlinable @inline(__always)
    static func equal(
        _ arena: UnsafeBufferPointer<UInt8>, _ offset: Int, _ name: UnsafeRawBufferPointer, from start: Int,
        length: Int
    ) -> Bool {
        var i = 0
        while i < length {
            if arena[offset + i] != lower(name[start + i]) { return false }
            i += 1
        }
        return true
    }

    /// The value stored for exactly `name` (already normalised), if any.
    public func value(exactly name: [UInt8]) -> UInt32? {
        guard count > 0 else { return nil }
        var hash = Self.seed
        for byte in name.reversed() { hash = Self.step(hash, byte) }
        let key = Self.finish(hash)
        var position = Int(key.multipliedFullWidth(by: UInt64(slots.count)).high)
        while true {
            let slot = slots[position]
            if slot.key == 0 { return nil }
            let offset = Int(slot.meta >> 32)
            let length = Int(slot.meta >> 24 & 0xFF)
            if slot.key == key, length == name.count, arena[offset..<offset + length].elementsEqual(name) {
                return UInt32(truncatingIfNeeded: slot.meta & 0xFF_FFFF)
            }
            position += 1
            if position == slots.count { position = 0 }
        }
    }
}
