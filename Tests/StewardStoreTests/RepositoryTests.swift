import Foundation
import Logging
import StewardActivity
import StewardPolicy
import StewardStore
import Testing

/// The repository suite: every test runs against SQLite and against a real PostgreSQL server, through
/// the same code.
@Suite struct RepositoryTests {
    @Test("Migrations run once; opening the store again applies nothing and keeps the data", arguments: Backend.allCases)
    func migrations(backend: Backend) async throws {
        let location = try await backend.storeBackend()
        let store = try await Store.open(location, logger: Logger(label: "test"))
        #expect(try await store.schemaVersion() == Migrations.latest)
        _ = try await store.directory.importRoster(Fixtures.roster([Fixtures.person("S1", "Ana Lima")]), actor: "test")
        await store.close()
        let again = try await Store.open(location, logger: Logger(label: "test"))
        #expect(try await again.schemaVersion() == Migrations.latest)
        #expect(try await again.directory.count() == 1)
        await again.close()
    }

    @Test("An import adds people; the same import again changes nothing at all", arguments: Backend.allCases)
    func reimport(backend: Backend) async throws {
        try await withStore(backend) { store in
            let roster = Fixtures.roster([
                Fixtures.person("S1", "Ana Lima"), Fixtures.person("S2", "Ben Ode", grade: "10"),
                Fixtures.person("T1", "Cy Park", .teacher, grade: nil),
            ])
            let first = try await store.directory.importRoster(roster, actor: "test")
            #expect(first.added == ["S1", "S2", "T1"])
            #expect(first.importID != nil)
            let version = try await store.directory.version()
            let auditCount = try await store.audit.entries().count
            let second = try await store.directory.importRoster(roster, actor: "test")
            #expect(second.changedNothing)
            #expect(second.unchanged == 3)
            #expect(second.importID == nil)
            #expect(try await store.directory.version() == version)
            #expect(try await store.audit.entries().count == auditCount)
            let stored = try #require(try await store.directory.person(id: "S2"))
            #expect(stored.person.grade == Grade("10"))
            #expect(stored.person.email == "s2@example.org")
            #expect(stored.username == "s2@example.org")
        }
    }

