import ArgumentParser
import Foundation
import Logging
import StewardConfig
import StewardServer
import StewardStore

/// A logger for commands: warnings and errors only, so their output stays the answer.
func commandLogger() -> Logger {
    var logger = Logger(label: "steward")
    logger.logLevel = .warning
    return logger
}

/// Runs a store command, turning its errors into one line on standard error and exit 1.
@discardableResult
func withStore<T>(_ options: ConfigOptions, _ body: (Store, StewardConfiguration) async throws -> T) async throws -> T {
    do {
        return try await StoreAccess.with(configFile: options.config, logger: commandLogger(), body)
    } catch {
        throw fail(error)
    }
}

/// `steward db migrate`: brings the store's schema up to date (`steward serve` does it at start).
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "The store's schema.", subcommands: [Migrate.self])

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply the store's forward-only migrations.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            try await withStore(options) { store, _ in
                print("\(store.backend): schema version \(try await store.schemaVersion()) (latest \(Migrations.latest))")
            }
        }
    }
}

/// `steward backup PATH`: a consistent online copy of the SQLite store.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Copy the SQLite store to PATH while Steward keeps running.")
    @OptionGroup var options: ConfigOptions
    @Argument(help: "Where to write the copy (must not exist).") var path: String

    func run() async throws {
        let target = URL(fileURLWithPath: path).standardizedFileURL.path
        try await withStore(options) { store, _ in
            try await store.backup(to: target)
            try await store.audit.append(actor: StoreAccess.actor, action: "store.backup", subject: "store", detail: target)
            print("backed up \(store.backend) to \(target)")
        }
    }
}
