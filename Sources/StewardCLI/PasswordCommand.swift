import ArgumentParser
import Foundation
import StewardConfig
import StewardServer
import StewardStore

/// `steward password set|link|import`: district credentials for the portal.
struct PasswordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "password", abstract: "District passwords people sign in to the portal with.",
        subcommands: [Set.self, Link.self, Import.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a person's password, read from standard input.")
        @OptionGroup var options: ConfigOptions
        @Argument var id: String

        func run() async throws {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw fail(.usage("give the password on standard input"))
            }
            try await withStore(options) { store, _ in
                try await store.credentials.setPassword(personID: id, password: line, actor: StoreAccess.actor)
            }
            print("\(id): password set")
        }
    }

    struct Link: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a one-time link (valid 7 days) with which a person chooses their own password.")
        @OptionGroup var options: ConfigOptions
        @Argument var id: String

        func run() async throws {
            try await withStore(options) { store, configuration in
                let token = try await store.credentials.issueLink(personID: id, actor: StoreAccess.actor)
                print((ServeNode.publicURL(configuration) ?? "") + "/portal/password?token=\(token)")
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set many passwords from a CSV file of id,password rows (one transaction: all or nothing).")
        @OptionGroup var options: ConfigOptions
        @Argument var file: String

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw fail(.usage("cannot read \(file) as UTF-8 text"))
            }
            var entries: [(personID: String, password: String)] = []
            for (index, line) in text.split(whereSeparator: \.isNewline).enumerated() {
                let fields = line.split(separator: ",", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
                if index == 0, fields.first?.lowercased() == "id" { continue }
                guard fields.count == 2, !fields[0].isEmpty else {
                    throw fail(.usage("\(file):\(index + 1): expected id,password"))
                }
                entries.append((fields[0], fields[1]))
            }
            try await withStore(options) { store, _ in
                try await store.credentials.setPasswords(entries, actor: StoreAccess.actor)
            }
            print("\(entries.count) passwords set")
        }
    }
}
