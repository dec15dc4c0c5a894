import ArgumentParser
import Foundation
import StewardActivity
import StewardStore

/// `steward bench activity`: how fast the store takes activity, in batches as the writer hands
/// them over. It writes synthetic events to the store named with `--store` (never the district's
/// own unless named), one transaction per batch.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure the store.", subcommands: [Activity.self])

    struct Activity: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write synthetic activity in batches and report events per second.")
        @Option(help: "A SQLite file or a postgres:// URL (default: a new file in the temporary directory).")
        var store: String?
        @Option(help: "How many events.") var events = 200_000
        @Option(help: "Events per batch (one transaction each).") var batch = 1000
        @Flag(help: "Print 'committed N' after every batch.") var progress = false

        func run() async throws {
            guard events > 0, batch > 0 else { throw fail(.usage("--events and --batch must be positive")) }
            let location = store ?? FileManager.default.temporaryDirectory
                .appendingPathComponent("steward-bench-\(UUID().uuidString).sqlite").path
            let backend: StoreBackend =
                location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
                ? .postgres(url: location) : .sqlite(path: location)
            let repository: ActivityRepository
            let opened: Store
            do {
                opened = try await Store.open(backend, logger: commandLogger())
                repository = try await opened.openActivity()
            } catch let error as StoreError {
                throw fail(.store(error))
            }
            let base = Int64(Date.now.timeIntervalSince1970 * 1e9)
            let template = ActivityRecord(
                time: base, source: "dns", client: "10.20.30.40", personID: "S00001", group: "high-students",
                name: "www.example.com", queryType: 1, method: nil, path: nil, action: "allow", cause: "default",
                rule: nil, categories: [], clauseDocument: nil, clauseSection: nil, responseCode: 0, latencyMicros: 35,
                cacheHit: true, upstream: -1, bytesIn: 0, bytesOut: 0)
            let started = ContinuousClock.now
            var written = 0
            while written < events {
                let count = min(batch, events - written)
                var records: [ActivityRecord] = []
                records.reserveCapacity(count)
                for index in 0..<count {
                    var record = template
                    record.time = base + Int64(written + index)
                    record.name = "host\((written + index) % 5000).example.com"
                    records.append(record)
                }
                try await repository.write(records)
                written += count
                if progress { print("committed \(written)") }
            }
            let elapsed = (ContinuousClock.now - started).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            print(String(format: "%@: %d events in batches of %d: %.2f s, %.0f events/s", "\(backend)", written, batch, seconds, Double(written) / seconds))
            try await repository.close()
            await opened.close()
        }
    }
}
