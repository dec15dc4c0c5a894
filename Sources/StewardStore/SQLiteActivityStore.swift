import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLiteKit
import StewardActivity

/// Activity kept in SQLite in the data directory (WAL mode): each batch is one transaction, so a
/// crash loses at most the batch being written and never corrupts what is stored.
public actor SQLiteActivityStore: ActivityStore {
    private let connection: SQLiteConnection
    private let database: any SQLDatabase
    public nonisolated let path: String

    /// Rows per INSERT statement (21 columns; SQLite allows 32,766 bound values per statement).
    static let rowsPerStatement = 1000

    public static func open(path: String, logger: Logger) async throws -> SQLiteActivityStore {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: .singleton, logger: logger,
            on: MultiThreadedEventLoopGroup.singleton.any()
        ).get()
        let store = SQLiteActivityStore(connection: connection, path: path)
        try await store.migrate()
        return store
    }

    private init(connection: SQLiteConnection, path: String) {
        self.connection = connection
        self.database = connection.sql()
        self.path = path
    }

    private func migrate() async throws {
        try await database.raw("PRAGMA journal_mode=WAL").run()
        try await database.raw("PRAGMA synchronous=NORMAL").run()
        try await database.raw("PRAGMA busy_timeout=5000").run()
        try await database.create(table: "activity").ifNotExists()
            .column("time", type: .bigint, .notNull)
            .column("source", type: .text, .notNull)
            .column("client", type: .text, .notNull)
            .column("person_id", type: .text)
            .column("group_id", type: .text)
            .column("name", type: .text, .notNull)
            .column("query_type", type: .int)
            .column("method", type: .text)
            .column("path", type: .text)
            .column("action", type: .text, .notNull)
            .column("cause", type: .text, .notNull)
            .column("rule", type: .text)
            .column("categories", type: .text)
            .column("clause_document", type: .text)
            .column("clause_section", type: .text)
            .column("response_code", type: .int)
            .column("latency_us", type: .int)
            .column("cache_hit", type: .int)
            .column("upstream", type: .int)
            .column("bytes_in", type: .bigint)
            .column("bytes_out", type: .bigint)
            .run()
        try await database.raw("CREATE INDEX IF NOT EXISTS activity_time ON activity (time)").run()
        try await database.raw("CREATE INDEX IF NOT EXISTS activity_person_time ON activity (person_id, time)").run()
    }

    static let columns = [
        "time", "source", "client", "person_id", "group_id", "name", "query_type", "method", "path", "action",
        "cause", "rule", "categories", "clause_document", "clause_section", "response_code", "latency_us", "cache_hit",
        "upstream", "bytes_in", "bytes_out",
    ]

    /// Writes a batch in one transaction. The INSERT binds SQLite values directly: going through
    /// SQLKit's per-value encoder cost more CPU than the DNS answers it recorded (measured with
    /// `perf` under the DNS benchmark).
    public func write(_ records: [ActivityRecord]) async throws {
        guard !records.isEmpty else { return }
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            var start = 0
            while start < records.count {
                let end = min(records.count, start + Self.rowsPerStatement)
                var binds: [SQLiteData] = []
                binds.reserveCapacity((end - start) * Self.columns.count)
                for record in records[start..<end] { Self.appendValues(of: record, to: &binds) }
                _ = try await connection.query(Self.insertStatement(rows: end - start), binds)
                start = end
            }
            _ = try await connection.query("COMMIT")
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
    }

    /// `INSERT INTO activity (…) VALUES (?, …), …` for `rows` rows; the full-size one is built once.
    static func insertStatement(rows: Int) -> String {
        rows == rowsPerStatement ? fullInsert : makeInsert(rows: rows)
    }

    static let fullInsert = makeInsert(rows: rowsPerStatement)

    static func makeInsert(rows: Int) -> String {
        let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")"
        return "INSERT INTO activity (" + columns.joined(separator: ",") + ") VALUES "
            + Array(repeating: row, count: rows).joined(separator: ",")
    }

    static func appendValues(of record: ActivityRecord, to binds: inout [SQLiteData]) {
        func text(_ value: String?) -> SQLiteData { value.map { .text($0) } ?? .null }
        binds.append(.integer(Int(record.time)))
        binds.append(.text(record.source))
        binds.append(.text(record.client))
        binds.append(text(record.personID))
        binds.append(text(record.group))
        binds.append(.text(record.name))
        binds.append(.integer(record.queryType))
        binds.append(text(record.method))
        binds.append(text(record.path))
        binds.append(.text(record.action))
        binds.append(.text(record.cause))
        binds.append(text(record.rule))
        binds.append(.text(record.categories.joined(separator: ",")))
        binds.append(text(record.clauseDocument))
        binds.append(text(record.clauseSection))
        binds.append(.integer(record.responseCode))
        binds.append(.integer(record.latencyMicros))
        binds.append(.integer(record.cacheHit ? 1 : 0))
        binds.append(.integer(record.upstream))
        binds.append(.integer(Int(record.bytesIn)))
        binds.append(.integer(Int(record.bytesOut)))
    }

    public func purge(olderThan cutoff: Int64) async throws -> Int {
        let rows = try await database.raw("DELETE FROM activity WHERE time < \(bind: cutoff) RETURNING 1 AS n").all()
        return rows.count
    }

    /// Number of events stored (for tests and reports).
    public func count() async throws -> Int {
        let row = try await database.raw("SELECT COUNT(*) AS n FROM activity").first()
        return try row?.decode(column: "n", as: Int.self) ?? 0
    }

    /// The most recent events for a name, newest first (for tests and `steward activity`).
    public func recent(name: String, limit: Int = 50) async throws -> [(action: String, rule: String?, client: String)] {
        let rows = try await database.raw(
            "SELECT action, rule, client FROM activity WHERE name = \(bind: name) ORDER BY time DESC LIMIT \(bind: limit)"
        ).all()
        return try rows.map { row in
            (
                try row.decode(column: "action", as: String.self), try row.decode(column: "rule", as: String?.self),
                try row.decode(column: "client", as: String.self)
            )
        }
    }

    private var closed = false

    public func close() async throws {
        guard !closed else { return }
        closed = true
        try await connection.close().get()
    }
}
