import Foundation

/// Converts a UTC instant to local weekday and minute-of-day in the district's time zone without
/// allocating: the zone's UTC-offset transitions are tabulated once when the policy compiles, and
/// the hot path does a binary search over them.
public struct LocalClock: Sendable {
    /// `(start, offset)`: from `start` (UTC seconds) on, local time is UTC + `offset` seconds.
    private let transitions: [(start: Int64, offset: Int32)]
    public let identifier: String

    /// - Returns: nil when Foundation does not know the zone.
    public init?(identifier: String) {
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        self.identifier = identifier
        var table: [(Int64, Int32)] = []
        // 1970 to 2100 covers every instant a school network will see.
        var date = Date(timeIntervalSince1970: 0)
        let end = Date(timeIntervalSince1970: 4_102_444_800)
        table.append((Int64.min, Int32(zone.secondsFromGMT(for: date))))
        while let next = zone.nextDaylightSavingTimeTransition(after: date), next < end {
            table.append((Int64(next.timeIntervalSince1970.rounded()), Int32(zone.secondsFromGMT(for: next))))
            date = next
        }
        transitions = table
    }

    /// UTC offset in seconds at `instant` (UTC seconds since 1970).
    @inlinable public func offset(at instant: Int64) -> Int64 {
        Int64(transitionOffset(at: instant))
    }

    @usableFromInline func transitionOffset(at instant: Int64) -> Int32 {
        var low = 0
        var high = transitions.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if transitions[middle].start <= instant { low = middle } else { high = middle - 1 }
        }
        return transitions[low].offset
    }

    /// Local weekday (0 = Sunday) and minute after midnight at `instant`.
    @inlinable public func local(_ instant: Int64) -> (weekday: Int, minute: Int) {
        let local = instant + offset(at: instant)
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let secondOfDay = local - days * 86_400
        // 1970-01-01 was a Thursday (4).
        let weekday = Int(((days % 7) + 7 + 4) % 7)
        return (weekday, Int(secondOfDay / 60))
    }
}
