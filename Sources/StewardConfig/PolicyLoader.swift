import Foundation
import StewardPolicy

/// A compiled policy with what went into it.
public struct LoadedPolicy: Sendable {
    public let configuration: StewardConfiguration
    public let snapshot: PolicySnapshot
    /// Seconds spent reading and compiling the lists, and compiling the whole policy.
    public let listSeconds: Double
    public let totalSeconds: Double
}

/// Configuration file → compiled `PolicySnapshot`. Problems in the configuration, the lists'
/// references and the rules all come back together as one `ConfigError`.
public enum PolicyLoader {
    public static func load(configFile: String) throws(ConfigError) -> LoadedPolicy {
        let configuration = try ConfigurationLoader.load(path: configFile)
        return try compile(configuration)
    }

    public static func compile(_ configuration: StewardConfiguration) throws(ConfigError) -> LoadedPolicy {
        let started = ContinuousClock.now
        let compiler = try ListLoader.compiler(for: configuration.lists, configFile: configuration.file)
        let listsDone = ContinuousClock.now
        switch PolicySnapshot.compile(configuration.policy, lists: compiler) {
        case .success(let snapshot):
            let finished = ContinuousClock.now
            return LoadedPolicy(
                configuration: configuration, snapshot: snapshot, listSeconds: (listsDone - started).seconds,
                totalSeconds: (finished - started).seconds)
        case .failure(let error):
            throw ConfigError(
                problems: error.problems.map { problem in
                    ConfigProblem(
                        file: problem.location?.file ?? configuration.file, line: problem.location?.line,
                        path: problem.path, message: problem.message)
                })
        }
    }
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
