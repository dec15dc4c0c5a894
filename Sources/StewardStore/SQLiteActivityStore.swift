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

    public func write(_ records: [ActivityRecord]) async throws {
        guard !records.isEmpty else { return }
        try await database.raw("BEGIN IMMEDIATE").run()
        do {
            var start = 0
            while start < records.count {
                let end = min(records.count, start + Self.rowsPerStatement)
                var insert = database.insert(into: "activity").columns(Self.columns)
                for record in records[start..<end] {
                    insert = insert.values(Self.values(of: record))
                }
                try await insert.run()
                start = end
            }
            try await database.raw("COMMIT").run()
        } catch {
            try? await database.raw("ROLLBACK").run()
            throw error
        }
    }

    static func values(of record: ActivityRecord) -> [any SQLExpression] {
        [
            SQLBind(record.time), SQLBind(record.source), SQLBind(record.client), SQLBind(record.personID),
            SQLBind(record.group), SQLBind(record.name), SQLBind(record.queryType), SQLBind(record.method),
            SQLBind(record.path), SQLBind(record.action), SQLBind(record.cause), SQLBind(record.rule),
            SQLBind(record.categories.joined(separator: ",")), SQLBind(record.clauseDocument),
            SQLBind(record.clauseSection), SQLBind(record.responseCode), SQLBind(record.latencyMicros),
            SQLBind(record.cacheHit ? 1 : 0), SQLBind(record.upstream), SQLBind(record.bytesIn), SQLBind(record.bytesOut),
        ]
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
