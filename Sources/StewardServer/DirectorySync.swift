import Foundation
import Logging
import ServiceLifecycle
import StewardPolicy
import StewardStore
import Synchronization

/// A store version a service last acted on (-1: none yet), shared by the copies of the service.
final class SeenVersion: Sendable {
    let value = Atomic<Int64>(-1)
}

/// Keeps the in-memory identity map (client address → person) in step with the store: the DNS
/// filter and the proxy read the map, never the database. Every node polls the directory's version
/// (a counter every change bumps), so a session opened on one node, a revocation, or an import run
/// from the command line reaches every node within one poll. Also removes ended sessions.
public struct DirectorySync: Service {
    let store: Store
    let identities: ClientIdentities
    let interval: Duration
    let logger: Logger
    /// The directory version last loaded (-1: none yet).
    private let seen = SeenVersion()

    public init(store: Store, identities: ClientIdentities, interval: Duration = .seconds(2), logger: Logger) {
        self.store = store
        self.identities = identities
        self.interval = interval
        self.logger = logger
    }

    /// Loads the sessions again if the directory changed since the last look; returns whether it did.
    @discardableResult
    public func refresh(force: Bool = false) async throws -> Bool {
        let version = try await store.directory.version()
        guard force || version != seen.value.load(ordering: .relaxed) else { return false }
        let now = unixNow()
        var map: [IPAddress: ClientIdentities.Session] = [:]
        for (session, person) in try await store.directory.activeSessions(now: now) {
            map[session.address] = ClientIdentities.Session(
                person: person, expires: session.expiresAt, source: session.source, deviceID: session.deviceID)
        }
        identities.replaceAll(map)
        seen.value.store(version, ordering: .relaxed)
        logger.debug("identity sessions loaded", metadata: ["sessions": "\(map.count)", "version": "\(version)"])
        return true
    }

    public func run() async throws {
        var lastPurge = ContinuousClock.now
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            do {
                if ContinuousClock.now - lastPurge >= .seconds(60) {
                    lastPurge = .now
                    try await store.directory.purgeExpiredSessions()
                }
                try await refresh()
            } catch {
                // The map keeps its last good state; sessions already known keep working.
                logger.error("directory refresh failed; keeping the sessions already loaded", metadata: ["error": "\(error)"])
            }
        }
        await store.close()
    }
}
