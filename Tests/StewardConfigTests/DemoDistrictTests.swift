import Foundation
import StewardConfig
import StewardPolicy
import StewardServer
import Testing

/// The shipped demo district, decided as a district administrator would check it. Every case names
/// the rule and words of the clause it must cite.
@Suite struct DemoDistrictTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var user: String? = nil
        var client: String? = nil
        var domain: String? = nil
        var url: String? = nil
        /// Monday 2026-11-23, 10:00 in New York: school hours.
        var at = "2026-11-23T10:00"
        var decision: String
        var rule: String?
        var clause: String?
        var testDescription: String {
            "\(user ?? client ?? "?") → \(domain ?? url ?? "?") at \(at): \(decision)"
        }
    }

    static let cases: [Case] = [
        Case(user: "S00001", domain: "www.888casino.com", decision: "block", rule: "students-non-educational", clause: "games, wagering, gambling"),
        Case(user: "S00001", domain: "WWW.888Casino.COM.", decision: "block", rule: "students-non-educational", clause: "games, wagering, gambling"),
        Case(user: "S00002", domain: "coolmathgames.com", decision: "allow", rule: "students-educational-exceptions", clause: nil),
        Case(user: "S00002", domain: "www.coolmathgames.com", decision: "allow", rule: "students-educational-exceptions", clause: nil),
        Case(user: "S00002", domain: "nordvpn.com", decision: "block", rule: "students-anonymisers", clause: "Using anonymous proxies to bypass content filtering tools"),
        Case(user: "S00002", domain: "dns.google", decision: "block", rule: "students-anonymisers", clause: "Using anonymous proxies to bypass content filtering tools"),
        Case(user: "S00001", domain: "pornhub.com", decision: "block", rule: nil, clause: "technology protection measure to block or filter Internet access"),
        Case(user: "T00001", domain: "www.pornhub.com", decision: "block", rule: nil, clause: "technology protection measure to block or filter Internet access"),
        Case(user: "T00001", domain: "www.888casino.com", decision: "block", rule: "staff-gambling", clause: "Any use for private financial gain"),
        Case(user: "T00001", domain: "nordvpn.com", decision: "allow", rule: nil, clause: nil),
        Case(user: "S00003", domain: "khanacademy.org", decision: "block", rule: nil, clause: "after such access has been denied or revoked"),
        Case(user: "S00002", domain: "www.facebook.com", decision: "block", rule: "students-social-younger", clause: "games, wagering, gambling"),
        Case(user: "S00002", domain: "www.facebook.com", at: "2026-11-28T10:00", decision: "allow", rule: nil, clause: nil),
        Case(user: "S00001", domain: "www.facebook.com", decision: "warn", rule: "students-social-high-school", clause: "social networking sites and groups"),
        Case(user: "S00001", url: "http://downloads.example.org/tools/setup.EXE", decision: "block", rule: "students-downloads", clause: "Downloading, installation and use of games"),
        Case(user: "T00001", url: "http://downloads.example.org/tools/setup.msi", decision: "block", rule: "staff-installers", clause: "Downloading or loading software or applications"),
        Case(user: "S00001", url: "http://0001-5cf.pages.dev/awards/2026", decision: "block", rule: "everyone-malware", clause: "Hacking, cracking, vandalizing"),
        Case(user: "S00001", url: "http://0001-5cf.pages.dev/about", decision: "allow", rule: nil, clause: nil),
        Case(user: "T00001", domain: "proxysite.example", decision: "block", rule: "everyone-district-blocked", clause: "Any attempt to access unauthorized sites"),
        Case(client: "10.50.3.3", domain: "nordvpn.com", decision: "block", rule: "students-anonymisers", clause: "Using anonymous proxies"),
        Case(client: "10.50.3.3", domain: "www.888casino.com", decision: "block", rule: "guests-non-educational", clause: "All visitors who choose to use the HPS network"),
        Case(client: "10.10.1.1", domain: "www.888casino.com", decision: "block", rule: "students-non-educational", clause: "games, wagering, gambling"),
        Case(client: "127.0.0.1", domain: "chatgpt.com", decision: "allow", rule: nil, clause: nil),
        Case(user: "S00001", domain: "files.wetransfer.com", decision: "flag", rule: "students-filehosting", clause: "distribution of any personal files"),
        // An address instead of a name: blocked for students and unidentified devices, not for staff;
        // a listed address cites its own category's rule.
        Case(user: "S00001", url: "http://93.184.216.34/", decision: "block", rule: "students-ip-literals", clause: "Using anonymous proxies to bypass content filtering tools"),
        Case(user: "S00002", url: "http://[2001:db8::1]/index.html", decision: "block", rule: "students-ip-literals", clause: "Using anonymous proxies"),
        Case(user: "S00001", domain: "93.184.216.34", decision: "block", rule: "students-ip-literals", clause: "Using anonymous proxies"),
        Case(client: "10.10.1.1", url: "http://93.184.216.34/", decision: "block", rule: "students-ip-literals", clause: "Using anonymous proxies"),
        Case(client: "10.10.1.1", url: "http://1.1.1.1/dns-query", decision: "block", rule: "students-anonymisers", clause: "Using anonymous proxies"),
        Case(user: "T00001", url: "http://93.184.216.34/", decision: "allow", rule: nil, clause: nil),
        // Downloads with permission (R4): the download rules except the permitted group, whose
        // members still meet every category block; an allow-listed site serves no installer.
        Case(user: "S10224", url: "http://downloads.example.org/tools/setup.EXE", decision: "allow", rule: nil, clause: nil),
        Case(user: "S10224", url: "http://www.888casino.com/setup.exe", decision: "block", rule: "students-non-educational", clause: "games, wagering, gambling"),
        Case(user: "T2044", url: "http://downloads.example.org/tools/setup.msi", decision: "allow", rule: nil, clause: nil),
        Case(user: "T2045", url: "http://www.888casino.com/setup.msi", decision: "block", rule: "staff-gambling", clause: "Any use for private financial gain"),
        Case(user: "S00002", url: "http://www.coolmathgames.com/setup.exe", decision: "block", rule: "students-downloads", clause: "without permission or approval"),
    ]

    @Test("The demo district's decisions cite the right rule and clause", arguments: cases)
    func decision(_ testCase: Case) throws {
        let check = DecisionCheck(
            user: testCase.user, client: testCase.client, url: testCase.url, domain: testCase.domain, at: testCase.at)
        let outcome = try check.run(on: demoDistrict.snapshot)
        let explanation = outcome.explanation
        #expect(explanation.decision == testCase.decision, "\(explanation.reason)")
        #expect(explanation.rule == testCase.rule)
        if let clause = testCase.clause {
            #expect(explanation.clause?.text.contains(clause) == true, "clause was \(String(describing: explanation.clause))")
        } else {
            #expect(explanation.clause == nil)
        }
    }

    @Test("The shipped lists load with the UT1 snapshot's categories and counts")
    func shippedLists() {
        let lists = demoDistrict.snapshot.lists
        let ut1 = Repository.root.appendingPathComponent("lists/ut1")
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: ut1.path))?.filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: ut1.appendingPathComponent(name).path, isDirectory: &isDirectory)
                && isDirectory.boolValue
        } ?? []
        #expect(folders.count > 60)
        // One category per UT1 folder plus the demo's three list files.
        #expect(lists.categories.filter { $0.kind == .list }.count == folders.count + 3)
        #expect(lists.nameCount > 340_000)
        #expect(lists.category(named: "gambling")?.usage == ["black"])
        let gambling = lists.stats[lists.category(named: "gambling")!.index]
        #expect(gambling.domains > 30_000)
        #expect(lists.categoryNames(ofName: "www.888casino.com").contains("gambling"))
    }

    @Test("The built-in ip-address category is listed by lists stats: built-in, no entries")
    func ipAddressInStatistics() throws {
        let rows = ListStatistics(demoDistrict).rows
        let row = try #require(rows.first { $0.category == "ip-address" })
        #expect(row.kind == "built-in")
        let counts: [Int] = [row.domains, row.urls, row.addresses, row.duplicates, row.rejected]
        #expect(counts == [0, 0, 0, 0, 0])
        #expect(rows.filter { $0.category == "ip-address" }.count == 1)
    }

    @Test("The exception for download permission is explained by steward check")
    func downloadPermissionExplained() throws {
        let check = DecisionCheck(user: "S10224", url: "http://downloads.example.org/tools/setup.exe", at: "2026-11-23T10:00")
        let explanation = try check.run(on: demoDistrict.snapshot).explanation
        #expect(explanation.reason.contains("rule 'students-downloads' does not apply"))
        #expect(explanation.reason.contains("Permitted to download software"))
    }

    @Test("The demo roster has a few hundred people over three buildings")
    func roster() {
        let people = demoDistrict.configuration.policy.people
        #expect(people.count >= 300)
        #expect(Set(people.compactMap(\.building)).isSuperset(of: ["lincoln-es", "jefferson-ms", "roosevelt-hs"]))
    }

    @Test("Check refuses unknown people, malformed names and URLs, and clients outside every zone")
    func checkRefusals() {
        let snapshot = demoDistrict.snapshot
        #expect(throws: StewardError.self) { try DecisionCheck(user: "nobody", domain: "a.example").run(on: snapshot) }
        #expect(throws: StewardError.self) { try DecisionCheck(user: "S00001", domain: "bad name").run(on: snapshot) }
        #expect(throws: StewardError.self) { try DecisionCheck(user: "S00001", url: "http://[::1/").run(on: snapshot) }
        #expect(throws: StewardError.self) { try DecisionCheck(client: "203.0.113.9", domain: "a.example").run(on: snapshot) }
        #expect(throws: StewardError.self) { try DecisionCheck(client: "999.1.1.1", domain: "a.example").run(on: snapshot) }
        #expect(throws: StewardError.self) { try DecisionCheck(user: "S00001", domain: "a.example", at: "yesterday").run(on: snapshot) }
        #expect(throws: StewardError.self) { try DecisionCheck(user: "S00001").run(on: snapshot) }
    }
}
extension CompiledLists {
    func categoryNames(ofName name: String) -> [String] { names(of: categories(ofName: name)) }
}
