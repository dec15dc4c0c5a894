import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import StewardConfig
import StewardPolicy
import UnixSignals

/// Keeps the policy in force current: on SIGHUP, and when any file the policy was read from (the
/// configuration, policy files, documents, roster, lists) changes, it recompiles off the event
/// loops and swaps the snapshot. A policy that fails to compile never replaces the one serving
/// (R1: never fail open): the problems are logged and the old snapshot keeps answering.
public struct PolicyReloader: Service {
    let configFile: String
    let holder: SnapshotHolder
    let logger: Logger
    let pollInterval: Duration
    private let watched: Watched

    /// Files and their modification times at the last successful load.
    final class Watched: @unchecked Sendable {
        // Only the reloader's own task reads and writes it (one task), hence unchecked.
        var files: [String: Date]
        init(files: [String: Date]) { self.files = files }
    }

    public init(loaded: LoadedPolicy, holder: SnapshotHolder, logger: Logger, pollInterval: Duration = .seconds(2)) {
        configFile = loaded.configuration.file
        self.holder = holder
        self.logger = logger
        self.pollInterval = pollInterval
        watched = Watched(files: Self.modificationTimes(Self.files(of: loaded.configuration)))
    }

    static func files(of configuration: StewardConfiguration) -> [String] {
        var files = configuration.sourceFiles
        for source in configuration.lists {
            switch source.kind {
            case .file: files.append(source.path)
            case .ut1:
                let enumerator = FileManager.default.enumerator(atPath: source.path)
                while let item = enumerator?.nextObject() as? String {
                    files.append((source.path as NSString).appendingPathComponent(item))
                }
            }
        }
        return files
    }

    static func modificationTimes(_ files: [String]) -> [String: Date] {
        var times: [String: Date] = [:]
        for file in files {
            times[file] = (try? FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date) ?? .distantPast
        }
        return times
    }

    public func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                for await _ in hangups.cancelOnGracefulShutdown() {
                    logger.info("SIGHUP: reloading the policy")
                    await reload()
                }
            }
            group.addTask {
                while !Task.isShuttingDownGracefully {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollInterval) }
                    if Task.isShuttingDownGracefully { break }
                    if changed() {
                        logger.info("policy files changed: reloading the policy")
                        await reload()
                    }
                }
            }
        }
    }

    func changed() -> Bool {
        Self.modificationTimes(Array(watched.files.keys)) != watched.files
    }

    /// Compiles the configuration again; swaps the snapshot only on success.
    @discardableResult
    public func reload() async -> Bool {
        let file = configFile
        do {
            let loaded = try await NIOThreadPool.singleton.runIfActive { try PolicyLoader.load(configFile: file) }
            holder.replace(with: loaded.snapshot)
            watched.files = Self.modificationTimes(Self.files(of: loaded.configuration))
            logger.info(
                "policy reloaded",
                metadata: [
                    "rules": "\(loaded.snapshot.ruleDefinitions.count)", "names": "\(loaded.snapshot.lists.nameCount)",
                    "seconds": "\(String(format: "%.3f", loaded.totalSeconds))",
                ])
            return true
        } catch {
            // Remember the broken files' times so the same error is not logged every poll.
            watched.files = Self.modificationTimes(Array(watched.files.keys))
            logger.error("policy NOT reloaded; the previous policy stays in force", metadata: ["problems": "\(error)"])
            return false
        }
    }
}
