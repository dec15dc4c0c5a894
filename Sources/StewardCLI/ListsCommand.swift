import ArgumentParser
import Foundation
import StewardServer

/// `steward lists …`: the category lists.
struct ListsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lists", abstract: "Category lists.", subcommands: [Stats.self])

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per category: entries loaded, lines rejected; compile time and memory.")

        @OptionGroup var options: ConfigOptions
        @Flag(help: "List every rejected line with its file, line number and reason.") var rejected = false
        @Flag(help: "Print one JSON object.") var json = false

        func run() async throws {
            let statistics: ListStatistics
            do {
                statistics = ListStatistics(try PolicyLoading.load(configFile: options.config))
            } catch {
                throw fail(error)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(statistics), as: UTF8.self))
            } else {
                print(statistics.table(showRejectedLines: rejected))
            }
        }
    }
}
