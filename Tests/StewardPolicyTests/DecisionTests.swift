import Foundation
import Testing

@testable import StewardPolicy

/// A small district policy exercising every kind of condition, built in code.
enum Fixture {
    static let documentText = """
        Clause A: no hacking or viruses. Clause B: no gambling. Clause C: no social media in class.
        Clause D: no downloads without permission. Clause E: personal gain is watched.
        Clause F: the district's own blocks. Clause G: visitors follow the policy.
        Clause H: evenings are for homework. CIPA clause: harmful to minors is filtered.
        Revocation clause: using the network after access is revoked.
        Work only: the Superintendent may eliminate personal use.
        """

    static func clause(_ text: String) -> Clause { Clause(document: "aup", section: "Test", text: text) }

    static func rule(
        _ id: String, _ action: RuleAction, _ clauseText: String?, configure: (inout RuleMatch) -> Void
    ) -> RuleDefinition {
        var match = RuleMatch()
        configure(&match)
        return RuleDefinition(id: id, action: action, match: match, clause: clauseText.map(clause))
    }

    static func definition() -> PolicyDefinition {
        var definition = PolicyDefinition()
        definition.timeZone = "America/New_York"
        definition.documents = [PolicyDocument(id: "aup", title: "Test AUP", text: documentText)]
        definition.groups = [
            GroupDefinition(id: "students", roles: [.student]),
            GroupDefinition(id: "staff", roles: [.teacher, .staff]),
            GroupDefinition(id: "guests", roles: [.guest]),
            GroupDefinition(id: "unidentified"),
            GroupDefinition(id: "work-only-staff", members: ["T2"], workOnly: true),
        ]
        definition.zones = [
            ZoneDefinition(id: "school", networks: [IPNetwork("10.0.0.0/8")!], defaultGroup: "unidentified"),
            ZoneDefinition(id: "guest-wifi", networks: [IPNetwork("192.168.0.0/16")!], defaultGroup: "guests"),
        ]
        definition.schedules = [
            ScheduleDefinition(id: "school-hours", windows: [.init(days: [1, 2, 3, 4, 5], start: 8 * 60, end: 15 * 60)]),
            ScheduleDefinition(id: "night", windows: [.init(days: [1, 2, 3, 4, 5], start: 22 * 60, end: 6 * 60)]),
        ]
        definition.cipaCategories = ["adult"]
        definition.cipaClause = clause("harmful to minors is filtered")
        definition.revocationClause = clause("using the network after access is revoked")
        definition.personalUseCategories = ["social"]
        definition.workOnlyClause = clause("the Superintendent may eliminate personal use")
        definition.rules = [
            rule("malware", .block, "no hacking or viruses") { $0.categories = ["malware"] },
            rule("edu-exceptions", .allow, nil) {
                $0.groups = ["students", "unidentified"]
                $0.categories = ["edu"]
            },
            rule("students-gambling", .block, "no gambling") {
                $0.groups = ["students", "unidentified"]
                $0.categories = ["gambling"]
            },
            rule("students-social-class", .block, "no social media in class") {
                $0.groups = ["students"]
                $0.categories = ["social"]
                $0.during = ["school-hours"]
            },
            rule("students-social-night", .warn, "evenings are for homework") {
                $0.groups = ["students"]
                $0.categories = ["social"]
                $0.during = ["night"]
            },
            rule("staff-adult-research", .allow, nil) {
                $0.groups = ["staff"]
                $0.categories = ["adult"]
            },
            rule("students-downloads", .block, "no downloads without permission") {
                $0.groups = ["students"]
                $0.fileTypes = ["exe"]
                $0.mimeTypes = ["video/*"]
            },
            rule("staff-gambling-flag", .flag, "personal gain is watched") {
                $0.groups = ["staff"]
                $0.categories = ["gambling"]
            },
            rule("district-inline", .block, "the district's own blocks") {
                $0.domains = ["inline-blocked.example"]
                $0.urls = ["news.example/forbidden/"]
            },
            rule("guest-wifi-social", .block, "visitors follow the policy") {
                $0.zones = ["guest-wifi"]
                $0.categories = ["social"]
            },
        ]
        definition.people = [
            Person(id: "S1", name: "Student One", role: .student, building: "hs", grade: Grade("10")),
            Person(id: "T1", name: "Teacher One", role: .teacher),
            Person(id: "T2", name: "Teacher Two", role: .teacher),
            Person(id: "G1", name: "Guest One", role: .guest),
            Person(
                id: "R1", name: "Revoked Until Later", role: .student,
                status: .revoked(until: date("2026-12-15T00:00:00Z"), reason: "incident IR-1")),
            Person(
                id: "R2", name: "Revocation Over", role: .student,
                status: .revoked(until: date("2026-01-15T00:00:00Z"), reason: "incident IR-0")),
            Person(id: "R3", name: "Revoked Indefinitely", role: .student, status: .revoked(until: nil, reason: "IR-2")),
            Person(id: "X1", name: "Left The District", role: .staff, status: .inactive),
        ]
        return definition
    }

