import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Drains the recorder into the store in batches, off every hot path: a query never waits for a
/// disk. Enforces the retention period with a periodic purge, reports drops, and on shutdown
/// writes what is still queued.
public struct ActivityWriter: Service {
    public struct Configuration: Sendable {
        /// How often the queue is drained.
        public var interval: Duration = .milliseconds(200)
        /// The most events written in one transaction.
        public var batchSize = 10_000
        /// How long events are kept; nil keeps them forever.
        public var retention: Duration? = .seconds(180 * 86_400)
        /// How often the retention purge runs.
        public var purgeInterval: Duration = .seconds(3600)

        public init() {}
    }

    let recorder: ActivityRecorder
    let store: any ActivityStore
    let configuration: Configuration
    let logger: Logger

    public init(recorder: ActivityRecorder, store: any ActivityStore, configuration: Configuration = .init(), logger: Logger) {
        self.recorder = recorder
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        var reportedDrops: UInt64 = 0
        var lastPurge: ContinuousClock.Instant? = nil
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.interval) }
            await flush()
            let dropped = recorder.dropped
            if dropped > reportedDrops {
                logger.warning(
                    "activity events dropped: the writer could not keep up",
                    metadata: ["dropped_since_last": "\(dropped - reportedDrops)", "dropped_total": "\(dropped)"])
                reportedDrops = dropped
            }
            if let retention = configuration.retention,
                lastPurge.map({ ContinuousClock.now - $0 >= configuration.purgeInterval }) ?? true
            {
                lastPurge = .now
                await purge(retention: retention)
            }
        }
        await flush()
        do {
            try await store.close()
        } catch {
            logger.error("activity store did not close cleanly", metadata: ["error": "\(error)"])
        }
    }

    /// Batches that failed to write (the store was busy or unreachable), kept to be written first
    /// on the next flush, up to the recorder's capacity; beyond that the oldest are dropped and
    /// counted.
    private let backlog = Backlog()

    final class Backlog: Sendable {
        let batches = Mutex<[[ActivityRecord]]>([])
        let dropped = Atomic<UInt64>(0)
    }

    /// Events given up on after the store failed for longer than the backlog could hold.
    public var droppedAfterFailures: UInt64 { backlog.dropped.load(ordering: .relaxed) }

    /// Writes what failed before, then everything queued now, in batches. Stops at the first
    /// failure, keeping that batch for the next flush.
    public func flush() async {
        while let batch = backlog.batches.withLock({ $0.first }) {
            do {
                try await store.write(batch)
                backlog.batches.withLock { _ = $0.removeFirst() }
            } catch {
                logger.error("activity batch still not written; keeping it", metadata: ["events": "\(batch.count)", "error": "\(error)"])
                return
            }
        }
        while true {
            let events = recorder.drain(limit: configuration.batchSize)
            guard !events.isEmpty else { return }
            // (The lane's thread pool never stops; were it stopped, the words are put here.)
            let records =
                (try? await ActivityLane.shared.run { events.map(ActivityRecord.init) }) ?? events.map(ActivityRecord.init)
            do {
                try await store.write(records)
            } catch {
                logger.error("activity batch not written; keeping it for the next try", metadata: ["events": "\(records.count)", "error": "\(error)"])
                keep(records)
                return
            }
        }
    }

    private func keep(_ records: [ActivityRecord]) {
        let dropped = backlog.batches.withLock { batches -> Int in
            batches.append(records)
            var held = batches.reduce(0) { $0 + $1.count }
            var dropped = 0
            while held > recorder.capacity, batches.count > 1 {
                let oldest = batches.removeFirst()
                held -= oldest.count
                dropped += oldest.count
            }
            return dropped
        }
        if dropped > 0 {
            backlog.dropped.add(UInt64(dropped), ordering: .relaxed)
            logger.error("activity events dropped: the store has failed for too long", metadata: ["dropped": "\(dropped)"])
        }
    }

    func purge(retention: Duration) async {
        let now = Int64(Date.now.timeIntervalSince1970 * 1e9)
        let (seconds, attoseconds) = retention.components
        let cutoff = now - seconds * 1_000_000_000 - attoseconds / 1_000_000_000
        do {
            let removed = try await store.purge(olderThan: cutoff)
            if removed > 0 { logger.info("activity retention purge", metadata: ["removed": "\(removed)"]) }
        } catch {
            logger.error("activity retention purge failed", metadata: ["error": "\(error)"])
        }
    }
}
