import Foundation
import SQLKit
import StewardPolicy

/// What an import changed (or, in a dry run, would change).
public struct ImportReport: Sendable, Equatable {
    public var added: [String] = []
    /// Person id and the fields that changed.
    public var updated: [(id: String, fields: [String])] = []
    public var deactivated: [String] = []
    public var reactivated: [String] = []
    public var buildingChanges: [(id: String, from: String, to: String)] = []
    public var unchanged = 0
    public var buildingsAdded: [String] = []
    /// The import's id, when it was written (nil for a dry run or when nothing changed).
    public var importID: String?

    public var changedNothing: Bool {
        added.isEmpty && updated.isEmpty && deactivated.isEmpty && reactivated.isEmpty && buildingsAdded.isEmpty
    }

    public static func == (lhs: ImportReport, rhs: ImportReport) -> Bool {
        lhs.added == rhs.added && lhs.updated.map(\.id) == rhs.updated.map(\.id)
            && lhs.updated.map(\.fields) == rhs.updated.map(\.fields) && lhs.deactivated == rhs.deactivated
            && lhs.reactivated == rhs.reactivated && lhs.buildingChanges.map(\.id) == rhs.buildingChanges.map(\.id)
            && lhs.unchanged == rhs.unchanged && lhs.buildingsAdded == rhs.buildingsAdded
    }
}

extension Directory {
    /// Rows per multi-row statement (15 columns; well under both backends' bound-value limits).
    static let rowsPerStatement = 500

    /// Imports a roster in one transaction: new people are added, changed people updated (a move to
    /// another building is recorded as such, since the person must sign again — R7), people a
    /// complete roster no longer lists are deactivated (never deleted), and re-importing the same
    /// roster changes nothing. A revocation made by an administrator survives imports. With `dryRun`
    /// the report says what would change and nothing is written.
    /// `progress` hears when writing starts (a command shows it; a crash test waits for it).
    public func importRoster(
        _ roster: Roster, actor: String, dryRun: Bool = false, progress: (@Sendable (String) -> Void)? = nil
    ) async throws -> ImportReport {
        try await connection.transaction { database in
            let existing = try await database.raw("SELECT * FROM people").all().map(Self.record)
            var byID: [String: Record] = [:]
            byID.reserveCapacity(existing.count)
            for record in existing { byID[record.person.id] = record }
            let knownBuildings = Set(
                try await database.raw("SELECT id FROM buildings").all().map { try $0.decode(column: "id", as: String.self) })

            let now = unixNow()
            let importID = UUID().uuidString.lowercased()
            let source = roster.kind.rawValue
            var report = ImportReport()
            var rows: [PersonRow] = []
            var changes: [ChangeRow] = []
            var listed = Set<String>()
            listed.reserveCapacity(roster.entries.count)

            for entry in roster.entries {
                let incoming = entry.person
                listed.insert(incoming.id)
                guard let old = byID[incoming.id] else {
                    report.added.append(incoming.id)
                    rows.append(PersonRow(entry: entry, status: incoming.status, revokedBy: Self.revoker(incoming.status, source),
                        source: source, buildingSince: incoming.building == nil ? nil : now, createdAt: now, updatedAt: now))
                    changes.append(ChangeRow(personID: incoming.id, kind: "added", old: nil, new: incoming.building))
                    continue
                }
                // The status the person ends with: an administrator's revocation stands; an import's
                // own revocation follows the file.
                var status = incoming.status
                var revokedBy = Self.revoker(incoming.status, source)
                if case .revoked = old.person.status, old.revokedBy == "admin", incoming.status != .inactive {
                    status = old.person.status
                    revokedBy = "admin"
                }
                var fields: [String] = []
                if old.person.name != incoming.name { fields.append("name") }
                if old.person.role != incoming.role { fields.append("role") }
                if old.person.grade != incoming.grade { fields.append("grade") }
                if old.person.email != incoming.email { fields.append("email") }
                if old.username != entry.username { fields.append("username") }
                if old.source != source { fields.append("source") }
                var buildingSince = old.buildingSince
                if old.person.building != incoming.building {
                    fields.append("building")
                    buildingSince = now
                    if let from = old.person.building, let to = incoming.building {
                        report.buildingChanges.append((incoming.id, from, to))
                        changes.append(ChangeRow(personID: incoming.id, kind: "building", old: from, new: to))
                    } else {
                        changes.append(ChangeRow(personID: incoming.id, kind: "building", old: old.person.building, new: incoming.building))
                    }
                }
                if old.person.status != status {
                    fields.append("status")
                    let from = Self.statusText(old.person.status)
                    let to = Self.statusText(status)
                    if to == "active", from == "inactive" {
                        report.reactivated.append(incoming.id)
                        changes.append(ChangeRow(personID: incoming.id, kind: "reactivated", old: from, new: to))
                    } else {
                        changes.append(ChangeRow(personID: incoming.id, kind: to == "revoked" ? "revoked" : to == "inactive" ? "deactivated" : "restored", old: from, new: to))
                        if to == "inactive" { report.deactivated.append(incoming.id) }
                    }
                }
                guard !fields.isEmpty else {
                    report.unchanged += 1
                    continue
                }
                // A move in or out of the district is reported as such; other changes as updates.
                let statusReported = report.reactivated.last == incoming.id || report.deactivated.last == incoming.id
                let reported = statusReported ? fields.filter { $0 != "status" } : fields
                if !reported.isEmpty { report.updated.append((incoming.id, reported)) }
                rows.append(PersonRow(entry: entry, status: status, revokedBy: revokedBy, source: source,
                    buildingSince: buildingSince, createdAt: now, updatedAt: now))
            }

            // A complete roster: people it brought before and no longer lists leave (deactivated).
            var leavers: [String] = []
            if roster.complete {
                for record in existing where record.source == source && !listed.contains(record.person.id) {
                    guard record.person.status != .inactive else { continue }
                    leavers.append(record.person.id)
                    report.deactivated.append(record.person.id)
                    changes.append(ChangeRow(personID: record.person.id, kind: "deactivated", old: Self.statusText(record.person.status), new: "inactive"))
                }
            }
            let newBuildings = roster.buildings.filter { !knownBuildings.contains($0.id) }
            report.buildingsAdded = newBuildings.map(\.id)
            guard !report.changedNothing, !dryRun else { return report }

            report.importID = importID
            progress?("writing \(rows.count) people, \(changes.count) changes")
            for start in stride(from: 0, to: rows.count, by: Self.rowsPerStatement) {
                try await Self.upsert(database, Array(rows[start..<min(rows.count, start + Self.rowsPerStatement)]))
            }
            for start in stride(from: 0, to: leavers.count, by: Self.rowsPerStatement) {
                let ids = Array(leavers[start..<min(leavers.count, start + Self.rowsPerStatement)])
                try await database.update("people").set("status", to: "inactive").set("updated_at", to: now)
                    .where("id", .in, ids).run()
            }
            for start in stride(from: 0, to: changes.count, by: Self.rowsPerStatement) {
                var insert = database.insert(into: "person_changes")
                    .columns("person_id", "time", "kind", "old_value", "new_value", "import_id")
                for change in changes[start..<min(changes.count, start + Self.rowsPerStatement)] {
                    insert = insert.values(SQLBind(change.personID), SQLBind(now), SQLBind(change.kind), SQLBind(change.old),
                        SQLBind(change.new), SQLBind(importID))
                }
                try await insert.run()
            }
            for building in roster.buildings {
                try await database.insert(into: "buildings").columns("id", "name", "source", "updated_at")
                    .values(SQLBind(building.id), SQLBind(building.name), SQLBind(source), SQLBind(now))
                    .onConflict(with: ["id"]) { $0.set(excludedValueOf: "name").set(excludedValueOf: "updated_at") }
                    .run()
            }
            try await database.insert(into: "imports")
                .columns("id", "time", "kind", "source", "actor", "added", "updated", "deactivated", "reactivated", "building_changes")
                .values(SQLBind(importID), SQLBind(now), SQLBind(source), SQLBind(roster.source), SQLBind(actor),
                    SQLBind(report.added.count), SQLBind(report.updated.count), SQLBind(report.deactivated.count),
                    SQLBind(report.reactivated.count), SQLBind(report.buildingChanges.count))
                .run()
            try await AuditLog.append(
                database, actor: actor, action: "roster.import", subject: roster.source,
                detail: "\(source) import \(importID): \(report.added.count) added, \(report.updated.count) updated, "
                    + "\(report.deactivated.count) deactivated, \(report.reactivated.count) reactivated, "
                    + "\(report.buildingChanges.count) changed building")
            try await database.bumpDirectoryVersion()
            return report
        }
    }

