import ArgumentParser
import Foundation
import StewardServer

/// `steward config check`: validates a configuration and everything it names.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "The configuration file.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration, its policy files, documents, roster and lists; report every problem.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            do {
                let loaded = try PolicyLoading.load(configFile: options.config)
                let snapshot = loaded.snapshot
                print(
                    "\(loaded.configuration.file): OK — \(snapshot.ruleDefinitions.count) rules, "
                        + "\(snapshot.groups.count) groups, \(snapshot.zones.count) zones, "
                        + "\(snapshot.lists.categories.count) categories (\(snapshot.lists.nameCount) names), "
                        + "\(snapshot.peopleCount) people; compiled in "
                        + String(format: "%.2f s", loaded.totalSeconds))
            } catch {
                throw fail(error)
            }
        }
    }
}
