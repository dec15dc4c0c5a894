import ArgumentParser
import Foundation
import StewardServer
import StewardStore

/// `steward audit verify|list`: the append-only record of administrative changes and looks.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The audit log.", subcommands: [Verify.self, List.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the audit log's hash chain; exit 1 if broken.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let result = try await withStore(options) { store, _ in try await store.audit.verify() }
            if let broken = result.broken {
                printError("steward: audit log broken at entry \(broken.seq): \(broken.reason)")
                throw ExitCode(1)
            }
            print("audit log intact: \(result.entries) entries")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print audit entries, oldest first.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Only entries about this subject (a person id, admin:NAME, …).") var subject: String?
        @Option(help: "At most this many.") var limit = 1000

        func run() async throws {
            let entries = try await withStore(options) { store, _ in
                try await store.audit.entries(subject: subject, limit: limit)
            }
            let formatter = ISO8601DateFormatter()
            for entry in entries {
                let time = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(entry.time)))
                print("\(entry.seq)\t\(time)\t\(entry.actor)\t\(entry.action)\t\(entry.subject)\t\(entry.detail)")
            }
        }
    }
}
