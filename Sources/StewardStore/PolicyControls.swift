import Foundation
import SQLKit
import StewardPolicy

/// Policy that administrators change from the console and every node compiles in: the "work only"
/// switch per group (R20) and consents for publishing a student's work (R18).
public struct PolicyControls: Sendable {
    let store: Store
    var connection: StoreConnection { store.connection }

    /// The switches set from the console (group id → work only); groups not here keep the
    /// configuration's setting.
    public func workOnlySwitches() async throws -> [String: Bool] {
        try await connection.run { database in
            var result: [String: Bool] = [:]
            for row in try await database.raw("SELECT group_id, work_only FROM group_switches").all() {
                result[try row.decode(column: "group_id", as: String.self)] = try row.decode(column: "work_only", as: Int.self) != 0
            }
            return result
        }
    }

    public func setWorkOnly(groupID: String, on: Bool, actor: String) async throws {
        try await connection.transaction { database in
            try await database.raw("DELETE FROM group_switches WHERE group_id = \(bind: groupID)").run()
            try await database.raw(
                """
                INSERT INTO group_switches (group_id, work_only, changed_by, changed_at)
                VALUES (\(bind: groupID), \(bind: on ? 1 : 0), \(bind: actor), \(bind: unixNow()))
                """
            ).run()
            try await database.bumpPolicyVersion()
            try await AuditLog.append(
                database, actor: actor, action: on ? "group.work-only.on" : "group.work-only.off", subject: "group:\(groupID)",
                detail: "")
        }
    }

    /// The version of the policy held in the store; nodes recompile when it changes.
    public func version() async throws -> Int64 {
        try await connection.run { database in
            try await database.raw("SELECT value FROM store_state WHERE key = 'policy-version'").first()?
                .decode(column: "value", as: Int64.self) ?? 0
        }
    }

    // MARK: Consents (R18)

    public struct Consent: Sendable, Hashable {
        public var personID: String
        public var time: Int64
        public var kind: String
        public var granted: Bool
        public var recordedBy: String
        public var note: String
    }

    public static let publicationConsent = "publish-work"

    /// Records a parent's answer (staff enter it from the signed form); the history is kept.
    public func recordConsent(personID: String, granted: Bool, note: String, actor: String) async throws {
        try await connection.transaction { database in
            guard let row = try await database.raw("SELECT role FROM people WHERE id = \(bind: personID)").first() else {
                throw StoreError(.notFound, "no person with id '\(personID)'")
            }
            guard try row.decode(column: "role", as: String.self) == "student" else {
                throw StoreError(.refused, "parental permission is recorded for students only")
            }
            let seq = (try await database.raw("SELECT MAX(seq) AS n FROM consents").first()?
                .decode(column: "n", as: Int64?.self) ?? 0) + 1
            try await database.raw(
                """
                INSERT INTO consents (seq, person_id, time, kind, granted, recorded_by, note)
                VALUES (\(bind: seq), \(bind: personID), \(bind: unixNow()), \(bind: Self.publicationConsent), \(bind: granted ? 1 : 0),
                  \(bind: actor), \(bind: String(note.prefix(500))))
                """
            ).run()
            try await AuditLog.append(
                database, actor: actor, action: granted ? "consent.grant" : "consent.withdraw", subject: personID,
                detail: Self.publicationConsent)
        }
    }

    /// A person's consent history, newest first (the first is the one in force).
    public func consents(of personID: String) async throws -> [Consent] {
        try await connection.run { database in
            try await database.raw(
                "SELECT * FROM consents WHERE person_id = \(bind: personID) ORDER BY seq DESC"
            ).all().map { row in
                Consent(
                    personID: try row.decode(column: "person_id", as: String.self),
                    time: try row.decode(column: "time", as: Int64.self), kind: try row.decode(column: "kind", as: String.self),
                    granted: try row.decode(column: "granted", as: Int.self) != 0,
                    recordedBy: try row.decode(column: "recorded_by", as: String.self),
                    note: try row.decode(column: "note", as: String.self))
            }
        }
    }
}
