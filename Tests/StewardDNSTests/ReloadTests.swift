import Foundation
import Testing

/// R1: the filter is always on. A changed policy takes effect without a restart; a broken one never
/// replaces the policy in force.
@Suite(.serialized) struct ReloadTests {
    @Test("A changed list takes effect without a restart; a broken configuration keeps the old policy serving")
    func reloadOnChange() async throws {
        try await DNSIntegrationTests().withNode { node, _ in
        #expect(try await node.dig(["allowed.example", "A"]).rcode == "NOERROR")
        let generation = node.node.holder.generation

        // The district adds a name to its gambling list.
        let list = node.directory.appendingPathComponent("gambling.txt")
        try "casino.example\nbet.example\nallowed.example\n".write(to: list, atomically: true, encoding: .utf8)
        var reloaded = false
        for _ in 0..<50 where !reloaded {
            try await Task.sleep(for: .milliseconds(200))
            reloaded = node.node.holder.generation > generation
        }
        #expect(reloaded, "the policy was not reloaded after the list changed")
        let blocked = try await node.dig(["www.allowed.example", "A"])
        #expect(blocked.rcode == "NXDOMAIN", "\(blocked.output)")

        // A configuration with a mistake: the old policy keeps answering.
        let config = node.directory.appendingPathComponent("steward.yaml")
        let good = try String(contentsOf: config, encoding: .utf8)
        try (good + "\nnot-a-key: [\n").write(to: config, atomically: true, encoding: .utf8)
        let afterGood = node.node.holder.generation
        try await Task.sleep(for: .seconds(3))
        #expect(node.node.holder.generation == afterGood)
        #expect(try await node.dig(["www.allowed.example", "A"]).rcode == "NXDOMAIN")
        #expect(try await node.dig(["casino.example", "A"]).rcode == "NXDOMAIN")
        }
    }
}
