import Foundation
import Testing

@testable import StewardPolicy

/// The built-in `ip-address` category: every destination written as an address is in it, names
/// never are, and a policy can block it for students while an allow-list still opens addresses.
@Suite struct IPAddressCategoryTests {
    /// The fixture's lists, with address entries in the allow-list (`edu`) and in `malware`.
    static func lists() throws -> ListCompiler {
        let files: [(String, String)] = [
            ("gambling", "casino.com\n"), ("adult", "adult.example\n"), ("social", "social.example\n"),
            ("edu", "learn.example\n192.0.2.10\n2001:db8::10\n198.51.100.0/24\n"),
            ("malware", "evil.example\n203.0.113.66\n"),
        ]
        return try listCompiler(files)
    }

    /// The fixture's policy with addresses blocked for students and unidentified clients, below
    /// the educational exceptions.
    static func definition() -> PolicyDefinition {
        var definition = Fixture.definition()
        let exceptions = definition.rules.firstIndex { $0.id == "edu-exceptions" }!
        definition.rules.insert(
            Fixture.rule("students-ip-literals", .block, "the district's own blocks") {
                $0.groups = ["students", "unidentified"]
                $0.categories = [CompiledLists.ipAddressCategory]
            }, at: exceptions + 1)
        return definition
    }

    static let snapshot = try! PolicySnapshot.compile(definition(), lists: lists()).get()

    enum Target: Sendable, CustomStringConvertible {
        case address(String), name(String), url(String, String)
        var description: String {
            switch self {
            case .address(let text): "address \(text)"
            case .name(let text): "name \(text)"
            case .url(let host, let path): "url \(host)\(path)"
            }
        }
        var destination: Destination {
            switch self {
            case .address(let text): .address(IPAddress(text)!)
            case .name(let text): .name(text)
            case .url(let host, let path): .url(host: host, path: URLPath.normalize(path))
            }
        }
    }

