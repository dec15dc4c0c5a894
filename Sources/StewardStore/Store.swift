import Foundation
import Logging
import SQLKit

/// The district's store: the directory (people, buildings, devices, identity sessions),
/// administrators, the audit log, and activity. SQLite in the data directory by default; PostgreSQL
/// when the configuration gives a URL. Both go through the same repositories (SQLKit); the schema is
/// migrated forward when the store opens.
public final class Store: Sendable {
    public let backend: StoreBackend
    /// The connection the directory, administrators and audit log use.
    public let connection: StoreConnection
    let logger: Logger

    private init(backend: StoreBackend, connection: StoreConnection, logger: Logger) {
        self.backend = backend
        self.connection = connection
        self.logger = logger
    }

    /// Opens the store and brings its schema up to date.
    public static func open(_ backend: StoreBackend, logger: Logger) async throws -> Store {
        let connection = try await StoreConnection.open(backend, durable: true, logger: logger)
        do {
            let applied = try await Migrations.apply(on: connection)
            if !applied.isEmpty {
                logger.info("store migrated", metadata: ["store": "\(backend)", "versions": "\(applied)"])
            }
        } catch let error as StoreError {
            await connection.close()
            throw error
        } catch {
            await connection.close()
            throw StoreError(.query, "cannot migrate the store (\(backend)): \(String(reflecting: error))", underlying: error)
        }
        return Store(backend: backend, connection: connection, logger: logger)
    }

    /// The schema version the store is at.
    public func schemaVersion() async throws -> Int {
        try await connection.run { database in
            let row = try await database.raw("SELECT MAX(version) AS v FROM schema_migrations").first()
            return try row?.decode(column: "v", as: Int?.self) ?? 0
        }
    }

    public var directory: Directory { Directory(store: self) }
    public var audit: AuditLog { AuditLog(connection: connection) }
    public var administrators: Administrators { Administrators(store: self) }
    public var acknowledgments: Acknowledgments { Acknowledgments(store: self) }
    public var credentials: Credentials { Credentials(store: self) }
    public var reviews: Reviews { Reviews(store: self) }
    public var controls: PolicyControls { PolicyControls(store: self) }

    /// A second connection for the activity writer, so a long import never holds up the writer's
    /// connection lock (SQLite still serialises the two writers, briefly, at commit).
    public func openActivity() async throws -> ActivityRepository {
        let connection = try await StoreConnection.open(backend, durable: false, logger: logger)
        do {
            return try ActivityRepository(connection: connection)
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Writes a consistent copy of a SQLite store to `path` while it stays online (`VACUUM INTO`).
    /// PostgreSQL districts back up with `pg_dump`.
    public func backup(to path: String) async throws {
        guard case .sqlite = backend else {
            throw StoreError(.refused, "steward backup copies the SQLite store; back up PostgreSQL with pg_dump")
        }
        if FileManager.default.fileExists(atPath: path) {
            throw StoreError(.refused, "\(path) already exists; the backup never overwrites a file")
        }
        try await connection.run { database in
            try await database.raw("VACUUM INTO \(bind: path)").run()
        }
    }

    public func close() async {
        await connection.close()
    }
}

extension SQLDatabase {
    /// Runs one statement given as text (schema steps).
    func execute(_ statement: String) async throws {
        try await execute(sql: SQLRaw(statement)) { _ in }
    }

    /// Adds one to the directory's version, which every node polls to know when to reload people and
    /// sessions.
    func bumpDirectoryVersion() async throws {
        try await raw("UPDATE store_state SET value = value + 1 WHERE key = 'directory-version'").run()
    }
}

/// Seconds since 1970, as the store keeps times.

