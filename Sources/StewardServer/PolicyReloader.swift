import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import StewardConfig
import StewardPolicy
import Synchronization
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

    /// Files and their modification times at the last load, and the number of the latest reload
    /// started. SIGHUP and the file watch run as two tasks, so both are shared: the times under a
    /// lock, and a reload puts its snapshot in force only if no later reload has started meanwhile
    /// (the newest configuration always wins).
    final class Watched: Sendable {
        let files: Mutex<[String: Date]>
        let latestTicket = Atomic<UInt64>(0)
        init(files: [String: Date]) { self.files = Mutex(files) }
    }

    /// Called after a new policy is in force (the directory re-imports the configured roster).
    let reloaded: (@Sendable (LoadedPolicy) async -> Void)?
    /// The policy the store holds, applied at every compile; and its version, polled so that a
    /// change made on another node (an approved review, a "work only" switch) recompiles here too.
    let overrides: (@Sendable () async throws -> PolicyOverrides)?
    let storeVersion: (@Sendable () async throws -> Int64)?
    private let seenStoreVersion = SeenVersion()

    public init(
        loaded: LoadedPolicy, holder: SnapshotHolder, logger: Logger, pollInterval: Duration = .seconds(2),
        reloaded: (@Sendable (LoadedPolicy) async -> Void)? = nil,
        overrides: (@Sendable () async throws -> PolicyOverrides)? = nil,
        storeVersion: (@Sendable () async throws -> Int64)? = nil
    ) {
        self.reloaded = reloaded
        self.overrides = overrides
        self.storeVersion = storeVersion
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
                // Cancellation ends the loop too: a cancelled sleep returns at once, and polling on
                // would spin a core.
                while !Task.isShuttingDownGracefully, !Task.isCancelled {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollInterval) }
                    if Task.isShuttingDownGracefully || Task.isCancelled { break }
                    if changed() {
                        logger.info("policy files changed: reloading the policy")
                        await reload()
                    } else if await storeChanged() {
                        logger.info("the store's policy changed: reloading the policy")
                        await reload(filesChanged: false)
                    }
                }
            }
        }
    }

    /// Records the store's policy version that the snapshot in force was compiled with.
    public func noteStoreVersion(_ version: Int64) {
        seenStoreVersion.value.store(version, ordering: .relaxed)
    }

    /// Whether the store's policy version moved since the last compile.
    func storeChanged() async -> Bool {
        guard let storeVersion, let version = try? await storeVersion() else { return false }
        return version != seenStoreVersion.value.load(ordering: .relaxed)
    }

    func changed() -> Bool {
        let known = watched.files.withLock { $0 }
        return Self.modificationTimes(Array(known.keys)) != known
    }

    /// Compiles the configuration again; swaps the snapshot only on success. `filesChanged` is
    /// false when only the store's policy moved: the files need not be brought in again then.
    @discardableResult
    public func reload(filesChanged: Bool = true) async -> Bool {
        let file = configFile
        let ticket = watched.latestTicket.add(1, ordering: .relaxed).newValue
        do {
            // Noted before compiling, so a policy that fails is not retried every poll.
            if let version = try await storeVersion?() { noteStoreVersion(version) }
            let held = try await overrides?() ?? PolicyOverrides()
            let loaded = try await NIOThreadPool.singleton.runIfActive {
                try PolicyLoader.load(configFile: file, overrides: held)
            }
            guard watched.latestTicket.load(ordering: .relaxed) == ticket else {
                logger.info("policy compiled, but a newer reload is under way; keeping that one")
                return false
            }
            holder.replace(with: loaded.snapshot)
            let times = Self.modificationTimes(Self.files(of: loaded.configuration))
            watched.files.withLock { $0 = times }
            logger.info(
                "policy reloaded",
                metadata: [
                    "rules": "\(loaded.snapshot.ruleDefinitions.count)", "names": "\(loaded.snapshot.lists.nameCount)",
                    "seconds": "\(String(format: "%.3f", loaded.totalSeconds))",
                ])
            if filesChanged { await reloaded?(loaded) }
            return true
        } catch {
            // Remember the broken files' times so the same error is not logged every poll.
            let times = Self.modificationTimes(Array(watched.files.withLock { $0.keys }))
            watched.files.withLock { $0 = times }
            logger.error("policy NOT reloaded; the previous policy stays in force", metadata: ["problems": "\(error)"])
            return false
        }
    }
}
