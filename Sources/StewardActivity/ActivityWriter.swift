import Foundation
import Logging
import ServiceLifecycle

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

    /// Writes everything queued now, in batches.
    public func flush() async {
        while true {
            let events = recorder.drain(limit: configuration.batchSize)
            guard !events.isEmpty else { return }
            let records = events.map(ActivityRecord.init)
            do {
                try await store.write(records)
            } catch {
                logger.error("activity batch not written", metadata: ["events": "\(records.count)", "error": "\(error)"])
                return
            }
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
