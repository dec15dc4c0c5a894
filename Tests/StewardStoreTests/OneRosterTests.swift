import Foundation
import StewardConfig
import StewardPolicy
import StewardStore
import StewardTestSupport
import Testing

/// OneRoster 1.1 CSV as student information systems export it (a byte-order mark, CRLF line ends,
/// quoted multi-value fields, blank bulk status columns), and every kind of bad row.
@Suite struct OneRosterTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/oneroster")

    /// A copy of the fixture with `edits` applied (file name → transform of its text).
    static func variant(_ edits: [String: (String) -> String], removing: [String] = []) throws -> String {
        let directory = TestDirectory.root.appendingPathComponent("oneroster-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: fixture, to: directory)
        for (file, edit) in edits {
            let url = directory.appendingPathComponent(file)
            try edit(try String(contentsOf: url, encoding: .utf8)).write(to: url, atomically: true, encoding: .utf8)
        }
        for file in removing { try FileManager.default.removeItem(at: directory.appendingPathComponent(file)) }
        return directory.path
    }

    @Test("The district's export reads: schools become buildings, enrollments place people whose orgs name no school")
    func reads() throws {
        let roster = try RosterFiles.oneRoster(directory: Self.fixture.path)
        #expect(roster.kind == .oneRoster)
        #expect(roster.complete)
        #expect(roster.entries.count == 10)
        #expect(Set(roster.buildings.map(\.id)) == ["roosevelt-hs", "jefferson-ms", "s1a2b3c4-0000-4000-8000-000000000030"])
        let people = Dictionary(uniqueKeysWithValues: roster.entries.map { ($0.person.id, $0) })
        let alex = try #require(people["u-0001"])
        #expect(alex.person.name == "Alex Rivera")
        #expect(alex.person.role == .student)
        #expect(alex.person.building == "roosevelt-hs")
        #expect(alex.person.grade == Grade("10"))
        #expect(alex.username == "arivera")
        #expect(people["u-0002"]?.person.grade == Grade("3"))
        // District-level org only; the primary enrollment's school wins over the others.
        #expect(people["u-0003"]?.person.building == "jefferson-ms")
        #expect(people["u-0004"]?.person.status == .inactive)
        #expect(people["u-0005"]?.person.status == .inactive)
        #expect(people["u-0006"]?.person.grade == Grade("KG"))
        #expect(people["u-0007"]?.person.grade == nil)
        #expect(people["t-0001"]?.person.building == "jefferson-ms")
        #expect(people["t-0001"]?.person.role == .teacher)
        #expect(people["a-0001"]?.person.building == nil)
        #expect(people["u-0101"]?.person.role == Role("guardian"))
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        let name: String
        let file: String
        let edit: @Sendable (String) -> String
        /// Text every expected problem line contains (file, line, column, reason).
        let expected: [String]
        var testDescription: String { name }
    }

    static func replacing(_ old: String, _ new: String) -> @Sendable (String) -> String {
        { text in
            precondition(text.contains(old), "fixture lacks \(old)")
            return text.replacingOccurrences(of: old, with: new)
        }
    }

    static let badCases: [BadCase] = [
        BadCase(name: "unknown role", file: "users.csv", edit: replacing(",student,arivera,", ",pupil,arivera,"),
            expected: ["users.csv:2: column 6 (role): unknown role 'pupil'"]),
        BadCase(name: "enabledUser not a boolean", file: "users.csv", edit: replacing("u-0002,,,true,", "u-0002,,,yes,"),
            expected: ["users.csv:3: column 4 (enabledUser): enabledUser is 'yes'"]),
        BadCase(name: "grade not a CEDS code", file: "users.csv", edit: replacing(",,,,10,", ",,,,10th,"),
            expected: ["users.csv:2: column 17 (grades): '10th' is not a CEDS grade"]),
        BadCase(name: "org that does not exist", file: "users.csv",
            edit: replacing("u-0006,,,true,s1a2b3c4-0000-4000-8000-000000000030", "u-0006,,,true,s-missing"),
            expected: ["users.csv:7: column 5 (orgSourcedIds): no org with sourcedId 's-missing'"]),
        BadCase(name: "duplicate sourcedId", file: "users.csv", edit: replacing("u-0007,", "u-0001,"),
            expected: ["users.csv:11: column 1 (sourcedId): sourcedId 'u-0001' appears twice"]),
        BadCase(name: "empty required field", file: "users.csv", edit: replacing(",Bea,Chen,", ",,Chen,"),
            expected: ["users.csv:3: column 9 (givenName): givenName is empty"]),
        BadCase(name: "e-mail without @", file: "users.csv",
            edit: replacing("alex.rivera@students.demo-usd.example", "alex.rivera"),
            expected: ["users.csv:2: column 13 (email): 'alex.rivera' is not an e-mail address"]),
        BadCase(name: "short row", file: "users.csv", edit: replacing("u-0007,,,true,", "u-0007,,true,"),
            expected: ["users.csv:11: row has 17 fields; the header has 18"]),
        BadCase(name: "unterminated quote", file: "users.csv", edit: replacing("\"07,08\"", "\"07,08"),
            expected: ["users.csv:8: a quoted field is never closed"]),
        BadCase(name: "unknown status", file: "users.csv", edit: replacing("u-0005,tobedeleted,", "u-0005,deleted,"),
            expected: ["users.csv:6: column 2 (status): unknown status 'deleted'"]),
        BadCase(name: "missing required column", file: "users.csv", edit: replacing("enabledUser", "enabled"),
            expected: ["users.csv:1: missing required column 'enabledUser'"]),
        BadCase(name: "unknown org type", file: "orgs.csv", edit: replacing(",department,", ",dept,"),
            expected: ["orgs.csv:6: column 5 (type): unknown org type 'dept'"]),
        BadCase(name: "parent org that does not exist", file: "orgs.csv",
            edit: replacing(",TECH,d1a2b3c4-0000-4000-8000-000000000001", ",TECH,d-missing"),
            expected: ["orgs.csv:6: column 7 (parentSourcedId): no org with sourcedId 'd-missing'"]),
        BadCase(name: "enrollment of an unknown user", file: "enrollments.csv", edit: replacing(",u-0001,student", ",u-9999,student"),
            expected: ["enrollments.csv:2: column 6 (userSourcedId): no user with sourcedId 'u-9999'"]),
        BadCase(name: "enrollment at a district, not a school", file: "enrollments.csv",
            edit: replacing("e-0004,,,c-hr-7,s1a2b3c4-0000-4000-8000-000000000020", "e-0004,,,c-hr-7,d1a2b3c4-0000-4000-8000-000000000001"),
            expected: ["enrollments.csv:5: column 5 (schoolSourcedId): 'd1a2b3c4-0000-4000-8000-000000000001' is a district, not a school"]),
        BadCase(name: "bad date", file: "enrollments.csv", edit: replacing("e-0001,,,c-bio-10,s1a2b3c4-0000-4000-8000-000000000010,u-0001,student,false,2026-08-27", "e-0001,,,c-bio-10,s1a2b3c4-0000-4000-8000-000000000010,u-0001,student,false,08/27/2026"),
            expected: ["enrollments.csv:2: column 9 (beginDate): '08/27/2026' is not a date (YYYY-MM-DD)"]),
        BadCase(name: "enrollment ending before it begins", file: "enrollments.csv",
            edit: replacing("u-0003,student,true,2026-08-27,2027-06-15", "u-0003,student,true,2026-08-27,2025-06-15"),
            expected: ["enrollments.csv:5: column 10 (endDate): endDate is before beginDate"]),
        BadCase(name: "unknown session type", file: "academicSessions.csv", edit: replacing(",semester,2026", ",quarter,2026"),
            expected: ["academicSessions.csv:3: column 5 (type): unknown session type 'quarter'"]),
        BadCase(name: "school year not a year", file: "academicSessions.csv", edit: replacing(",,2027\n", ",,27\n"),
            expected: ["academicSessions.csv:2: column 9 (schoolYear): '27' is not a year (YYYY)"]),
        BadCase(name: "OneRoster 1.2 files", file: "manifest.csv", edit: replacing("oneroster.version,1.1", "oneroster.version,1.2"),
            expected: ["manifest.csv: oneroster.version: OneRoster 1.2 files; Steward imports OneRoster 1.1 CSV"]),
        BadCase(name: "users absent from the manifest", file: "manifest.csv", edit: replacing("file.users,bulk", "file.users,absent"),
            expected: ["manifest.csv: file.users: file.users must be bulk or delta"]),
        BadCase(name: "manifest value not bulk, delta or absent", file: "manifest.csv",
            edit: replacing("file.orgs,bulk", "file.orgs,full"),
            expected: ["manifest.csv:13: column 2 (value): file.orgs is 'full' (bulk, delta or absent)"]),
    ]

    @Test("Every bad row is reported with file, line, column and reason, and the roster is refused", arguments: badCases)
    func badRows(_ bad: BadCase) throws {
        let directory = try Self.variant([bad.file: bad.edit])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            _ = try RosterFiles.oneRoster(directory: directory)
            Issue.record("a roster with \(bad.name) was accepted")
        } catch {
            let lines = error.problems.map(\.description)
            for expected in bad.expected {
                #expect(lines.contains { $0.contains(expected) }, "expected «\(expected)» among \(lines)")
            }
        }
    }

    @Test("A file the manifest lists but the folder lacks is reported")
    func missingFile() throws {
        let directory = try Self.variant([:], removing: ["users.csv"])
        #expect(throws: ConfigError.self) { try RosterFiles.oneRoster(directory: directory) }
        do { _ = try RosterFiles.oneRoster(directory: directory) } catch {
            #expect(error.problems.contains { $0.description.contains("users.csv: cannot read the users.csv file: no such file") })
        }
    }

    @Test("A delta manifest imports without deactivating anyone", arguments: Backend.allCases)
    func delta(backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.directory.importRoster(try RosterFiles.oneRoster(directory: Self.fixture.path), actor: "test")
            let directory = try Self.variant([
                "manifest.csv": Self.replacing("file.users,bulk", "file.users,delta"),
                "users.csv": { text in
                    let lines = text.components(separatedBy: "\r\n")
                    return ([lines[0], lines[1].replacingOccurrences(of: "Alex,Rivera", with: "Alexandra,Rivera")]).joined(separator: "\r\n") + "\r\n"
                },
                "enrollments.csv": { text in String(text.prefix(while: { $0 != "\n" })) + "\n" },
            ])
            let roster = try RosterFiles.oneRoster(directory: directory)
            #expect(!roster.complete)
            let report = try await store.directory.importRoster(roster, actor: "test")
            #expect(report.updated.map(\.id) == ["u-0001"])
            #expect(report.deactivated.isEmpty)
            #expect(try await store.directory.person(id: "u-0001")?.person.name == "Alexandra Rivera")
            #expect(try await store.directory.person(id: "u-0002")?.person.status == .active)
        }
    }
}
