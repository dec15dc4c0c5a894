import Foundation
import Logging
import StewardActivity
import StewardPolicy
import StewardStore
import Testing

/// The SQLite activity store: batches larger than one statement, the retention purge, and data
/// that survives closing and reopening.
@Suite struct ActivityStoreTests {
    func records(_ count: Int, time: Int64, name: String) throws -> [ActivityRecord] {
        let snapshot = try FastPathTests.snapshot()
        let subject = snapshot.subject(forZone: 0)
        let decision = snapshot.decide(.name(name), subject: subject, zone: 0, at: 0)
        return (0..<count).map { index in
            ActivityRecord(
                ActivityEvent(
                    time: time + Int64(index), source: .dns, client: IPAddress("127.0.0.1")!, personID: nil, name: name,
                    queryType: 1, decision: decision, snapshot: snapshot, responseCode: 3, latencyMicros: 10))
        }
    }

    @Test("Batches are written whole, old events are purged, and what is kept survives a reopen")
    func writePurgeReopen() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("activity-\(UUID().uuidString).sqlite").path
        let logger = Logger(label: "test")
        let store = try await SQLiteActivityStore.open(path: path, logger: logger)
        let day: Int64 = 86_400 * 1_000_000_000
        let now: Int64 = 1_795_000_000 * 1_000_000_000
        try await store.write(try records(2500, time: now - 200 * day, name: "old.casino.example"))
        try await store.write(try records(10, time: now, name: "casino.example"))
        #expect(try await store.count() == 2510)
        let recent = try await store.recent(name: "casino.example")
        #expect(recent.count == 10)
        #expect(recent.first?.action == "block")
        #expect(recent.first?.rule == "no-gambling")
        #expect(try await store.purge(olderThan: now - 180 * day) == 2500)
        #expect(try await store.count() == 10)
        try await store.close()

        let reopened = try await SQLiteActivityStore.open(path: path, logger: logger)
        #expect(try await reopened.count() == 10)
        try await reopened.close()
    }
}