    @Test(
        "IP literals are blocked for students unless allow-listed; listed categories still apply",
        arguments: [
            // IPv4 and IPv6, without and with an allow-list entry (exact address or network).
            ("S1", Target.address("192.0.2.99"), RuleAction.block, "students-ip-literals"),
            ("S1", Target.address("192.0.2.10"), .allow, "edu-exceptions"),
            ("S1", Target.address("2001:db8::99"), .block, "students-ip-literals"),
            ("S1", Target.address("2001:db8::10"), .allow, "edu-exceptions"),
            ("S1", Target.address("198.51.100.7"), .allow, "edu-exceptions"),
            // Every way an address reaches `decide` as the destination.
            ("S1", Target.name("192.0.2.99"), .block, "students-ip-literals"),
            ("S1", Target.name("2001:db8::99"), .block, "students-ip-literals"),
            ("S1", Target.url("192.0.2.99", "/setup"), .block, "students-ip-literals"),
            ("S1", Target.url("2001:db8::10", "/lesson"), .allow, "edu-exceptions"),
            ("client:10.1.2.3", Target.address("192.0.2.99"), .block, "students-ip-literals"),
            // Staff are not in the rule; a listed address is still in its own category.
            ("T1", Target.address("192.0.2.99"), .allow, nil),
            ("T1", Target.address("203.0.113.66"), .block, "malware"),
            ("S1", Target.address("203.0.113.66"), .block, "malware"),
        ] as [(String, Target, RuleAction, String?)])
    func addressDecisions(who: String, target: Target, action: RuleAction, rule: String?) throws {
        let snapshot = Self.snapshot
        let subject: Subject
        var zone: Int32 = -1
        if who.hasPrefix("client:") {
            zone = snapshot.zone(for: try #require(IPAddress(String(who.dropFirst(7)))))
            subject = snapshot.subject(forZone: zone)
        } else {
            subject = snapshot.subject(for: try #require(snapshot.person(id: who)))
        }
        let instant = Int64(Fixture.date("2026-11-23T15:00:00Z").timeIntervalSince1970)
        let decision = snapshot.decide(target.destination, subject: subject, zone: zone, at: instant)
        #expect(decision.action == action)
        #expect(snapshot.rule(at: decision.rule)?.id == rule)
        #expect(snapshot.explain(decision, subject: subject).categories.contains(CompiledLists.ipAddressCategory))
    }

    @Test("An IPv4 or IPv6 literal is in ip-address as well as in every list entry naming it")
    func addressCategories() throws {
        let lists = Self.snapshot.lists
        func names(_ text: String) -> Set<String> { Set(lists.names(of: lists.categories(ofAddress: IPAddress(text)!))) }
        func listed(_ text: String) -> Set<String> { Set(lists.names(of: lists.listedCategories(ofAddress: IPAddress(text)!))) }
        #expect(names("192.0.2.10") == ["edu", "ip-address"])
        #expect(names("192.0.2.99") == ["ip-address"])
        #expect(names("2001:db8::10") == ["edu", "ip-address"])
        #expect(names("2001:db8::99") == ["ip-address"])
        #expect(names("198.51.100.250") == ["edu", "ip-address"])
        // What the DNS filter checks for the addresses in an answer: the list entries only.
        #expect(listed("192.0.2.10") == ["edu"])
        #expect(listed("192.0.2.99").isEmpty)
        #expect(listed("2001:db8::99").isEmpty)
        let host = lists.categories(ofHost: "192.0.2.99", normalizedPath: "/")
        #expect(lists.names(of: host) == ["ip-address"])
    }

    @Test("A name is never in ip-address, not even one that looks like an address", arguments: [
        "learn.example", "casino.com", "nothing.example", "192.0.2.99", "192.0.2.99.example", "2001-db8--99.example",
    ])
    func namesAreNotAddresses(name: String) throws {
        let snapshot = Self.snapshot
        let lists = snapshot.lists
        #expect(!lists.categories(ofName: name).contains(lists.ipAddressIndex))
        // The DNS hot path decides names from their bytes, so a query for "192.0.2.99" is a name.
        let subject = snapshot.subject(for: try #require(snapshot.person(id: "S1")))
        let decision = Array(name.utf8).withUnsafeBytes { snapshot.decide(name: $0, subject: subject, zone: -1, at: 1_795_000_000) }
        #expect(!decision.categories.contains(lists.ipAddressIndex))
        #expect(snapshot.rule(at: decision.rule)?.id != "students-ip-literals")
        if name.hasSuffix(".example") || name.hasSuffix(".com") {
            let byString = snapshot.decide(.name(name), subject: subject, zone: -1, at: 1_795_000_000)
            #expect(!byString.categories.contains(lists.ipAddressIndex))
        }
    }

    @Test("Every compiled list set has the built-in category: no lists, lists, and the empty set")
    func alwaysPresent() throws {
        let bare = ListCompiler().build()
        let fixture = Self.snapshot.lists
        for lists in [bare, CompiledLists.empty, fixture] {
            let info = try #require(lists.category(named: "ip-address"))
            #expect(info.kind == .builtIn)
            #expect(info.kind.rawValue == "built-in")
            #expect(info.index == lists.ipAddressIndex)
            #expect(lists.categories[info.index] == info)
            #expect(lists.stats.count == lists.categories.count)
            #expect(lists.stats[info.index] == CategoryStats())
            #expect(lists.categories.filter { $0.kind == .builtIn }.count == 1)
            #expect(lists.listCategoryNames(of: lists.categories(ofAddress: IPAddress("10.9.8.7")!)) == ["ip-address"])
        }
        #expect(CompiledLists.empty.categories.count == 1)
        // After the lists, before the rules' inline lists, so that list indexes do not move.
        #expect(fixture.category(named: "gambling")?.index == 0)
        #expect(fixture.ipAddressIndex == 5)
        #expect(fixture.category(named: "rule:district-inline")!.index > fixture.ipAddressIndex)
    }

    @Test("A list cannot take the built-in name, and the built-in always fits")
    func reservedName() throws {
        var compiler = ListCompiler()
        #expect(throws: ListCompiler.Problem.reservedCategory("ip-address")) {
            try compiler.addCategory(name: "ip-address", source: "ip-address.txt")
        }
        #expect(throws: ListCompiler.Problem.reservedCategory("ip-address")) {
            try compiler.addCategory(name: "ip-address", kind: .inline, source: "rule")
        }
        for index in 0..<(BitSet512.capacity - 1) { _ = try compiler.addCategory(name: "c\(index)", source: "c") }
        #expect(throws: ListCompiler.Problem.self) { try compiler.addCategory(name: "one-too-many", source: "c") }
        let lists = compiler.build()
        #expect(lists.ipAddressIndex == BitSet512.capacity - 1)
        #expect(lists.categories.count == BitSet512.capacity)
    }

    @Test("Rules name ip-address like any category, with a suggestion when misspelt")
    func rulesNameIt() throws {
        var definition = Self.definition()
        definition.rules.append(Fixture.rule("typo", .block, "the district's own blocks") { $0.categories = ["ip-adress"] })
        let problems = try #require(PolicySnapshot.compile(definition, lists: Self.lists()).failure?.problems)
        #expect(problems.count == 1)
        #expect(problems.first?.message.contains("did you mean 'ip-address'") == true)
    }
}

/// `except:` in a rule's match: the rule does not apply to the groups and people it names, and
/// everything below it still does (R4's download permission).
@Suite struct RuleExceptTests {
    static func definition() -> PolicyDefinition {
        var definition = Fixture.definition()
        definition.groups.append(GroupDefinition(id: "download-permitted", name: "Permitted to download software", members: ["S3", "T1"]))
        definition.people.append(Person(id: "S2", name: "Student Two", role: .student, building: "hs", grade: Grade("11")))
        definition.people.append(Person(id: "S3", name: "Student Three", role: .student, building: "hs", grade: Grade("12")))
        definition.rules.removeAll { $0.id == "students-downloads" }
        definition.rules.insert(
            Fixture.rule("students-downloads", .block, "no downloads without permission") {
                $0.groups = ["students"]
                $0.fileTypes = ["exe"]
                $0.exceptGroups = ["download-permitted"]
                $0.exceptPeople = ["S2"]
            }, at: 0)
        definition.rules.append(
            Fixture.rule("staff-downloads", .block, "no downloads without permission") {
                $0.groups = ["staff"]
                $0.fileTypes = ["exe"]
                $0.exceptGroups = ["download-permitted"]
            })
        return definition
    }

