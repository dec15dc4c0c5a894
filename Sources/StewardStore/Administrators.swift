import Foundation
import HummingbirdBcrypt
import NIOPosix
import SQLKit
import StewardPolicy

/// The people who run Steward, each with a role and, for building administrators, the buildings
/// they may see (least privilege, R10). Passwords are kept as bcrypt hashes only.
public struct Administrators: Sendable {
    let store: Store
    var connection: StoreConnection { store.connection }

    public enum Role: String, Sendable, CaseIterable {
        /// Everything, every building.
        case districtAdmin = "district-admin"
        /// People, acknowledgments and activity of their own buildings.
        case buildingAdmin = "building-admin"
        /// Acknowledgment records for personnel files.
        case hr
        /// Reads everything, changes nothing.
        case auditor
    }

    public struct Account: Sendable, Hashable {
        public var username: String
        public var role: Role
        public var buildings: [String]
        public var disabled: Bool
        public var createdAt: Int64
    }

    /// bcrypt's work factor: about a quarter of a second per check here.
    public static let defaultCost: UInt8 = 12
    /// bcrypt reads at most 72 bytes; longer passwords are refused rather than silently cut.
    static let passwordBytes = 8...72

    static func checkPassword(_ password: String) throws {
        guard passwordBytes.contains(password.utf8.count) else {
            throw StoreError(.refused, "a password must be 8 to 72 bytes long")
        }
    }

    static func checkUsername(_ username: String) throws {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._-@"))
        guard (1...64).contains(username.count), username.unicodeScalars.allSatisfy(allowed.contains) else {
            throw StoreError(.refused, "'\(username)' is not a username: 1–64 letters, digits, '.', '_', '-' or '@'")
        }
    }

    public func create(
        username: String, password: String, role: Role, buildings: [String], actor: String, cost: UInt8 = defaultCost
    ) async throws {
        try Self.checkUsername(username)
        try Self.checkPassword(password)
        if role == .buildingAdmin, buildings.isEmpty {
            throw StoreError(.refused, "a building administrator needs at least one building (--building)")
        }
        if role != .buildingAdmin, !buildings.isEmpty {
            throw StoreError(.refused, "only a building administrator is scoped to buildings")
        }
        let hash = try await Self.hash(password, cost: cost)
        try await connection.transaction { database in
            if try await database.raw("SELECT username FROM admins WHERE username = \(bind: username)").first() != nil {
                throw StoreError(.refused, "an administrator named '\(username)' already exists")
            }
            let now = unixNow()
            try await database.raw(
                """
                INSERT INTO admins (username, password_hash, role, buildings, disabled, created_at, updated_at)
                VALUES (\(bind: username), \(bind: hash), \(bind: role.rawValue), \(bind: buildings.joined(separator: ",")),
                  0, \(bind: now), \(bind: now))
                """
            ).run()
            try await AuditLog.append(
                database, actor: actor, action: "admin.create", subject: "admin:\(username)",
                detail: "role \(role.rawValue)" + (buildings.isEmpty ? "" : ", buildings \(buildings.joined(separator: ","))"))
        }
    }

    public func setPassword(username: String, password: String, actor: String, cost: UInt8 = defaultCost) async throws {
        try Self.checkPassword(password)
        let hash = try await Self.hash(password, cost: cost)
        try await connection.transaction { database in
            guard try await database.raw("SELECT username FROM admins WHERE username = \(bind: username)").first() != nil
            else { throw StoreError(.notFound, "no administrator named '\(username)'") }
            try await database.raw(
                "UPDATE admins SET password_hash = \(bind: hash), updated_at = \(bind: unixNow()) WHERE username = \(bind: username)"
            ).run()
            try await AuditLog.append(database, actor: actor, action: "admin.passwd", subject: "admin:\(username)", detail: "")
        }
    }

    public func list() async throws -> [Account] {
        try await connection.run { database in
            try await database.raw("SELECT * FROM admins ORDER BY username").all().map { row in
                let buildings = try row.decode(column: "buildings", as: String.self)
                return Account(
                    username: try row.decode(column: "username", as: String.self),
                    role: Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .auditor,
                    buildings: buildings.isEmpty ? [] : buildings.split(separator: ",").map(String.init),
                    disabled: try row.decode(column: "disabled", as: Int.self) != 0,
                    createdAt: try row.decode(column: "created_at", as: Int64.self))
            }
        }
    }

    /// The account when the password is right and the account enabled; nil otherwise. The hash is
    /// checked even for an unknown name, so timing does not tell which names exist.
    public func authenticate(username: String, password: String) async throws -> Account? {
        let row = try await connection.run { database in
            try await database.raw(
                "SELECT password_hash, disabled FROM admins WHERE username = \(bind: username)"
            ).first()
        }
        let hash = try row?.decode(column: "password_hash", as: String.self) ?? Self.decoyHash
        let valid = try await PasswordHashing.pool.runIfActive { Bcrypt.verify(password, hash: hash) }
        guard valid, let row, try row.decode(column: "disabled", as: Int.self) == 0 else { return nil }
        return try await list().first { $0.username == username }
    }

    /// A hash of nothing anyone knows, checked for unknown names (a fixed string: hashing one at
    /// run time would cost a quarter of a second on first use).
    static let decoyHash = "$2b$12$GWndfUPxKgzwTYWCEwE9euTOF/e/BgnsinPrrQURex.5BdDglFmy6"

    /// bcrypt is a quarter of a second of CPU by design: it runs on the thread pool, never on the
    /// threads that run async tasks and event loops.
    static func hash(_ password: String, cost: UInt8) async throws -> String {
        try await PasswordHashing.pool.runIfActive { Bcrypt.hash(password, cost: cost) }
    }
}
