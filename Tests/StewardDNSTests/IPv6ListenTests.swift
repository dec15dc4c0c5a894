import Foundation
import NIOCore
import Testing

/// The server on IPv6 as well as IPv4: `[::1]:port` answers over UDP and TCP, for a client whose
/// zone is an IPv6 network.
@Suite(.serialized) struct IPv6ListenTests {
    @Test("Listening on [::1] answers dig over UDP and TCP, and blocks by policy there too")
    func ipv6() async throws {
        let upstream = IntegrationUpstream(records: try DNSIntegrationTests.records(), truncateOverUDP: [])
        try await upstream.start()
        let harness = try await Harness.start(upstreamPort: upstream.port, listen: ["127.0.0.1:0", "[::1]:0"])
        do {
            let bound = await harness.node.dnsServer!.boundAddresses()
            let v6 = try #require(bound.udp.first { $0.protocol == .inet6 })
            let v6tcp = try #require(bound.tcp.first { $0.protocol == .inet6 })
            let port = try #require(v6.port)
            let base = ["@::1", "-p", "\(port)", "+time=3", "+tries=1"]
            let udp = try await DigResult.run(base + ["allowed.example", "A"])
            #expect(udp.rcode == "NOERROR", "\(udp.output)")
            #expect(udp.section("ANSWER").contains { $0.contains("192.0.2.10") })
            let tcp = try await DigResult.run(["@::1", "-p", "\(v6tcp.port ?? 0)", "+tcp", "+time=3", "+tries=1", "allowed.example", "A"])
            #expect(tcp.rcode == "NOERROR", "\(tcp.output)")
            let blocked = try await DigResult.run(base + ["casino.example", "AAAA"])
            #expect(blocked.rcode == "NXDOMAIN", "\(blocked.output)")
        } catch {
            await harness.stop()
            await upstream.stop()
            throw error
        }
        await harness.stop()
        await upstream.stop()
    }
}