    static func revoker(_ status: PersonStatus, _ source: String) -> String? {
        if case .revoked = status { return source }
        return nil
    }

    struct PersonRow {
        var entry: Roster.Entry
        var status: PersonStatus
        var revokedBy: String?
        var source: String
        var buildingSince: Int64?
        var createdAt: Int64
        var updatedAt: Int64
    }

    struct ChangeRow {
        var personID: String
        var kind: String
        var old: String?
        var new: String?
    }

    static let personColumns = [
        "id", "name", "role", "building", "grade", "email", "username", "status", "revoked_until", "revoked_reason",
        "revoked_by", "source", "building_since", "created_at", "updated_at",
    ]

    /// Inserts or updates people in one statement (`ON CONFLICT (id) DO UPDATE`, on both backends);
    /// `created_at` keeps its first value.
    static func upsert(_ database: any SQLDatabase, _ rows: [PersonRow]) async throws {
        guard !rows.isEmpty else { return }
        var insert = database.insert(into: "people").columns(personColumns)
        for row in rows {
            let person = row.entry.person
            var until: Int64? = nil
            var reason: String? = nil
            if case .revoked(let date, let why) = row.status {
                until = date.map { Int64($0.timeIntervalSince1970) }
                reason = why
            }
            insert = insert.values(
                SQLBind(person.id), SQLBind(person.name), SQLBind(person.role.rawValue), SQLBind(person.building),
                SQLBind(person.grade?.description), SQLBind(person.email), SQLBind(row.entry.username),
                SQLBind(statusText(row.status)), SQLBind(until), SQLBind(reason), SQLBind(row.revokedBy),
                SQLBind(row.source), SQLBind(row.buildingSince), SQLBind(row.createdAt), SQLBind(row.updatedAt))
        }
        try await insert.onConflict(with: ["id"]) { conflict in
            var conflict = conflict
            for column in personColumns where column != "id" && column != "created_at" {
                conflict = conflict.set(excludedValueOf: column)
            }
            return conflict
        }.run()
    }
}
