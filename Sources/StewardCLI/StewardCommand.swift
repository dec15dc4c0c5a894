import ArgumentParser
import StewardServer

/// `steward`: the district's acceptable-use policy, enforced on its network.
public struct StewardCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "steward",
        abstract: "Makes a school district's acceptable-use policy real on its network.",
        subcommands: [
            ServeCommand.self, CheckCommand.self, ListsCommand.self, ConfigCommand.self, ImportCommand.self,
            PersonCommand.self, SessionCommand.self, DeviceCommand.self, ActivityCommand.self, AdminCommand.self, PasswordCommand.self,
            AuditCommand.self, DatabaseCommand.self, BackupCommand.self, BenchCommand.self,
        ]
    )

    public init() {}
}

/// Options every command that reads the district's configuration shares.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "The configuration file (default: the shipped demo district).")
    var config: String?
}

/// Prints a command's error on one line to standard error and exits non-zero.
func fail(_ error: StewardError) -> ExitCode {
    printError("steward: \(error)")
    return ExitCode(1)
}

func printError(_ text: String) {
    var standardError = StandardError()
    print(text, to: &standardError)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleWriter.write(string, descriptor: 2)
    }
}

extension StewardCommand {
    /// Parses the process's arguments and runs the chosen subcommand, exiting as ArgumentParser does.
    public static func runFromCommandLine(_ arguments: [String]? = nil) async {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
