import Foundation
import StewardPolicy
import StewardStore
import Testing

/// In a zone that requires sign-in, a client nobody has signed in on gets the portal's address for
/// every web name (with TTL 0, so nothing keeps it), except the names the sign-in itself needs;
/// once a session opens for its address, the same query gets the person's policy at once.
@Suite(.serialized) struct CaptivePortalDNSTests {
    @Test("before sign-in names lead to the portal; after it, the real answer under the person's policy")
    func portalThenPolicy() async throws {
        let upstream = IntegrationUpstream(records: try DNSIntegrationTests.records(), truncateOverUDP: [])
        try await upstream.start()
        let harness = try await Harness.start(upstreamPort: upstream.port, portal: true)
        do {
            var answer = try await harness.dig(["allowed.example", "A"])
            #expect(answer.rcode == "NOERROR")
            #expect(answer.section("ANSWER").count == 1)
            #expect(answer.section("ANSWER").first?.contains("127.0.0.9") == true, "\(answer.output)")
            #expect(answer.section("ANSWER").first?.split(whereSeparator: \.isWhitespace)[1] == "0")
            answer = try await harness.dig(["ALLOWED.example", "AAAA"])
            #expect(answer.section("ANSWER").first?.contains("fd00::9") == true, "\(answer.output)")
            // No real data leaks before sign-in, for any type; a blocked name leads to the portal too.
            answer = try await harness.dig(["allowed.example", "TXT"])
            #expect(answer.rcode == "NOERROR")
            #expect(answer.section("ANSWER").isEmpty)
            answer = try await harness.dig(["casino.example", "A"])
            #expect(answer.section("ANSWER").first?.contains("127.0.0.9") == true)
            // The names the sign-in needs resolve normally.
            answer = try await harness.dig(["www.allowed.example", "A"])
            #expect(answer.section("ANSWER").first?.contains("192.0.2.11") == true, "\(answer.output)")
            // A client of a zone without sign-in is not sent to the portal.
            answer = try await DigResult.run(["@127.0.0.1", "-p", "\(harness.port)", "-b", "127.0.0.3", "+time=3", "+tries=1", "allowed.example", "A"])
            #expect(answer.section("ANSWER").first?.contains("192.0.2.10") == true, "\(answer.output)")

            // Someone signs in at this address (the portal puts the session in the map at once).
            let person = Person(id: "S1", name: "Ana Lima", role: .student)
            harness.node.identities.open(.init(person: person, expires: unixNow() + 600, source: "portal"), for: IPAddress("127.0.0.1")!)
            answer = try await harness.dig(["allowed.example", "A"])
            #expect(answer.section("ANSWER").first?.contains("192.0.2.10") == true, "\(answer.output)")
            answer = try await harness.dig(["casino.example", "A"])
            #expect(answer.rcode == "NXDOMAIN")
            // The session ends: back to the portal.
            harness.node.identities.close(IPAddress("127.0.0.1")!)
            answer = try await harness.dig(["allowed.example", "A"])
            #expect(answer.section("ANSWER").first?.contains("127.0.0.9") == true, "\(answer.output)")
            let metrics = try await harness.metrics()
            #expect(metrics.contains("steward_dns_portal_answers_total 5\n"), "\(metrics.prefix(2000))")
        } catch {
            await harness.stop()
            await upstream.stop()
            throw error
        }
        await harness.stop()
        await upstream.stop()
    }
}
