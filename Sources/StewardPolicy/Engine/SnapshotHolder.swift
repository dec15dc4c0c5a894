import Synchronization

/// Holds the snapshot in force. A reload replaces it as one reference; readers on hot paths keep a
/// `SnapshotHolder.Reader`, which re-reads the reference only when the generation counter moved,
/// so the common case is one relaxed atomic load and no lock.
public final class SnapshotHolder: Sendable {
    private let current: Mutex<PolicySnapshot>
    private let generationCounter: Atomic<UInt64>

    public init(_ snapshot: PolicySnapshot) {
        current = Mutex(snapshot)
        generationCounter = Atomic(1)
    }

    /// The snapshot in force (takes the lock; hot paths use a `Reader`).
    public var snapshot: PolicySnapshot { current.withLock { $0 } }

    public var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    /// Puts a new snapshot in force. Readers see it on their next `current()`.
    public func replace(with snapshot: PolicySnapshot) {
        current.withLock { $0 = snapshot }
        generationCounter.add(1, ordering: .releasing)
    }

    /// A per-thread (per event loop, per handler) cache of the snapshot reference. Not `Sendable`:
    /// each reader belongs to one thread.
    public struct Reader {
        private let holder: SnapshotHolder
        private var cached: PolicySnapshot
        private var seen: UInt64

        public init(_ holder: SnapshotHolder) {
            self.holder = holder
            seen = holder.generation
            cached = holder.snapshot
        }

        public mutating func current() -> PolicySnapshot {
            let generation = holder.generationCounter.load(ordering: .acquiring)
            if generation != seen {
                cached = holder.snapshot
                seen = generation
            }
            return cached
        }
    }
}

@available(*, unavailable)
extension SnapshotHolder.Reader: Sendable {}
