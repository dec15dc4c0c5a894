/// Where activity is kept. The writer hands it batches; implementations write each batch in one
/// transaction.
public protocol ActivityStore: Sendable {
    func write(_ records: [ActivityRecord]) async throws
    /// Deletes events older than `cutoff` (nanoseconds since 1970); returns how many.
    func purge(olderThan cutoff: Int64) async throws -> Int
    /// Releases the store (the writer calls it after its final flush).
    func close() async throws
}
