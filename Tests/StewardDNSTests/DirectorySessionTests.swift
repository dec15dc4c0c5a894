import Foundation
import StewardPolicy
import StewardStore
import Testing

/// Identity from the directory reaches the DNS filter: a session opened in the store (as the portal,
/// RADIUS or `steward session open` in another process would) decides queries by that person's
/// policy after one refresh, and a revocation in the store takes effect on the next.
@Suite(.serialized) struct DirectorySessionTests {
    @Test("A session in the store identifies the client; a revocation there blocks it; ending it restores the zone's policy")
    func sessionsFromTheStore() async throws {
        let upstream = IntegrationUpstream(records: try DNSIntegrationTests.records(), truncateOverUDP: [])
        try await upstream.start()
        let harness = try await Harness.start(upstreamPort: upstream.port)
        do {
            let directory = harness.node.store.directory
            _ = try await directory.importRoster(
                Roster(
                    kind: .csv, source: "test", complete: true,
                    entries: [Roster.Entry(person: Person(id: "S1", name: "Ana Lima", role: .student, building: "north"), username: "ana")],
                    buildings: [Roster.Building(id: "north", name: "North")]),
                actor: "test")
            #expect(try await harness.dig(["allowed.example", "A"]).rcode == "NOERROR")

            try await directory.openSession(
                address: IPAddress("127.0.0.1")!, personID: "S1", source: "static", expiresAt: unixNow() + 600,
                concurrentDevices: 3, actor: "test")
            #expect(try await harness.node.directorySync.refresh())
            #expect(harness.node.identities.person(at: IPAddress("127.0.0.1")!, now: unixNow())?.id == "S1")
            #expect(try await harness.dig(["allowed.example", "A"]).rcode == "NOERROR")

            try await directory.revoke("S1", until: nil, reason: "bypass attempts", actor: "test")
            #expect(try await harness.node.directorySync.refresh())
            let blocked = try await harness.dig(["allowed.example", "A"])
            #expect(blocked.rcode == "NXDOMAIN", "\(blocked.output)")

            try await directory.closeSession(address: IPAddress("127.0.0.1")!, actor: "test")
            #expect(try await harness.node.directorySync.refresh())
            #expect(harness.node.identities.count == 0)
            // Nothing changed since: no reload.
            #expect(try await harness.node.directorySync.refresh() == false)
            #expect(try await harness.dig(["allowed.example", "A"]).rcode == "NOERROR")
        } catch {
            await harness.stop()
            await upstream.stop()
            throw error
        }
        await harness.stop()
        await upstream.stop()
    }
}