    static let snapshot = try! PolicySnapshot.compile(definition(), lists: Fixture.lists()).get()

    func decide(_ who: String, _ name: String, file: FileInfo? = FileInfo(fileExtension: "exe")) throws -> (Decision, Explanation) {
        let snapshot = Self.snapshot
        let subject = snapshot.subject(for: try #require(snapshot.person(id: who)))
        let instant = Int64(Fixture.date("2026-11-23T15:00:00Z").timeIntervalSince1970)
        let decision = snapshot.decide(.name(name), subject: subject, zone: -1, at: instant, file: file)
        return (decision, snapshot.explain(decision, subject: subject))
    }

    @Test("A person who is not excepted is blocked from downloading")
    func notExcepted() throws {
        let (decision, explanation) = try decide("S1", "files.example")
        #expect(decision.action == .block)
        #expect(explanation.rule == "students-downloads")
        #expect(explanation.clause?.text == "no downloads without permission")
        #expect(decision.exceptedRule == -1)
        #expect(!explanation.reason.contains("does not apply"))
    }

    @Test("A person excepted by id passes the download block, and the explanation says why")
    func exceptedByPerson() throws {
        let (decision, explanation) = try decide("S2", "files.example")
        #expect(decision.action == .allow)
        #expect(decision.cause == .defaultAction)
        #expect(explanation.reason.contains("rule 'students-downloads' does not apply: S2 is excepted from it by name"))
    }

    @Test("A member of an excepted group passes the download block, students and staff alike", arguments: ["S3", "T1"])
    func exceptedByGroup(who: String) throws {
        let (decision, explanation) = try decide(who, "files.example")
        #expect(decision.action == .allow)
        #expect(decision.cause == .defaultAction)
        #expect(explanation.reason.contains("the group 'Permitted to download software' is excepted from it"))
    }

    @Test("An excepted person still meets every category block below the rule, and the CIPA safeguard")
    func categoryBlocksStillApply() throws {
        for who in ["S2", "S3"] {
            let (gambling, explanation) = try decide(who, "casino.com")
            #expect(gambling.action == .block, "\(who)")
            #expect(explanation.rule == "students-gambling", "\(who)")
            #expect(explanation.reason.contains("rule 'students-downloads' does not apply"), "\(who)")
            let (malware, _) = try decide(who, "evil.example")
            #expect(malware.action == .block, "\(who)")
            let (adult, adultExplanation) = try decide(who, "adult.example")
            #expect(adult.action == .block, "\(who)")
            #expect(adult.cause == .cipa, "\(who)")
            #expect(adultExplanation.clause?.text == "harmful to minors is filtered")
        }
        // A staff member excepted from the staff download rule is still flagged for gambling.
        let (flag, _) = try decide("T1", "casino.com")
        #expect(flag.action == .flag)
    }

    @Test("Without a download, the exception changes nothing")
    func onlyWhenTheRuleWouldMatch() throws {
        let (decision, explanation) = try decide("S3", "files.example", file: nil)
        #expect(decision.action == .allow)
        #expect(decision.exceptedRule == -1)
        #expect(!explanation.reason.contains("does not apply"))
    }

    @Test("An allow rule with an exception does not allow the excepted group")
    func allowWithExcept() throws {
        var definition = Fixture.definition()
        let index = definition.rules.firstIndex { $0.id == "edu-exceptions" }!
        definition.rules[index].match.exceptPeople = ["S1"]
        let snapshot = try PolicySnapshot.compile(definition, lists: Fixture.lists()).get()
        let subject = snapshot.subject(for: try #require(snapshot.person(id: "S1")))
        let decision = snapshot.decide(.name("learn.example"), subject: subject, zone: -1, at: 1_795_000_000)
        #expect(decision.cause == .defaultAction)
        let unidentified = snapshot.subject(forZone: snapshot.zone(for: IPAddress("10.1.1.1")!))
        #expect(snapshot.decide(.name("learn.example"), subject: unidentified, zone: 0, at: 1_795_000_000).cause == .rule)
    }

    @Test("An unknown group in except is a compile error naming its key path; an empty person id too")
    func unknownExceptGroup() throws {
        var definition = Self.definition()
        definition.rules[0].match.exceptGroups = ["download-permitted", "ghosts"]
        definition.rules[0].match.exceptPeople = ["S2", " "]
        let problems = try #require(PolicySnapshot.compile(definition, lists: Fixture.lists()).failure?.problems)
        #expect(problems.map(\.path).sorted() == ["rules[0].match.except.groups[1]", "rules[0].match.except.people[1]"])
        #expect(problems.first { $0.path.hasSuffix("groups[1]") }?.message == "unknown group 'ghosts'")
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