    static func lists() throws -> ListCompiler {
        let files: [(String, String)] = [
            ("gambling", "casino.com\n"), ("adult", "adult.example\nedu-adult.example\n"),
            ("social", "social.example\n"), ("edu", "learn.example\nedu-adult.example\n"),
            ("malware", "evil.example\nlearn-evil.learn.example\n"),
        ]
        return try listCompiler(files)
    }

    static func snapshot(_ definition: PolicyDefinition = definition()) throws -> PolicySnapshot {
        try PolicySnapshot.compile(definition, lists: lists()).get()
    }

    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
}

@Suite struct DecisionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var who: String
        var destination: String
        /// ISO 8601; the default is a Monday at 10:00 in New York (school hours).
        var at = "2026-11-23T15:00:00Z"
        var file: FileInfo? = nil
        var action: RuleAction
        var cause: DecisionCause
        var rule: String? = nil
        /// The exact words of the clause the decision must cite (nil: none).
        var clause: String? = nil
        var testDescription: String { "\(who) → \(destination) at \(at): \(action.rawValue)" }
    }

    static let cases: [Case] = [
        Case(who: "S1", destination: "casino.com", action: .block, cause: .rule, rule: "students-gambling", clause: "no gambling"),
        Case(who: "S1", destination: "www.CASINO.com", action: .block, cause: .rule, rule: "students-gambling", clause: "no gambling"),
        Case(who: "S1", destination: "notcasino.com", action: .allow, cause: .defaultAction),
        Case(who: "T1", destination: "casino.com", action: .flag, cause: .rule, rule: "staff-gambling-flag", clause: "personal gain is watched"),
        Case(who: "S1", destination: "evil.example", action: .block, cause: .rule, rule: "malware", clause: "no hacking or viruses"),
        // The earlier rule wins: the exception is below the malware rule, so a malware subdomain of
        // an educational site stays blocked.
        Case(who: "S1", destination: "learn-evil.learn.example", action: .block, cause: .rule, rule: "malware", clause: "no hacking or viruses"),
        Case(who: "S1", destination: "learn.example", action: .allow, cause: .rule, rule: "edu-exceptions"),
        // An allow rule cannot open a CIPA category to a student: the safeguard blocks.
        Case(who: "S1", destination: "edu-adult.example", action: .block, cause: .cipa, clause: "harmful to minors is filtered"),
        Case(who: "S1", destination: "adult.example", action: .block, cause: .cipa, clause: "harmful to minors is filtered"),
        Case(who: "G1", destination: "adult.example", action: .block, cause: .cipa, clause: "harmful to minors is filtered"),
        Case(who: "client:10.1.2.3", destination: "adult.example", action: .block, cause: .cipa, clause: "harmful to minors is filtered"),
        // An adult is allowed only by a rule that names the CIPA category itself.
        Case(who: "T1", destination: "adult.example", action: .allow, cause: .rule, rule: "staff-adult-research"),
        Case(who: "T1", destination: "edu-adult.example", action: .allow, cause: .rule, rule: "staff-adult-research"),
        // Schedules in the district's time zone.
        Case(who: "S1", destination: "social.example", action: .block, cause: .rule, rule: "students-social-class", clause: "no social media in class"),
        Case(who: "S1", destination: "social.example", at: "2026-11-28T15:00:00Z", action: .allow, cause: .defaultAction),
        Case(who: "S1", destination: "social.example", at: "2026-11-24T04:30:00Z", action: .warn, cause: .rule, rule: "students-social-night", clause: "evenings are for homework"),
        Case(who: "S1", destination: "social.example", at: "2026-11-25T08:00:00Z", action: .warn, cause: .rule, rule: "students-social-night", clause: "evenings are for homework"),
        Case(who: "S1", destination: "social.example", at: "2026-11-23T20:00:00Z", action: .allow, cause: .defaultAction),
        // Daylight saving: Monday 2026-03-09 08:30 EDT is 12:30 UTC; Friday 2026-03-06 08:30 EST is 13:30 UTC.
        Case(who: "S1", destination: "social.example", at: "2026-03-09T12:30:00Z", action: .block, cause: .rule, rule: "students-social-class", clause: "no social media in class"),
        Case(who: "S1", destination: "social.example", at: "2026-03-06T13:30:00Z", action: .block, cause: .rule, rule: "students-social-class", clause: "no social media in class"),
        Case(who: "S1", destination: "social.example", at: "2026-03-06T12:30:00Z", action: .allow, cause: .defaultAction),
        // Downloads (proxy): by extension or MIME type.
        Case(who: "S1", destination: "files.example", file: FileInfo(fileExtension: "EXE"), action: .block, cause: .rule, rule: "students-downloads", clause: "no downloads without permission"),
        Case(who: "S1", destination: "files.example", file: FileInfo(mimeType: "video/mp4"), action: .block, cause: .rule, rule: "students-downloads", clause: "no downloads without permission"),
        Case(who: "S1", destination: "files.example", file: FileInfo(fileExtension: "pdf", mimeType: "application/pdf"), action: .allow, cause: .defaultAction),
        Case(who: "S1", destination: "files.example", action: .allow, cause: .defaultAction),
        Case(who: "T1", destination: "files.example", file: FileInfo(fileExtension: "exe"), action: .allow, cause: .defaultAction),
        // A rule's own domains and URLs.
        Case(who: "T1", destination: "cdn.inline-blocked.example", action: .block, cause: .rule, rule: "district-inline", clause: "the district's own blocks"),
        Case(who: "T1", destination: "url:news.example/forbidden/story", action: .block, cause: .rule, rule: "district-inline", clause: "the district's own blocks"),
        Case(who: "T1", destination: "url:news.example/allowed/story", action: .allow, cause: .defaultAction),
        // Zones: a client nobody has identified gets its zone's default group; rules may name zones.
        Case(who: "client:192.168.4.4", destination: "social.example", action: .block, cause: .rule, rule: "guest-wifi-social", clause: "visitors follow the policy"),
        Case(who: "client:10.9.9.9", destination: "casino.com", action: .block, cause: .rule, rule: "students-gambling", clause: "no gambling"),
        Case(who: "client:10.9.9.9", destination: "social.example", action: .allow, cause: .defaultAction),
        // Revocation (R13), inactive accounts, work only (R20).
        Case(who: "R1", destination: "learn.example", action: .block, cause: .revoked, clause: "using the network after access is revoked"),
        Case(who: "R2", destination: "learn.example", action: .allow, cause: .rule, rule: "edu-exceptions"),
        Case(who: "R3", destination: "learn.example", at: "2031-01-01T12:00:00Z", action: .block, cause: .revoked, clause: "using the network after access is revoked"),
        Case(who: "X1", destination: "learn.example", action: .block, cause: .inactive),
        Case(who: "T2", destination: "social.example", action: .block, cause: .workOnly, clause: "the Superintendent may eliminate personal use"),
        Case(who: "T2", destination: "casino.com", action: .flag, cause: .rule, rule: "staff-gambling-flag", clause: "personal gain is watched"),
    ]

    static let snapshot = try! Fixture.snapshot()

    @Test("Decisions name their rule and clause", arguments: cases)
    func decision(_ testCase: Case) throws {
        let snapshot = Self.snapshot
        var zone: Int32 = -1
        let subject: Subject
        if testCase.who.hasPrefix("client:") {
            zone = snapshot.zone(for: try #require(IPAddress(String(testCase.who.dropFirst(7)))))
            subject = snapshot.subject(forZone: zone)
        } else {
            subject = snapshot.subject(for: try #require(snapshot.person(id: testCase.who)))
        }
        let destination: Destination
        if testCase.destination.hasPrefix("url:") {
            let target = try RequestTarget.parse(String(testCase.destination.dropFirst(4))).get()
            destination = .url(host: target.host, path: target.path)
        } else {
            destination = .name(testCase.destination)
        }
        let instant = Int64(Fixture.date(testCase.at).timeIntervalSince1970)
        let decision = snapshot.decide(destination, subject: subject, zone: zone, at: instant, file: testCase.file)
        let explanation = snapshot.explain(decision, subject: subject)
        #expect(decision.action == testCase.action)
        #expect(decision.cause == testCase.cause)
        #expect(explanation.rule == testCase.rule)
        #expect(explanation.clause?.text == testCase.clause)
        if testCase.clause != nil { #expect(explanation.clause?.document == "Test AUP") }
    }

    @Test("The byte-level hot path agrees with the string path")
    func bytePath() throws {
        let snapshot = Self.snapshot
        let subject = snapshot.subject(for: try #require(snapshot.person(id: "S1")))
        let instant = Int64(Fixture.date("2026-11-23T15:00:00Z").timeIntervalSince1970)
        for name in ["casino.com", "WWW.Casino.Com", "social.example", "learn.example", "nothing.example", "evil.example"] {
            let fromBytes = Array(name.utf8).withUnsafeBytes { snapshot.decide(name: $0, subject: subject, zone: -1, at: instant) }
            let fromString = snapshot.decide(.name(name), subject: subject, zone: -1, at: instant)
            #expect(fromBytes == fromString, "\(name)")
        }
    }

    @Test("Revocation explains itself with the reason and end date")
    func revocationReason() throws {
        let snapshot = Self.snapshot
        let subject = snapshot.subject(for: try #require(snapshot.person(id: "R1")))
        let decision = snapshot.decide(.name("learn.example"), subject: subject, zone: -1, at: 1_795_000_000)
        let explanation = snapshot.explain(decision, subject: subject)
        #expect(explanation.reason.contains("incident IR-1"))
        #expect(explanation.reason.contains("2026-12-15"))
    }

    @Test("A swapped snapshot is seen by readers; the old one keeps answering until then")
    func snapshotSwap() throws {
        let holder = SnapshotHolder(Self.snapshot)
        var reader = SnapshotHolder.Reader(holder)
        #expect(reader.current() === Self.snapshot)
        var definition = Fixture.definition()
        definition.rules.removeAll { $0.id == "students-gambling" }
        let replacement = try Fixture.snapshot(definition)
        holder.replace(with: replacement)
        #expect(reader.current() === replacement)
    }
}

@Suite struct PolicyCompileTests {
    func problems(_ change: (inout PolicyDefinition) -> Void) throws -> [PolicyProblem] {
        var definition = Fixture.definition()
        change(&definition)
        switch PolicySnapshot.compile(definition, lists: try Fixture.lists()) {
        case .success: return []
        case .failure(let error): return error.problems
        }
    }

    @Test("Allowing a CIPA category to a group that may hold students is a configuration error")
    func cipaAllowForStudents() throws {
        let found = try problems {
            $0.rules.insert(Fixture.rule("oops", .allow, nil) {
                $0.groups = ["students"]
                $0.categories = ["adult"]
            }, at: 0)
        }
        #expect(found.count == 1)
        #expect(found.first?.message.contains("CIPA") == true)
        #expect(found.first?.message.contains("students") == true)
    }

    @Test("Warning (click-through) on a CIPA category for everyone is refused too")
    func cipaWarnForEveryone() throws {
        let found = try problems {
            $0.rules.append(Fixture.rule("warn-adult", .warn, "no gambling") { $0.categories = ["adult"] })
        }
        #expect(found.count == 1)
        #expect(found.first?.message.contains("everyone") == true)
    }

    @Test("A group with only adult roles may have a CIPA category allowed")
    func cipaAllowForAdults() throws {
        #expect(try problems { _ in }.isEmpty)
    }

    @Test("A group of named members may hold students, so it cannot be exempted")
    func cipaNamedMembers() throws {
        let found = try problems {
            $0.rules.insert(Fixture.rule("members-adult", .allow, nil) {
                $0.groups = ["work-only-staff"]
                $0.categories = ["adult"]
            }, at: 0)
        }
        #expect(found.count == 1)
    }

    @Test("Every problem is reported at once, each with its key path")
    func everyProblemAtOnce() throws {
        let found = try problems {
            $0.rules.append(Fixture.rule("bad", .block, "words that are not in the document") {
                $0.groups = ["nobody"]
                $0.zones = ["mars"]
                $0.categories = ["gamblin"]
                $0.during = ["lunch"]
                $0.domains = ["bad domain"]
                $0.fileTypes = [".exe"]
                $0.mimeTypes = ["video"]
            })
            $0.rules.append(Fixture.rule("no-clause", .block, nil) { $0.categories = ["gambling"] })
            $0.rules.append(Fixture.rule("malware", .allow, nil) { _ in })
            $0.zones.append(ZoneDefinition(id: "z", networks: [IPNetwork("10.0.0.0/8")!], defaultGroup: "ghosts"))
            $0.timeZone = "Mars/Olympus_Mons"
        }
        let paths = Set(found.map(\.path))
        for expected in [
            "rules[10].match.groups[0]", "rules[10].match.zones[0]", "rules[10].match.categories[0]",
            "rules[10].match.during[0]", "rules[10].match.domains[0]", "rules[10].match.file-types[0]",
            "rules[10].match.mime-types[0]", "rules[10].clause.text", "rules[11].clause", "rules[12]",
            "zones[2].default-group", "zones[2].networks", "district.timezone",
        ] {
            #expect(paths.contains(expected), "missing \(expected) in \(found.map(\.description))")
        }
        #expect(found.first { $0.path == "rules[10].match.categories[0]" }?.message.contains("did you mean 'gambling'") == true)
    }

    @Test("A clause must cite a known document")
    func unknownDocument() throws {
        let found = try problems {
            $0.cipaClause = Clause(document: "nope", section: "x", text: "y")
        }
        #expect(found.map(\.path) == ["cipa-clause.document"])
    }
}
