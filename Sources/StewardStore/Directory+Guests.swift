import Foundation
import SQLKit
import StewardPolicy

/// Visitors who sign in at the portal (000 Scope: guests abide by the same policy), and the
/// searches the console runs over the directory.
extension Directory {
    /// Adds a visitor as a person with the `guest` role; `contact` is an e-mail address or a phone
    /// number. Imports never deactivate them (their source is `portal`).
    public func addGuest(name: String, contact: String, actor: String, now: Int64 = unixNow()) async throws -> Person {
        let cleanName = name.trimmingCharacters(in: .whitespacesAndNewlines)
        let cleanContact = contact.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (2...120).contains(cleanName.count), !cleanName.contains(where: { $0.isNewline }) else {
            throw StoreError(.refused, "a visitor's full name is 2 to 120 characters")
        }
        guard Self.isContact(cleanContact) else {
            throw StoreError(.refused, "give an e-mail address or a phone number where the district can reach you")
        }
        let person = Person(
            id: "guest-" + String(UInt64.random(in: 0...UInt64(1 << 48)), radix: 36), name: cleanName, role: .guest,
            email: cleanContact)
        try await connection.transaction { database in
            try await database.raw(
                """
                INSERT INTO people (id, name, role, building, grade, email, username, status, source, created_at, updated_at)
                VALUES (\(bind: person.id), \(bind: person.name), 'guest', NULL, NULL, \(bind: cleanContact), NULL, 'active',
                  'portal', \(bind: now), \(bind: now))
                """
            ).run()
            try await AuditLog.append(database, actor: actor, action: "guest.add", subject: person.id, detail: "")
            try await database.bumpDirectoryVersion()
        }
        return person
    }

    /// An e-mail address (something@domain.tld) or a phone number (7–15 digits, with the usual
    /// separators).
    static func isContact(_ text: String) -> Bool {
        guard (3...254).contains(text.count) else { return false }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        if parts.count == 2 {
            return !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
                && !text.contains(where: { $0.isWhitespace })
        }
        let digits = text.filter(\.isNumber)
        let allowed = text.allSatisfy { $0.isNumber || " +-().".contains($0) }
        return allowed && (7...15).contains(digits.count)
    }

    /// People whose name, id, username or e-mail contains `text`, in `buildings` (nil: every
    /// building), at most `limit`.
    public func search(_ text: String, buildings: Set<String>?, limit: Int = 200) async throws -> [Record] {
        let pattern = "%" + text.lowercased().replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
        return try await connection.run { database in
            try await database.raw(
                """
                SELECT * FROM people WHERE LOWER(name) LIKE \(bind: pattern) ESCAPE '\\' OR LOWER(id) LIKE \(bind: pattern) ESCAPE '\\'
                  OR LOWER(COALESCE(username, '')) LIKE \(bind: pattern) ESCAPE '\\'
                  OR LOWER(COALESCE(email, '')) LIKE \(bind: pattern) ESCAPE '\\'
                ORDER BY name, id LIMIT \(bind: limit * 4)
                """
            ).all().map(Self.record).filter { record in
                guard let buildings else { return true }
                return record.person.building.map(buildings.contains) ?? false
            }.prefix(limit).map { $0 }
        }
    }

    /// Every building the directory knows, id → name.
    public func buildings() async throws -> [(id: String, name: String)] {
        try await connection.run { database in
            try await database.raw("SELECT id, name FROM buildings ORDER BY id").all().map {
                (try $0.decode(column: "id", as: String.self), try $0.decode(column: "name", as: String.self))
            }
        }
    }

    /// Open sessions of one person.
    public func sessions(of personID: String, now: Int64 = unixNow()) async throws -> [SessionRecord] {
        try await activeSessions(now: now).filter { $0.person.id == personID }.map(\.session)
    }
}
