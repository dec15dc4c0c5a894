#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Logging
import StewardActivity
import StewardPolicy
import StewardStore
import Synchronization
import Testing

/// The writer keeps a batch the store could not take (busy, unreachable) and writes it on the next
/// flush, before newer events, so a store outage at normal load loses nothing.
@Suite struct ActivityWriterTests {
    /// The real SQLite repository behind a switch that makes writes fail, as an unreachable store would.
    final class Unreachable: ActivityStore {
        let inner: ActivityRepository
        let failing = Atomic<Bool>(true)
        init(_ inner: ActivityRepository) { self.inner = inner }
        func write(_ records: [ActivityRecord]) async throws {
            if failing.load(ordering: .relaxed) { throw StoreError(.unavailable, "store unreachable") }
            try await inner.write(records)
        }
        func purge(olderThan cutoff: Int64) async throws -> Int { try await inner.purge(olderThan: cutoff) }
        func close() async throws { try await inner.close() }
    }

    #if canImport(Glibc)
        @Test("Activity is put into words and written on a thread below the answering threads' priority")
        func laneIsNiced() async throws {
            let lane = try await ActivityLane.shared.run { getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
            let here = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            #expect(lane == ActivityLane.niceness)
            #expect(lane > here, "lane \(lane), caller \(here)")
        }
    #endif

    @Test("Batches that failed are written, in order, once the store is back")
    func retriesAfterFailure() async throws {
        try await withStore(.sqlite) { store in
            let repository = try await store.openActivity()
            let unreachable = Unreachable(repository)
            let recorder = ActivityRecorder(capacity: 10_000)
            var configuration = ActivityWriter.Configuration()
            configuration.batchSize = 100
            let writer = ActivityWriter(recorder: recorder, store: unreachable, configuration: configuration, logger: Logger(label: "test"))
            var definition = PolicyDefinition()
            definition.groups = [GroupDefinition(id: "everyone")]
            definition.zones = [ZoneDefinition(id: "lan", networks: [IPNetwork("10.0.0.0/8")!], defaultGroup: "everyone")]
            let snapshot = try PolicySnapshot.compile(definition, lists: ListCompiler()).get()
            let subject = snapshot.subject(forZone: 0)
            func record(_ count: Int, from start: Int) {
                for index in start..<(start + count) {
                    recorder.record(
                        ActivityEvent(
                            time: Int64(index), source: .dns, client: IPAddress("10.0.0.1")!, personID: nil, name: "n\(index).example",
                            decision: snapshot.decide(.name("n\(index).example"), subject: subject, zone: 0, at: 0),
                            snapshot: snapshot, responseCode: 0, latencyMicros: 1))
                }
            }
            record(250, from: 0)
            await writer.flush()
            #expect(try await repository.count() == 0)
            record(50, from: 250)
            await writer.flush()
            #expect(try await repository.count() == 0)
            unreachable.failing.store(false, ordering: .relaxed)
            await writer.flush()
            #expect(try await repository.count() == 300)
            #expect(writer.droppedAfterFailures == 0)
            let times = try await repository.recent(name: "n299.example").map(\.time)
            #expect(times == [299])
            try await repository.close()
        }
    }
}
