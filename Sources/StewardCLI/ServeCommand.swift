import ArgumentParser
import Logging
import StewardConfig
import StewardServer

/// `steward serve`: every service the configuration enables, until SIGTERM or SIGINT; SIGHUP or a
/// changed policy file reloads the policy.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the district's services (DNS filter, …) until stopped.")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"

    func run() async throws {
        var logger = Logger(label: "steward")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let loaded: LoadedPolicy
        do {
            loaded = try PolicyLoading.load(configFile: options.config)
        } catch {
            throw fail(error)
        }
        logger.info(
            "policy loaded",
            metadata: [
                "config": "\(loaded.configuration.file)", "rules": "\(loaded.snapshot.ruleDefinitions.count)",
                "names": "\(loaded.snapshot.lists.nameCount)", "seconds": "\(loaded.totalSeconds)",
            ])
        let node = try await ServeNode.make(loaded: loaded, logger: logger)
        try await node.run(logger: logger)
    }
}
