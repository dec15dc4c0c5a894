import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import PostgresNIO
import SQLKit
import SQLiteKit
import StewardPolicy
import Synchronization

/// Which database a node keeps its data in.
public enum StoreBackend: Sendable, CustomStringConvertible {
    /// One SQLite file (WAL mode): the embedded default.
    case sqlite(path: String)
    /// A PostgreSQL server, for districts that run several nodes.
    case postgres(url: String)

    public var description: String {
        switch self {
        case .sqlite(let path): "SQLite \(path)"
        case .postgres(let url): "PostgreSQL \(redactingPassword(url))"
        }
    }
}

/// One connection to the store, used by one owner (the activity writer, the directory, a
/// command). Statements run one sequence at a time under a lock, so a transaction's statements
/// never interleave with another caller's. A PostgreSQL connection that dropped is opened again on
/// the next use.
public final class StoreConnection: Sendable {
    public enum Dialect: Sendable { case sqlite, postgres }

    private enum Link {
        case sqlite(SQLiteConnection)
        case postgres(PostgresConnection)
    }

    public let dialect: Dialect
    let backend: StoreBackend
    let logger: Logger
    private let link: Mutex<Link>
    private let lock = AsyncLock()

    private init(backend: StoreBackend, link: Link, logger: Logger) {
        self.backend = backend
        self.logger = logger
        self.link = Mutex(link)
        switch link {
        case .sqlite: dialect = .sqlite
        case .postgres: dialect = .postgres
        }
    }

    /// Opens a connection. `durable` asks SQLite to sync every commit to disk (directory and audit
    /// records); without it a commit survives a crash of the process but may be lost on power loss
    /// (activity, written many times a second).
    public static func open(_ backend: StoreBackend, durable: Bool = true, logger: Logger) async throws
        -> StoreConnection
    {
        switch backend {
        case .sqlite(let path):
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            let connection: SQLiteConnection
            do {
                connection = try await SQLiteConnection.open(
                    storage: .file(path: path), threadPool: .singleton, logger: logger,
                    on: MultiThreadedEventLoopGroup.singleton.any()
                ).get()
            } catch {
                throw StoreError(.unavailable, "cannot open the SQLite store at \(path): \(error)", underlying: error)
            }
            do {
                for pragma in [
                    "PRAGMA journal_mode=WAL", "PRAGMA synchronous=\(durable ? "FULL" : "NORMAL")",
                    "PRAGMA busy_timeout=15000", "PRAGMA foreign_keys=ON",
                ] {
                    _ = try await connection.query(pragma)
                }
            } catch {
                try? await connection.close().get()
                throw StoreError(.unavailable, "cannot prepare the SQLite store at \(path): \(error)", underlying: error)
            }
            return StoreConnection(backend: backend, link: .sqlite(connection), logger: logger)
        case .postgres(let url):
            let connection = try await connectPostgres(url: url, logger: logger)
            return StoreConnection(backend: backend, link: .postgres(connection), logger: logger)
        }
    }

    private static func connectPostgres(url: String, logger: Logger) async throws -> PostgresConnection {
        let configuration: SQLPostgresConfiguration
        do {
            configuration = try SQLPostgresConfiguration(url: url)
        } catch {
            throw StoreError(.unavailable, "'\(redactingPassword(url))' is not a usable PostgreSQL URL", underlying: error)
        }
        do {
            return try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration.coreConfiguration,
                id: Int.random(in: 1...Int(Int32.max)), logger: logger)
        } catch {
            throw StoreError(
                .unavailable, "cannot connect to PostgreSQL at \(redactingPassword(url)): \(String(reflecting: error))",
                underlying: error)
        }
    }

    /// The SQLKit view of the live connection (reconnecting PostgreSQL if it dropped).
    private func database() async throws -> any SQLDatabase {
        switch link.withLock({ $0 }) {
        case .sqlite(let connection):
            return connection.sql()
        case .postgres(let connection):
            guard connection.isClosed, case .postgres(let url) = backend else { return connection.sql() }
            logger.warning("PostgreSQL connection lost; connecting again")
            let fresh = try await Self.connectPostgres(url: url, logger: logger)
            link.withLock { $0 = .postgres(fresh) }
            return fresh.sql()
        }
    }

    /// Runs `body` with the connection to itself (no transaction).
    public func run<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await lock.withLock { try await body(try await database()) }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    /// SQLite takes the write lock at the start (`BEGIN IMMEDIATE`) so two writers queue instead of
    /// failing half-way.
    public func transaction<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await lock.withLock {
            let database = try await database()
            try await database.raw(dialect == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN").run()
            do {
                let result = try await body(database)
                try await database.raw("COMMIT").run()
                return result
            } catch {
                try? await database.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    /// Runs `body` with the raw PostgreSQL connection (bulk paths that bind values directly).
    func withPostgres<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T? {
        guard dialect == .postgres else { return nil }
        return try await lock.withLock {
            _ = try await database()
            guard case .postgres(let connection) = link.withLock({ $0 }) else { return nil }
            return try await body(connection)
        }
    }

    public func close() async {
        await lock.withLock {
            switch link.withLock({ $0 }) {
            case .sqlite(let connection): try? await connection.close().get()
            case .postgres(let connection): try? await connection.close()
            }
        }
    }
}
