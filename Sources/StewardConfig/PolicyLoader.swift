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

/// Policy held in the store rather than the configuration files.
public struct PolicyOverrides: Sendable {
    public var workOnly: [String: Bool]
    public var exceptions: [PolicyDefinition.Exception]

    public init(workOnly: [String: Bool] = [:], exceptions: [PolicyDefinition.Exception] = []) {
        self.workOnly = workOnly
        self.exceptions = exceptions
    }

    public var isEmpty: Bool { workOnly.isEmpty && exceptions.isEmpty }
}

/// Configuration file → compiled `PolicySnapshot`. Problems in the configuration, the lists'
/// references and the rules all come back together as one `ConfigError`.
public enum PolicyLoader {
    public static func load(configFile: String) throws(ConfigError) -> LoadedPolicy {
        let configuration = try ConfigurationLoader.load(path: configFile)
        return try compile(configuration)
    }

    /// Loads the configuration and compiles it with the policy the store holds (approved
    /// exceptions, "work only" switches) applied.
    public static func load(configFile: String, overrides: PolicyOverrides) throws(ConfigError) -> LoadedPolicy {
        var configuration = try ConfigurationLoader.load(path: configFile)
        configuration.policy = configuration.policy.applying(workOnly: overrides.workOnly, exceptions: overrides.exceptions)
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
