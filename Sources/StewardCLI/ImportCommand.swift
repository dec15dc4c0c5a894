import ArgumentParser
import Foundation
import StewardConfig
import StewardPolicy
import StewardServer
import StewardStore

/// `steward import oneroster DIR` and `steward import csv FILE`: the roster into the directory, in
/// one transaction. A file with any bad row changes nothing.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import the district's roster into the directory.",
        subcommands: [OneRoster.self, CSV.self])

    struct Flags: ParsableArguments {
        @Flag(help: "Print what would change and change nothing.") var dryRun = false
        @Flag(help: "List every person changed, not only the counts.") var verbose = false
        @Flag(help: "Say on standard error when writing starts.") var progress = false
    }

    struct OneRoster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "oneroster",
            abstract: "Import OneRoster 1.1 CSV files (manifest.csv, orgs.csv, users.csv, enrollments.csv, academicSessions.csv).")
        @OptionGroup var options: ConfigOptions
        @OptionGroup var flags: Flags
        @Argument(help: "The folder holding the OneRoster CSV files.") var directory: String

        func run() async throws {
            let roster: Roster
            do {
                roster = try RosterFiles.oneRoster(directory: directory)
            } catch {
                throw fail(.configuration(error))
            }
            try await ImportCommand.apply(roster, options: options, flags: flags)
        }
    }

    struct CSV: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a plain roster sheet: id, name, role, building, grade, email (header first).")
        @OptionGroup var options: ConfigOptions
        @OptionGroup var flags: Flags
        @Argument(help: "The CSV file.") var file: String

        func run() async throws {
            let roster: Roster
            do {
                roster = try RosterFiles.plainCSV(file: file)
            } catch {
                throw fail(.configuration(error))
            }
            try await ImportCommand.apply(roster, options: options, flags: flags)
        }
    }

    static func apply(_ roster: Roster, options: ConfigOptions, flags: Flags) async throws {
        let started = ContinuousClock.now
        var progress: (@Sendable (String) -> Void)? = nil
        if flags.progress { progress = { (message: String) in printError("steward: " + message) } }
        let dryRun = flags.dryRun
        let report = try await withStore(options) { store, _ -> ImportReport in
            try await store.directory.importRoster(roster, actor: StoreAccess.actor, dryRun: dryRun, progress: progress)
        }
        let seconds = (ContinuousClock.now - started).components
        let elapsed = Double(seconds.seconds) + Double(seconds.attoseconds) / 1e18
        let verb = flags.dryRun ? "would change" : "changed"
        print("\(roster.entries.count) people read from \(roster.source) (\(roster.complete ? "complete roster" : "delta"))")
        if report.changedNothing {
            print("nothing to change: the directory already matches")
        } else {
            print(
                "\(verb): \(report.added.count) added, \(report.updated.count) updated, "
                    + "\(report.deactivated.count) deactivated, \(report.reactivated.count) reactivated, "
                    + "\(report.buildingChanges.count) moved building, \(report.buildingsAdded.count) new buildings")
        }
        if flags.dryRun || flags.verbose {
            for id in report.added { print("  + \(id)") }
            for (id, fields) in report.updated { print("  ~ \(id): \(fields.joined(separator: ", "))") }
            for (id, from, to) in report.buildingChanges { print("  > \(id): \(from) → \(to) (must sign again)") }
            for id in report.deactivated { print("  - \(id) (deactivated)") }
            for id in report.reactivated { print("  ^ \(id) (reactivated)") }
        }
        if flags.dryRun { print("dry run: nothing was written") }
        print(String(format: "%.2f s", elapsed))
    }
}
