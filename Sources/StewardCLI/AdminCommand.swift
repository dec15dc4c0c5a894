import ArgumentParser
import Foundation
import StewardServer
import StewardStore

/// `steward admin create|passwd|list`: the people who run Steward.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "Steward's administrators.", subcommands: [Create.self, Passwd.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an administrator; the password is read from standard input.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The administrator's username.") var username: String
        @Option(help: "district-admin, building-admin, hr or auditor.") var role: String
        @Option(name: .customLong("building"), help: "A building a building administrator may see (repeat for more).")
        var buildings: [String] = []

        func run() async throws {
            guard let role = Administrators.Role(rawValue: role) else {
                throw fail(.usage("unknown role '\(role)' (\(Administrators.Role.allCases.map(\.rawValue).joined(separator: ", ")))"))
            }
            let password = try readPassword()
            try await withStore(options) { store, _ in
                try await store.administrators.create(
                    username: username, password: password, role: role, buildings: buildings, actor: StoreAccess.actor)
            }
            print("administrator '\(username)' created (\(role.rawValue))")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set an administrator's password, read from standard input.")
        @OptionGroup var options: ConfigOptions
        @Argument var username: String

        func run() async throws {
            let password = try readPassword()
            try await withStore(options) { store, _ in
                try await store.administrators.setPassword(username: username, password: password, actor: StoreAccess.actor)
            }
            print("password of '\(username)' changed")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the administrators.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let accounts = try await withStore(options) { store, _ in try await store.administrators.list() }
            for account in accounts {
                let scope = account.buildings.isEmpty ? "" : " [\(account.buildings.joined(separator: ", "))]"
                print("\(account.username)\t\(account.role.rawValue)\(scope)\(account.disabled ? "\tdisabled" : "")")
            }
        }
    }
}

/// The first line of standard input, without its line end (never a command-line argument, which
/// other users could read in the process list).
func readPassword() throws -> String {
    guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else {
        throw fail(.usage("give the password on standard input (e.g. printf '%s\\n' \"$PASSWORD\" | steward admin …)"))
    }
    return line.hasSuffix("\r") ? String(line.dropLast()) : line
}
