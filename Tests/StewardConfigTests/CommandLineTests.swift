import Foundation
import Testing

/// The real `steward` binary, run as an administrator would run it.
@Suite struct CommandLineTests {
    @Test("check --json prints exactly one JSON object with the documented keys")
    func checkJSON() async throws {
        let result = try await runSteward([
            "check", "--user", "S00002", "--domain", "nordvpn.com", "--at", "2026-11-23T10:00", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["decision", "rule", "categories", "clause", "group", "reason"])
        #expect(object["decision"] as? String == "block")
        #expect(object["rule"] as? String == "students-anonymisers")
        #expect((object["categories"] as? [String])?.contains("vpn") == true)
        #expect(object["group"] as? String == "elementary-students")
        let clause = try #require(object["clause"] as? [String: Any])
        #expect(clause["text"] as? String == "Using anonymous proxies to bypass content filtering tools")
        #expect(clause["section"] as? String == "Unacceptable network use by district students")
        #expect((clause["document"] as? String)?.contains("Student Acceptable Use") == true)
    }

    @Test("An allowed destination has null rule and clause in JSON")
    func checkJSONNulls() async throws {
        let result = try await runSteward(["check", "--client", "127.0.0.1", "--domain", "example.org", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["decision"] as? String == "allow")
        #expect(object["rule"] is NSNull)
        #expect(object["clause"] is NSNull)
        #expect(object["group"] as? String == "unidentified")
    }

    @Test(
        "Bad input exits non-zero with a one-line message naming the problem",
        arguments: [
            (["check", "--user", "NOBODY", "--domain", "a.example"], "unknown user 'NOBODY'"),
            (["check", "--user", "S00001", "--url", "http://exa mple.com/"], "malformed URL"),
            (["check", "--user", "S00001", "--domain", "bad..name"], "malformed domain name"),
            (["check", "--client", "300.1.1.1", "--domain", "a.example"], "not an IPv4 or IPv6 address"),
            (["check", "--user", "S00001", "--domain", "a.example", "--at", "tomorrow"], "not an ISO-8601 time"),
            (["check", "--config", "/nonexistent/steward.yaml", "--user", "S1", "--domain", "a.example"], "no such file"),
        ])
    func badInput(arguments: [String], message: String) async throws {
        let result = try await runSteward(arguments)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test("A bad configuration exits non-zero and names the key and line")
    func badConfig() async throws {
        let scratch = try Scratch()
        let file = try scratch.write("steward.yaml", "district:\n  name: X\n  timezone: Nowhere/Place\n")
        let result = try await runSteward(["check", "--config", file, "--user", "S1", "--domain", "a.example"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("steward.yaml:3: district.timezone: unknown time zone 'Nowhere/Place'"))
    }

    @Test("lists stats prints every category with counts, compile time and memory")
    func listStats() async throws {
        let result = try await runSteward(["lists", "stats", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let rows = try #require(object["rows"] as? [[String: Any]])
        let gambling = try #require(rows.first { $0["category"] as? String == "gambling" })
        #expect((gambling["domains"] as? Int ?? 0) > 30_000)
        #expect((object["distinctNames"] as? Int ?? 0) > 340_000)
        #expect(object["compileSeconds"] is Double)
        #expect((object["residentBytes"] as? Int ?? 0) > 0)
        let text = try await runSteward(["lists", "stats"])
        #expect(text.stdout.contains("gambling"))
        #expect(text.stdout.contains("process resident"))
    }

    @Test("config check validates the demo district")
    func configCheck() async throws {
        let result = try await runSteward(["config", "check"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("OK"))
    }
}
