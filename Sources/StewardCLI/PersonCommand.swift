import ArgumentParser
import Foundation
import StewardServer
import StewardStore

/// `steward person show|revoke|restore`: one person in the directory.
struct PersonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "person", abstract: "A person in the directory.", subcommands: [Show.self, Revoke.self, Restore.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a person, their devices and changes (audited).")
        @OptionGroup var options: ConfigOptions
        @Argument var id: String

        func run() async throws {
            try await withStore(options) { store, _ in
                guard let record = try await store.directory.person(id: id) else { throw StewardError.unknownUser(id) }
                try await store.audit.append(actor: StoreAccess.actor, action: "person.view", subject: id)
                let person = record.person
                print("\(person.id)\t\(person.name)\t\(person.role)\t\(person.building ?? "-")\t\(person.grade.map { "grade \($0)" } ?? "-")")
                switch person.status {
                case .active: print("status: active")
                case .inactive: print("status: inactive")
                case .revoked(let until, let reason):
                    print("status: revoked until \(until.map { ISO8601DateFormatter().string(from: $0) } ?? "restored") — \(reason)")
                }
                if let username = record.username { print("username: \(username)") }
                for device in try await store.directory.devices(ownerID: id) {
                    print("device: \(device.id) \(device.hardwareAddress ?? "") \(device.name ?? "")")
                }
                for change in try await store.directory.changes(of: id) {
                    let time = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(change.time)))
                    print("\(time)\t\(change.kind)\t\(change.old ?? "-") → \(change.new ?? "-")")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a person's network access (R13).")
        @OptionGroup var options: ConfigOptions
        @Argument var id: String
        @Option(help: "Until this date (YYYY-MM-DD); without it, until restored.") var until: String?
        @Option(help: "Why (kept with the revocation and shown on the block page).") var reason: String

        func run() async throws {
            var date: Date? = nil
            if let until {
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withFullDate]
                guard let parsed = formatter.date(from: until) else { throw fail(.usage("'\(until)' is not a date (YYYY-MM-DD)")) }
                date = parsed
            }
            try await withStore(options) { store, _ in
                try await store.directory.revoke(id, until: date, reason: reason, actor: StoreAccess.actor)
            }
            print("\(id): access revoked")
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restore a revoked person's access.")
        @OptionGroup var options: ConfigOptions
        @Argument var id: String

        func run() async throws {
            try await withStore(options) { store, _ in try await store.directory.restore(id, actor: StoreAccess.actor) }
            print("\(id): access restored")
        }
    }
}
