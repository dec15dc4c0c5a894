import Foundation
import Logging
import StewardStore
import StewardTestSupport
import Testing

/// The store's commands run as a district runs them: the built `steward` binary against a
/// configuration and its SQLite store, including a kill -9 in the middle of writing.
@Suite struct CommandTests {
    /// A district configuration with its own data directory.
    struct District {
        let directory: URL
        var config: String { directory.appendingPathComponent("steward.yaml").path }
        var store: String { directory.appendingPathComponent("data/steward.sqlite").path }

        init() throws {
            directory = TestDirectory.root.appendingPathComponent("steward-district-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try "The district keeps records.\n".write(to: directory.appendingPathComponent("aup.txt"), atomically: true, encoding: .utf8)
            try """
            district: {name: Test District, timezone: UTC}
            data-dir: data
            documents: [{id: aup, title: AUP, file: aup.txt}]
            groups: [{id: everyone}]
            zones: [{id: lan, networks: [10.0.0.0/8], default-group: everyone}]
            directory: {concurrent-devices: 1}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        }

        func steward(_ arguments: [String], input: String? = nil) async throws -> ChildProcess.Result {
            try await ChildProcess.run(BuiltProducts.steward, arguments + ["--config", config], input: input)
        }

        func openStore() async throws -> Store {
            try await Store.open(.sqlite(path: store), logger: Logger(label: "test"))
        }
    }

    @Test("Import, re-import, a building move and a deactivation, through the command")
    func importCommand() async throws {
        let district = try District()
        let first = try SyntheticDistrict.write(people: 200)
        let dry = try await district.steward(["import", "oneroster", first, "--dry-run"])
        #expect(dry.status == 0, "\(dry.output)")
        #expect(dry.output.contains("would change: 200 added"))
        #expect(dry.output.contains("dry run: nothing was written"))
        let imported = try await district.steward(["import", "oneroster", first])
        #expect(imported.output.contains("changed: 200 added, 0 updated, 0 deactivated"), "\(imported.output)")
        let again = try await district.steward(["import", "oneroster", first])
        #expect(again.output.contains("nothing to change"), "\(again.output)")

        // Next year: every 7th student moved school; the first three left.
        let next = try SyntheticDistrict.write(people: 200, movedEvery: 7, leaving: 3)
        let moved = try await district.steward(["import", "oneroster", next, "--verbose"])
        #expect(moved.status == 0, "\(moved.output)")
        #expect(moved.output.contains("3 deactivated"), "\(moved.output)")
        #expect(moved.output.contains("p-7: sch-7 → sch-8 (must sign again)"), "\(moved.output)")
        let store = try await district.openStore()
        #expect(try await store.directory.person(id: "p-1")?.person.status == .inactive)
        #expect(try await store.directory.person(id: "p-7")?.person.building == "sch-8")
        #expect(try await store.audit.verify().broken == nil)
        await store.close()
    }

    @Test("A roster with a bad row is refused whole: every problem is printed, and nothing changes")
    func badFileChangesNothing() async throws {
        let district = try District()
        let good = try SyntheticDistrict.write(people: 50)
        _ = try await district.steward(["import", "oneroster", good])
        let bad = try SyntheticDistrict.write(people: 60)
        let usersFile = (bad as NSString).appendingPathComponent("users.csv")
        var text = try String(contentsOfFile: usersFile, encoding: .utf8)
        text = text.replacingOccurrences(of: "p-55,,,true,school-5,student", with: "p-55,,,true,school-5,wizard")
        text = text.replacingOccurrences(of: "p-57,,,true,school-7,student,user57,,Given57,Family57,,100057,user57@sd.example,,,,10,", with: "p-57,,,maybe,school-7,student,user57,,Given57,Family57,,100057,user57@sd.example,,,,10,")
        try text.write(toFile: usersFile, atomically: true, encoding: .utf8)
        let refused = try await district.steward(["import", "oneroster", bad])
        #expect(refused.status == 1)
        #expect(refused.output.contains("users.csv:57: column 6 (role): unknown role 'wizard'"), "\(refused.output)")
        #expect(refused.output.contains("users.csv:59: column 4 (enabledUser): enabledUser is 'maybe'"), "\(refused.output)")
        let store = try await district.openStore()
        #expect(try await store.directory.count() == 50)
        await store.close()
    }

    @Test("Administrators, sessions, revocation, the audited look at activity, backup, and audit verify")
    func directoryCommands() async throws {
        let district = try District()
        _ = try await district.steward(["import", "oneroster", try SyntheticDistrict.write(people: 30)])
        let created = try await district.steward(["admin", "create", "dana", "--role", "building-admin", "--building", "sch-1"], input: "a long passphrase\n")
        #expect(created.status == 0, "\(created.output)")
        let unscoped = try await district.steward(["admin", "create", "eve", "--role", "building-admin"], input: "a long passphrase\n")
        #expect(unscoped.status == 1)
        #expect(unscoped.output.contains("needs at least one building"))
        #expect(try await district.steward(["admin", "list"]).output.contains("dana\tbuilding-admin [sch-1]"))

        #expect(try await district.steward(["session", "open", "10.1.2.3", "--user", "p-1"]).status == 0)
        let second = try await district.steward(["session", "open", "10.1.2.4", "--user", "p-1", "--source", "portal"])
        #expect(second.output.contains("flagged"), "\(second.output)")
        #expect(try await district.steward(["session", "flags"]).output.contains("concurrent-sessions\tp-1"))
        let bad = try await district.steward(["session", "open", "10.1.2.999", "--user", "p-1"])
        #expect(bad.status == 1)
        #expect(bad.output.contains("'10.1.2.999' is not an IPv4 or IPv6 address"))

        #expect(try await district.steward(["person", "revoke", "p-2", "--reason", "bypass attempts", "--until", "2027-01-31"]).status == 0)
        let view = try await district.steward(["activity", "--user", "p-2", "--reason", "incident 17"])
        #expect(view.status == 0, "\(view.output)")
        let unknown = try await district.steward(["activity", "--user", "nobody"])
        #expect(unknown.status == 1)

        let audit = try await district.steward(["audit", "list"])
        #expect(audit.output.contains("activity.view\tp-2\tsince 24h; reason: incident 17"), "\(audit.output)")
        #expect(audit.output.contains("person.revoke\tp-2"))
        #expect(audit.output.contains("admin.create\tadmin:dana"))

        let copy = district.directory.appendingPathComponent("backup.sqlite").path
        #expect(try await district.steward(["backup", copy]).status == 0)
        #expect(try await district.steward(["backup", copy]).output.contains("already exists"))
        let restored = try await Store.open(.sqlite(path: copy), logger: Logger(label: "test"))
        #expect(try await restored.directory.count() == 30)
        #expect(try await restored.audit.verify().broken == nil)
        await restored.close()

        let verified = try await district.steward(["audit", "verify"])
        #expect(verified.status == 0)
        #expect(verified.output.contains("audit log intact"))
    }

    @Test("kill -9 in the middle of an import: the store opens, the audit chain verifies, and nothing committed is lost")
    func killDuringImport() async throws {
        let district = try District()
        _ = try await district.steward(["import", "csv", try Self.sheet(district)])
        let big = try SyntheticDistrict.write(people: 30_000)
        let killed = try await ChildProcess.run(
            BuiltProducts.steward, ["import", "oneroster", big, "--progress", "--config", district.config],
            killWhen: { $0.contains("steward: writing") })
        #expect(killed.status == 9 || killed.status == 137 || killed.output.contains("changed:"), "\(killed.output)")
        let store = try await district.openStore()
        let count = try await store.directory.count()
        // All or nothing: the earlier sheet is there, and the import either fully happened or not at all.
        #expect(count == 3 || count == 30_003, "people: \(count)")
        #expect(try await store.directory.person(id: "X1")?.person.name == "Ana Lima")
        #expect(try await store.audit.verify().broken == nil)
        let integrity = try await store.connection.run { database in
            try await database.raw("PRAGMA integrity_check").first()?.decode(column: "integrity_check", as: String.self)
        }
        #expect(integrity == "ok")
        await store.close()
        // And it imports cleanly afterwards.
        let after = try await district.steward(["import", "oneroster", big])
        #expect(after.status == 0, "\(after.output)")
    }

    @Test("kill -9 while activity is being written: every batch reported committed is there, and no partial batch")
    func killDuringActivity() async throws {
        let directory = TestDirectory.root.appendingPathComponent("steward-activity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("activity.sqlite").path
        let killed = try await ChildProcess.run(
            BuiltProducts.steward,
            ["bench", "activity", "--store", path, "--events", "100000000", "--batch", "1000", "--progress"],
            killWhen: { $0.components(separatedBy: "committed ").count > 25 })
        let reported = killed.output.split(separator: "\n").compactMap { line in
            line.hasPrefix("committed ") ? Int(line.dropFirst("committed ".count)) : nil
        }.max() ?? 0
        #expect(reported >= 25_000)
        let store = try await Store.open(.sqlite(path: path), logger: Logger(label: "test"))
        let activity = try await store.openActivity()
        let stored = try await activity.count()
        #expect(stored >= reported)
        #expect(stored % 1000 == 0, "a partial batch was stored: \(stored)")
        try await activity.close()
        await store.close()
    }

    static func sheet(_ district: District) throws -> String {
        let file = district.directory.appendingPathComponent("sheet.csv").path
        try "id,name,role,building,grade,email\nX1,Ana Lima,student,north,9,ana@example.org\nX2,Ben Ode,teacher,north,,\nX3,Cy Park,staff,,,\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
}
