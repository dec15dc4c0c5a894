/// A fixed-width set of up to 512 small integers, stored inline (no heap allocation).
///
/// Used for category sets (every list and every rule's inline domain list is one bit) and for group
/// membership, so that matching a rule is a handful of AND instructions on the hot path.
public struct BitSet512: Hashable, Sendable {
    /// The number of members a set can hold; indexes are `0..<capacity`.
    public static let capacity = 512

    @usableFromInline var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
    @usableFromInline var w4: UInt64 = 0, w5: UInt64 = 0, w6: UInt64 = 0, w7: UInt64 = 0

    public init() {}

    public init(_ members: some Sequence<Int>) {
        for member in members { insert(member) }
    }

    @inlinable public var isEmpty: Bool {
        (w0 | w1 | w2 | w3 | w4 | w5 | w6 | w7) == 0
    }

    @inlinable public func intersects(_ other: BitSet512) -> Bool {
        ((w0 & other.w0) | (w1 & other.w1) | (w2 & other.w2) | (w3 & other.w3)
            | (w4 & other.w4) | (w5 & other.w5) | (w6 & other.w6) | (w7 & other.w7)) != 0
    }

    @inlinable public mutating func formUnion(_ other: BitSet512) {
        w0 |= other.w0; w1 |= other.w1; w2 |= other.w2; w3 |= other.w3
        w4 |= other.w4; w5 |= other.w5; w6 |= other.w6; w7 |= other.w7
    }

    @inlinable public func union(_ other: BitSet512) -> BitSet512 {
        var copy = self
        copy.formUnion(other)
        return copy
    }

    @inlinable public func intersection(_ other: BitSet512) -> BitSet512 {
        var copy = self
        copy.w0 &= other.w0; copy.w1 &= other.w1; copy.w2 &= other.w2; copy.w3 &= other.w3
        copy.w4 &= other.w4; copy.w5 &= other.w5; copy.w6 &= other.w6; copy.w7 &= other.w7
        return copy
    }

    @inlinable public func subtracting(_ other: BitSet512) -> BitSet512 {
        var copy = self
        copy.w0 &= ~other.w0; copy.w1 &= ~other.w1; copy.w2 &= ~other.w2; copy.w3 &= ~other.w3
        copy.w4 &= ~other.w4; copy.w5 &= ~other.w5; copy.w6 &= ~other.w6; copy.w7 &= ~other.w7
        return copy
    }

    public func contains(_ member: Int) -> Bool {
        guard member >= 0, member < Self.capacity else { return false }
        return word(member / 64) & (1 << UInt64(member % 64)) != 0
    }

    public mutating func insert(_ member: Int) {
        precondition(member >= 0 && member < Self.capacity, "BitSet512 member \(member) out of range")
        let bit: UInt64 = 1 << UInt64(member % 64)
        switch member / 64 {
        case 0: w0 |= bit
        case 1: w1 |= bit
        case 2: w2 |= bit
        case 3: w3 |= bit
        case 4: w4 |= bit
        case 5: w5 |= bit
        case 6: w6 |= bit
        default: w7 |= bit
        }
    }

    /// The members in ascending order (allocates; not for hot paths).
    public var members: [Int] {
        var result: [Int] = []
        for index in 0..<8 {
            var bits = word(index)
            while bits != 0 {
                let low = bits.trailingZeroBitCount
                result.append(index * 64 + low)
                bits &= bits - 1
            }
        }
        return result
    }

    public var count: Int {
        w0.nonzeroBitCount + w1.nonzeroBitCount + w2.nonzeroBitCount + w3.nonzeroBitCount
            + w4.nonzeroBitCount + w5.nonzeroBitCount + w6.nonzeroBitCount + w7.nonzeroBitCount
    }

    private func word(_ index: Int) -> UInt64 {
        switch index {
        case 0: w0
        case 1: w1
        case 2: w2
        case 3: w3
        case 4: w4
        case 5: w5
        case 6: w6
        default: w7
        }
    }
}