    @Test("A move to another building is recorded; people left out of a complete roster are deactivated, not deleted",
        arguments: Backend.allCases)
    func buildingChangeAndDeactivation(backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.directory.importRoster(
                Fixtures.roster([Fixtures.person("S1", "Ana Lima"), Fixtures.person("S2", "Ben Ode")]), actor: "test")
            let report = try await store.directory.importRoster(
                Fixtures.roster([Fixtures.person("S1", "Ana Lima", building: "south-ms", grade: "8")]), actor: "test")
            #expect(report.buildingChanges.map(\.id) == ["S1"])
            #expect(report.buildingChanges.first?.from == "north-hs")
            #expect(report.buildingChanges.first?.to == "south-ms")
            #expect(report.deactivated == ["S2"])
            let moved = try #require(try await store.directory.person(id: "S1"))
            #expect(moved.person.building == "south-ms")
            #expect(try await store.directory.changes(of: "S1").contains { $0.kind == "building" && $0.old == "north-hs" && $0.new == "south-ms" })
            let gone = try #require(try await store.directory.person(id: "S2"))
            #expect(gone.person.status == .inactive)
            #expect(try await store.directory.count() == 2)

            // Back on the roster: reactivated.
            let back = try await store.directory.importRoster(
                Fixtures.roster([Fixtures.person("S1", "Ana Lima", building: "south-ms", grade: "8"), Fixtures.person("S2", "Ben Ode")]),
                actor: "test")
            #expect(back.reactivated == ["S2"])
            #expect(try await store.directory.person(id: "S2")?.person.status == .active)
        }
    }

    @Test("A delta changes only whom it lists; a dry run writes nothing", arguments: Backend.allCases)
    func deltaAndDryRun(backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.directory.importRoster(
                Fixtures.roster([Fixtures.person("S1", "Ana Lima"), Fixtures.person("S2", "Ben Ode")]), actor: "test")
            let dry = try await store.directory.importRoster(
                Fixtures.roster([Fixtures.person("S3", "Cal Diaz")]), actor: "test", dryRun: true)
            #expect(dry.added == ["S3"])
            #expect(dry.deactivated == ["S1", "S2"])
            #expect(try await store.directory.count() == 2)
            #expect(try await store.directory.person(id: "S1")?.person.status == .active)

            let delta = try await store.directory.importRoster(
                Fixtures.roster([Fixtures.person("S3", "Cal Diaz")], complete: false), actor: "test")
            #expect(delta.added == ["S3"])
            #expect(delta.deactivated.isEmpty)
            #expect(try await store.directory.person(id: "S1")?.person.status == .active)
        }
    }

    @Test("An administrator's revocation survives imports; restoring it is audited", arguments: Backend.allCases)
    func revocation(backend: Backend) async throws {
        try await withStore(backend) { store in
            let roster = Fixtures.roster([Fixtures.person("S1", "Ana Lima")])
            _ = try await store.directory.importRoster(roster, actor: "test")
            try await store.directory.revoke("S1", until: Date(timeIntervalSince1970: 1_800_000_000), reason: "bypass attempts", actor: "ap")
            let again = try await store.directory.importRoster(roster, actor: "test")
            #expect(again.changedNothing)
            guard case .revoked(let until, let reason) = try await store.directory.person(id: "S1")?.person.status else {
                Issue.record("S1 is no longer revoked")
                return
            }
            #expect(reason == "bypass attempts")
            #expect(until == Date(timeIntervalSince1970: 1_800_000_000))
            await #expect(throws: StoreError.self) { try await store.directory.revoke("NOBODY", until: nil, reason: "x", actor: "ap") }
            await #expect(throws: StoreError.self) { try await store.directory.revoke("S1", until: nil, reason: " ", actor: "ap") }
            try await store.directory.restore("S1", actor: "ap")
            #expect(try await store.directory.person(id: "S1")?.person.status == .active)
            let actions = try await store.audit.entries(subject: "S1").map(\.action)
            #expect(actions == ["person.revoke", "person.restore"])
        }
    }

    @Test("Sessions map addresses to people as stored now; too many devices at once is flagged",
        arguments: Backend.allCases)
    func sessions(backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.directory.importRoster(
                Fixtures.roster([Fixtures.person("S1", "Ana Lima"), Fixtures.person("S2", "Ben Ode")]), actor: "test")
            let now = unixNow()
            for (index, address) in ["10.0.0.1", "10.0.0.2"].enumerated() {
                let opened = try await store.directory.openSession(
                    address: IPAddress(address)!, personID: "S1", source: "portal", expiresAt: now + 3600,
                    concurrentDevices: 2, actor: "portal")
                #expect(opened.devices == index + 1)
                #expect(!opened.flagged)
            }
            let third = try await store.directory.openSession(
                address: IPAddress("2001:db8::7")!, personID: "S1", source: "radius", expiresAt: now + 3600,
                concurrentDevices: 2, actor: "radius")
            #expect(third.flagged)
            #expect(try await store.directory.flags().first?.personID == "S1")
            // The same address signed in by someone else replaces the session.
            _ = try await store.directory.openSession(
                address: IPAddress("10.0.0.2")!, personID: "S2", source: "portal", expiresAt: now + 3600,
                concurrentDevices: 2, actor: "portal")
            let active = try await store.directory.activeSessions(now: now)
            #expect(active.count == 3)
            #expect(active.first { $0.session.address == IPAddress("10.0.0.2")! }?.person.id == "S2")
            // A revocation shows on the session's person without signing in again.
            try await store.directory.revoke("S1", until: nil, reason: "account sharing", actor: "ap")
            let after = try await store.directory.activeSessions(now: now)
            if case .revoked = after.first(where: { $0.session.address == IPAddress("10.0.0.1")! })?.person.status {} else {
                Issue.record("the session's person is not shown revoked")
            }
            // A revoked person cannot open a session; ended sessions are purged.
            await #expect(throws: StoreError.self) {
                try await store.directory.openSession(
                    address: IPAddress("10.0.0.9")!, personID: "S1", source: "portal", expiresAt: now + 60,
                    concurrentDevices: 2, actor: "portal")
            }
            #expect(try await store.directory.purgeExpiredSessions(now: now + 7200) == 3)
            #expect(try await store.directory.activeSessions(now: now).isEmpty)
        }
    }

    @Test("Devices: hardware addresses are normalised and unique; owners must exist", arguments: Backend.allCases)
    func devices(backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.directory.importRoster(Fixtures.roster([Fixtures.person("S1", "Ana Lima")]), actor: "test")
            try await store.directory.saveDevice(id: "CB-1001", hardwareAddress: "AA-BB-CC-00-11-22", ownerID: "S1", name: "Chromebook", actor: "it")
            #expect(try await store.directory.devices(ownerID: "S1").first?.hardwareAddress == "aa:bb:cc:00:11:22")
            await #expect(throws: StoreError.self) {
                try await store.directory.saveDevice(id: "CB-1002", hardwareAddress: "aabb.cc00.1122", ownerID: nil, name: nil, actor: "it")
            }
            await #expect(throws: StoreError.self) {
                try await store.directory.saveDevice(id: "CB-1003", hardwareAddress: "not-a-mac", ownerID: nil, name: nil, actor: "it")
            }
            await #expect(throws: StoreError.self) {
                try await store.directory.saveDevice(id: "CB-1004", hardwareAddress: nil, ownerID: "NOBODY", name: nil, actor: "it")
            }
            #expect(try await store.directory.devices().count == 1)
        }
    }

    @Test("Administrators: bcrypt hashes, roles and building scope, no duplicates, wrong passwords refused",
        arguments: Backend.allCases)
    func administrators(backend: Backend) async throws {
        try await withStore(backend) { store in
            let admins = store.administrators
            try await admins.create(username: "dana", password: "correct horse", role: .buildingAdmin, buildings: ["north-hs"], actor: "root", cost: 4)
            await #expect(throws: StoreError.self) {
                try await admins.create(username: "dana", password: "another one", role: .auditor, buildings: [], actor: "root", cost: 4)
            }
            await #expect(throws: StoreError.self) {
                try await admins.create(username: "eve", password: "short", role: .auditor, buildings: [], actor: "root", cost: 4)
            }
            await #expect(throws: StoreError.self) {
                try await admins.create(username: "fay", password: "long enough", role: .buildingAdmin, buildings: [], actor: "root", cost: 4)
            }
            let account = try #require(try await admins.authenticate(username: "dana", password: "correct horse"))
            #expect(account.role == .buildingAdmin)
            #expect(account.buildings == ["north-hs"])
            #expect(try await admins.authenticate(username: "dana", password: "wrong horse") == nil)
            #expect(try await admins.authenticate(username: "nobody", password: "correct horse") == nil)
            try await admins.setPassword(username: "dana", password: "new password!", actor: "dana", cost: 4)
            #expect(try await admins.authenticate(username: "dana", password: "new password!") != nil)
            #expect(try await admins.authenticate(username: "dana", password: "correct horse") == nil)
            let hash = try await store.connection.run { database in
                try await database.raw("SELECT password_hash FROM admins").first()?.decode(column: "password_hash", as: String.self)
            }
            #expect(hash?.hasPrefix("$2") == true)
            #expect(hash?.contains("new password") == false)
        }
    }

    @Test("The audit log chains every entry; the database refuses edits, and an edit made around it is found",
        arguments: Backend.allCases)
    func auditChain(backend: Backend) async throws {
        try await withStore(backend) { store in
            for index in 0..<5 {
                try await store.audit.append(actor: "dana", action: "person.view", subject: "S\(index)", detail: "reason \(index)")
            }
            let intact = try await store.audit.verify()
            #expect(intact.entries == 5)
            #expect(intact.broken == nil)
            await #expect(throws: (any Error).self) {
                try await store.connection.run { database in
                    try await database.raw("UPDATE audit SET subject = 'S9' WHERE seq = 3").run()
                }
            }
            await #expect(throws: (any Error).self) {
                try await store.connection.run { database in try await database.raw("DELETE FROM audit WHERE seq = 5").run() }
            }
            #expect(try await store.audit.verify().broken == nil)
            // Someone with the database's owner rights drops the guard and edits an entry.
            try await store.connection.run { database in
                if backend == .sqlite {
                    try await database.raw("DROP TRIGGER audit_no_update").run()
                } else {
                    try await database.raw("ALTER TABLE audit DISABLE TRIGGER audit_append_only").run()
                }
                try await database.raw("UPDATE audit SET subject = 'S9' WHERE seq = 3").run()
            }
            let verification = try await store.audit.verify()
            #expect(verification.broken?.seq == 3)
        }
    }

    @Test("Activity: batches larger than one statement, a person's events, the retention purge", arguments: Backend.allCases)
    func activity(backend: Backend) async throws {
        try await withStore(backend) { store in
            let activity = try await store.openActivity()
            let day: Int64 = 86_400 * 1_000_000_000
            let now: Int64 = 1_795_000_000 * 1_000_000_000
            try await activity.write(Fixtures.activity(2500, time: now - 200 * day, name: "old.casino.example"))
            try await activity.write(Fixtures.activity(10, time: now, name: "casino.example", person: "S1"))
            #expect(try await activity.count() == 2510)
            let recent = try await activity.recent(name: "casino.example")
            #expect(recent.count == 10)
            #expect(recent.first == Fixtures.activity(10, time: now, name: "casino.example", person: "S1").last)
            #expect(try await activity.activity(personID: "S1", since: now - day).count == 10)
            #expect(try await activity.activity(personID: "S1", since: now + day).isEmpty)
            #expect(try await activity.purge(olderThan: now - 180 * day) == 2500)
            #expect(try await activity.count() == 10)
            try await activity.close()
        }
    }
}
