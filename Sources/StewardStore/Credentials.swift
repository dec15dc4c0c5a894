import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix
import SQLKit
import StewardPolicy

/// District credentials for roster people, kept by Steward for the portal (bcrypt only), and the
/// one-time links that let a person choose their own password. Never a personal online account's
/// credentials (003, Conn. Gen. Stat. 31-40x): only what the district itself issues.
public struct Credentials: Sendable {
    let store: Store
    var connection: StoreConnection { store.connection }

    /// Cheaper than an administrator's (about 60 ms here), so that a whole class signing in when the
    /// bell rings does not queue for seconds; still well above what an offline guess can afford.
    public static let defaultCost: UInt8 = 10

    public func setPassword(personID: String, password: String, actor: String, cost: UInt8 = defaultCost) async throws {
        try Administrators.checkPassword(password)
        let hash = try await Administrators.hash(password, cost: cost)
        try await connection.transaction { database in
            try await Self.store(database, personID: personID, hash: hash, actor: actor)
        }
    }

    static func store(_ database: any SQLDatabase, personID: String, hash: String, actor: String) async throws {
        guard try await database.raw("SELECT id FROM people WHERE id = \(bind: personID)").first() != nil else {
            throw StoreError(.notFound, "no person with id '\(personID)'")
        }
        let now = unixNow()
        try await database.raw("DELETE FROM person_credentials WHERE person_id = \(bind: personID)").run()
        try await database.raw(
            """
            INSERT INTO person_credentials (person_id, password_hash, set_at, set_by)
            VALUES (\(bind: personID), \(bind: hash), \(bind: now), \(bind: actor))
            """
        ).run()
        try await AuditLog.append(database, actor: actor, action: "credential.set", subject: personID, detail: "")
    }

    /// Sets many passwords in one transaction (an initial issue for a school): every id must exist,
    /// or nothing changes.
    public func setPasswords(_ entries: [(personID: String, password: String)], actor: String, cost: UInt8 = defaultCost)
        async throws
    {
        for entry in entries { try Administrators.checkPassword(entry.password) }
        var hashed: [(String, String)] = []
        for entry in entries { hashed.append((entry.personID, try await Administrators.hash(entry.password, cost: cost))) }
        try await connection.transaction { database in
            for (personID, hash) in hashed { try await Self.store(database, personID: personID, hash: hash, actor: actor) }
        }
    }

    /// A one-time link token for `personID`, valid for `seconds`. Only its SHA-256 is stored.
    public func issueLink(personID: String, actor: String, validFor seconds: Int64 = 7 * 86_400) async throws -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        let token = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let now = unixNow()
        try await connection.transaction { database in
            guard try await database.raw("SELECT id FROM people WHERE id = \(bind: personID)").first() != nil else {
                throw StoreError(.notFound, "no person with id '\(personID)'")
            }
            try await database.raw(
                """
                INSERT INTO credential_tokens (token_hash, person_id, created_at, created_by, expires_at)
                VALUES (\(bind: Acknowledgments.sha256(token)), \(bind: personID), \(bind: now), \(bind: actor),
                  \(bind: now + seconds))
                """
            ).run()
            try await AuditLog.append(database, actor: actor, action: "credential.link", subject: personID, detail: "")
        }
        return token
    }

    /// The person a link token is for, if it is unused and unexpired.
    public func personForLink(_ token: String) async throws -> String? {
        try await connection.run { database in
            try await database.raw(
                """
                SELECT person_id FROM credential_tokens WHERE token_hash = \(bind: Acknowledgments.sha256(token))
                  AND used_at IS NULL AND expires_at > \(bind: unixNow())
                """
            ).first()?.decode(column: "person_id", as: String.self)
        }
    }

    /// Sets the password through a link, which is then used up.
    public func redeemLink(_ token: String, password: String, cost: UInt8 = defaultCost) async throws -> String {
        try Administrators.checkPassword(password)
        let hash = try await Administrators.hash(password, cost: cost)
        return try await connection.transaction { database in
            let tokenHash = Acknowledgments.sha256(token)
            guard
                let personID = try await database.raw(
                    """
                    SELECT person_id FROM credential_tokens WHERE token_hash = \(bind: tokenHash)
                      AND used_at IS NULL AND expires_at > \(bind: unixNow())
                    """
                ).first()?.decode(column: "person_id", as: String.self)
            else { throw StoreError(.refused, "this link has expired or was already used; ask for a new one") }
            try await database.raw(
                "UPDATE credential_tokens SET used_at = \(bind: unixNow()) WHERE token_hash = \(bind: tokenHash)"
            ).run()
            try await Self.store(database, personID: personID, hash: hash, actor: "link")
            return personID
        }
    }

    /// The person whose id, username or e-mail is `login` and whose password is `password`; nil
    /// otherwise. The hash is checked even when nobody matches, so timing tells nothing.
    public func authenticate(login: String, password: String) async throws -> Directory.Record? {
        let name = login.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.utf8.count <= 254, password.utf8.count <= 72 else { return nil }
        let row = try await connection.run { database in
            try await database.raw(
                """
                SELECT p.*, c.password_hash AS password_hash FROM people p
                JOIN person_credentials c ON c.person_id = p.id
                WHERE p.id = \(bind: name) OR LOWER(p.username) = \(bind: name.lowercased())
                  OR LOWER(p.email) = \(bind: name.lowercased())
                ORDER BY p.id LIMIT 1
                """
            ).first()
        }
        let hash = try row?.decode(column: "password_hash", as: String.self) ?? Self.decoyHash
        let valid = try await PasswordHashing.pool.runIfActive { Bcrypt.verify(password, hash: hash) }
        guard valid, let row else { return nil }
        return try Directory.record(row)
    }

    public func hasPassword(personID: String) async throws -> Bool {
        try await connection.run { database in
            try await database.raw("SELECT person_id FROM person_credentials WHERE person_id = \(bind: personID)").first() != nil
        }
    }

    /// A cost-10 hash of nothing anyone knows, for unknown logins.
    static let decoyHash = "$2b$10$CwTycUXWue0Thq9StjUM0uJ8DYhC1G7S8e5bWnZb1vYyKTi7Pb4mK"
}
