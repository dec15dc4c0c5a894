import ArgumentParser
import Foundation
import StewardActivity
import StewardPolicy
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
        @Flag(help: "Go the DNS filter's way: decided events through the recorder and the writer, as `serve` does.")
        var throughWriter = false

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
            if throughWriter {
                try await runThroughWriter(repository)
                await opened.close()
                return
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
    
        /// Events as the DNS filter records them (a decision over a compiled policy, a client
        /// address, a name), drained and written by the real `ActivityWriter`.
        func runThroughWriter(_ repository: ActivityRepository) async throws {
            var definition = PolicyDefinition()
            definition.documents = [PolicyDocument(id: "aup", title: "AUP", text: "No gambling.")]
            definition.groups = [GroupDefinition(id: "everyone")]
            definition.zones = [ZoneDefinition(id: "lan", networks: [IPNetwork("10.0.0.0/8")!], defaultGroup: "everyone")]
            var rule = RuleDefinition(id: "no-gambling", action: .block, match: RuleMatch(), clause: Clause(document: "aup", section: "Rules", text: "No gambling."))
            rule.match.categories = ["gambling"]
            definition.rules = [rule]
            var compiler = ListCompiler()
            let category = try compiler.addCategory(name: "gambling", source: "bench")
            _ = compiler.add(entry: "casino.example", category: category)
            let snapshot = try PolicySnapshot.compile(definition, lists: compiler).get()
            let subject = snapshot.subject(forZone: 0)
            let recorder = ActivityRecorder(capacity: batch * 2)
            var configuration = ActivityWriter.Configuration()
            configuration.batchSize = batch
            let writer = ActivityWriter(recorder: recorder, store: repository, configuration: configuration, logger: commandLogger())
            let clients = (0..<1000).map { IPAddress("10.1.\($0 / 250).\($0 % 250 + 1)")! }
            let names = (0..<5000).map { $0 % 4 == 0 ? "www\($0).casino.example" : "host\($0).example.com" }
            let base = Int64(Date.now.timeIntervalSince1970 * 1e9)
            let started = ContinuousClock.now
            var written = 0
            while written < events {
                let count = min(batch, events - written)
                for index in written..<(written + count) {
                    let name = names[index % names.count]
                    recorder.record(
                        ActivityEvent(
                            time: base + Int64(index), source: .dns, client: clients[index % clients.count], personID: nil,
                            name: name, queryType: 1,
                            decision: snapshot.decide(.name(name), subject: subject, zone: 0, at: base),
                            snapshot: snapshot, responseCode: 0, latencyMicros: 30, cacheHit: true))
                }
                await writer.flush()
                written += count
                if progress { print("committed \(written)") }
            }
            let elapsed = (ContinuousClock.now - started).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            print(String(format: "through the writer: %d events in batches of %d: %.2f s, %.0f events/s", written, batch, seconds, Double(written) / seconds))
            try await repository.close()
        }
}
}
