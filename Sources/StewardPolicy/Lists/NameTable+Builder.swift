extension NameTable {
    /// Builds a `NameTable`, growing as names arrive. Values are merged by the caller's rule when a
    /// name is inserted twice (see `insert(_:merge:)`).
    struct Builder {
        private(set) var slots: [Slot]
        private(set) var arena: [UInt8] = []
        private(set) var count = 0
        private var hasSingleLabel = false
        private static let maxLoad = 0.75

        /// - Parameters:
        ///   - expectedCount: how many names will come (an upper bound avoids regrowing the slots).
        ///   - expectedBytes: how many bytes of names (an upper bound avoids regrowing the arena).
        init(expectedCount: Int = 1024, expectedBytes: Int? = nil) {
            let capacity = Swift.max(16, Int(Double(expectedCount) / Self.maxLoad) + 1)
            slots = Array(repeating: Slot(key: 0, meta: 0), count: capacity)
            arena.reserveCapacity(expectedBytes ?? expectedCount * 20)
        }

        static func key(of name: UnsafeBufferPointer<UInt8>) -> UInt64 {
            var hash = NameTable.seed
            var index = name.count - 1
            while index >= 0 {
                hash = NameTable.step(hash, name[index])
                index -= 1
            }
            return NameTable.finish(hash)
        }

        /// Inserts `name` (normalised, 1–253 bytes). If it is already present, its value becomes
        /// `merge(old)`; otherwise `merge(nil)`. Returns whether the stored value changed or was added.
        @discardableResult
        mutating func insert(_ name: UnsafeBufferPointer<UInt8>, merge: (UInt32?) -> UInt32) -> Bool {
            precondition(!name.isEmpty && name.count <= 255)
            if Double(count + 1) > Double(slots.count) * Self.maxLoad { grow(to: slots.count * 2) }
            let key = Self.key(of: name)
            var position = Int(key.multipliedFullWidth(by: UInt64(slots.count)).high)
            while true {
                let slot = slots[position]
                if slot.key == 0 { break }
                if slot.key == key, Int(slot.meta >> 24 & 0xFF) == name.count {
                    let offset = Int(slot.meta >> 32)
                    if arena[offset..<offset + name.count].elementsEqual(name) {
                        let old = UInt32(truncatingIfNeeded: slot.meta & 0xFF_FFFF)
                        let new = merge(old)
                        precondition(new <= 0xFF_FFFF)
                        if new == old { return false }
                        slots[position].meta = slot.meta & ~0xFF_FFFF | UInt64(new)
                        return true
                    }
                }
                position += 1
                if position == slots.count { position = 0 }
            }
            let value = merge(nil)
            precondition(value <= 0xFF_FFFF)
            let offset = UInt64(arena.count)
            precondition(offset < UInt64(UInt32.max), "name table arena over 4 GiB")
            arena.append(contentsOf: name)
            slots[position] = Slot(key: key, meta: offset << 32 | UInt64(name.count) << 24 | UInt64(value))
            count += 1
            if !name.contains(UInt8(ascii: ".")) { hasSingleLabel = true }
            return true
        }

        private mutating func grow(to capacity: Int) {
            var fresh = Array(repeating: Slot(key: 0, meta: 0), count: capacity)
            for slot in slots where slot.key != 0 {
                var position = Int(slot.key.multipliedFullWidth(by: UInt64(capacity)).high)
                while fresh[position].key != 0 {
                    position += 1
                    if position == capacity { position = 0 }
                }
                fresh[position] = slot
            }
            slots = fresh
        }

        /// The finished table, re-laid at its final size so memory is not held for growth.
        consuming func build() -> NameTable {
            let target = Swift.max(16, Int(Double(count) / Self.maxLoad) + 1)
            if slots.count > target + target / 4 { grow(to: target) }
            // Copy the arena to its exact size only when much of it is unused (copying doubles the
            // peak memory of a large compile for a moment).
            // (`Array(arena)` would share the buffer; copying through a buffer pointer makes a new one.)
            let finalArena =
                arena.capacity > arena.count + arena.count / 4 + 4096
                ? arena.withUnsafeBufferPointer { Array($0) } : arena
            arena = []
            return NameTable(slots: slots, arena: finalArena, count: count, hasSingleLabel: hasSingleLabel)
        }
    }
}
