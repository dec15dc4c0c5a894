import Foundation
import SQLKit
import StewardPolicy

/// The district's people, buildings and devices as the store keeps them, and the changes made to
/// them. Every change runs in one transaction with its audit entry and bumps the directory version
/// that nodes poll to refresh their in-memory view.
public struct Directory: Sendable {
    let store: Store
    var connection: StoreConnection { store.connection }

    /// A person as stored, with what the store keeps beyond the policy's `Person`.
    public struct Record: Sendable, Hashable {
        public var person: Person
        public var username: String?
        /// Which import brought them (`oneroster`, `csv`) or `admin`.
        public var source: String
        /// Who revoked them (`admin` or an import kind), when revoked.
        public var revokedBy: String?
        /// Since when they are in their current building (seconds since 1970).
        public var buildingSince: Int64?
    }

    /// Every person, in id order.
    public func people() async throws -> [Record] {
        try await connection.run { database in
            try await database.raw("SELECT * FROM people ORDER BY id").all().map(Self.record)
        }
    }

    public func person(id: String) async throws -> Record? {
        try await connection.run { database in
            try await database.raw("SELECT * FROM people WHERE id = \(bind: id)").first().map(Self.record)
        }
    }

    public func count() async throws -> Int {
        try await connection.run { database in
            try await database.raw("SELECT COUNT(*) AS n FROM people").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// The directory's version: it changes whenever people, devices or sessions change.
    public func version() async throws -> Int64 {
        try await connection.run { database in
            try await database.raw("SELECT value FROM store_state WHERE key = 'directory-version'").first()?
                .decode(column: "value", as: Int64.self) ?? 0
        }
    }

    /// The recorded changes of a person, oldest first (building moves, deactivation, revocation…).
    public func changes(of personID: String) async throws -> [(time: Int64, kind: String, old: String?, new: String?)] {
        try await connection.run { database in
            try await database.raw(
                "SELECT time, kind, old_value, new_value FROM person_changes WHERE person_id = \(bind: personID) ORDER BY time, kind"
            ).all().map { row in
                (
                    try row.decode(column: "time", as: Int64.self), try row.decode(column: "kind", as: String.self),
                    try row.decode(column: "old_value", as: String?.self),
                    try row.decode(column: "new_value", as: String?.self)
                )
            }
        }
    }

    /// Revokes a person's access (R13) until a date or until restored, with the reason.
    public func revoke(_ personID: String, until: Date?, reason: String, actor: String) async throws {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw StoreError(.refused, "a revocation needs its reason")
        }
        try await connection.transaction { database in
            guard let existing = try await database.raw("SELECT * FROM people WHERE id = \(bind: personID)").first().map(Self.record)
            else { throw StoreError(.notFound, "no person with id '\(personID)'") }
            let now = unixNow()
            let until = until.map { Int64($0.timeIntervalSince1970) }
            try await database.raw(
                """
                UPDATE people SET status = 'revoked', revoked_until = \(bind: until), revoked_reason = \(bind: reason),
                  revoked_by = 'admin', updated_at = \(bind: now) WHERE id = \(bind: personID)
                """
            ).run()
            try await Self.recordChange(
                database, personID, "revoked", old: Self.statusText(existing.person.status), new: reason, importID: nil, time: now)
            try await AuditLog.append(
                database, actor: actor, action: "person.revoke", subject: personID,
                detail: "until \(until.map { String($0) } ?? "restored"): \(reason)")
            try await database.bumpDirectoryVersion()
        }
    }

    /// Restores a revoked person's access.
    public func restore(_ personID: String, actor: String) async throws {
        try await connection.transaction { database in
            guard let existing = try await database.raw("SELECT * FROM people WHERE id = \(bind: personID)").first().map(Self.record)
            else { throw StoreError(.notFound, "no person with id '\(personID)'") }
            guard case .revoked = existing.person.status else {
                throw StoreError(.refused, "\(personID) is not revoked")
            }
            let now = unixNow()
            try await database.raw(
                """
                UPDATE people SET status = 'active', revoked_until = NULL, revoked_reason = NULL, revoked_by = NULL,
                  updated_at = \(bind: now) WHERE id = \(bind: personID)
                """
            ).run()
            try await Self.recordChange(database, personID, "restored", old: "revoked", new: "active", importID: nil, time: now)
            try await AuditLog.append(database, actor: actor, action: "person.restore", subject: personID, detail: "")
            try await database.bumpDirectoryVersion()
        }
    }

    // MARK: Rows

    static func record(_ row: any SQLRow) throws -> Record {
        let statusText = try row.decode(column: "status", as: String.self)
        let status: PersonStatus
        switch statusText {
        case "inactive": status = .inactive
        case "revoked":
            let until = try row.decode(column: "revoked_until", as: Int64?.self)
            status = .revoked(
                until: until.map { Date(timeIntervalSince1970: TimeInterval($0)) },
                reason: try row.decode(column: "revoked_reason", as: String?.self) ?? "")
        default: status = .active
        }
        let person = Person(
            id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
            role: Role(try row.decode(column: "role", as: String.self)),
            building: try row.decode(column: "building", as: String?.self),
            grade: try row.decode(column: "grade", as: String?.self).flatMap(Grade.init),
            email: try row.decode(column: "email", as: String?.self), status: status)
        return Record(
            person: person, username: try row.decode(column: "username", as: String?.self),
            source: try row.decode(column: "source", as: String.self),
            revokedBy: try row.decode(column: "revoked_by", as: String?.self),
            buildingSince: try row.decode(column: "building_since", as: Int64?.self))
    }

    static func statusText(_ status: PersonStatus) -> String {
        switch status {
        case .active: "active"
        case .inactive: "inactive"
        case .revoked: "revoked"
        }
    }

    static func recordChange(
        _ database: any SQLDatabase, _ personID: String, _ kind: String, old: String?, new: String?, importID: String?,
        time: Int64
    ) async throws {
        try await database.raw(
            """
            INSERT INTO person_changes (person_id, time, kind, old_value, new_value, import_id)
            VALUES (\(bind: personID), \(bind: time), \(bind: kind), \(bind: old), \(bind: new), \(bind: importID))
            """
        ).run()
    }
}
