import Foundation
import PostgresNIO
import SQLKit
import NIOPosix
import SQLiteKit
import StewardActivity

/// Activity in the store, on its own connection: the writer hands it batches, each written in one
/// transaction, so a crash loses at most the batch being written and corrupts nothing.
///
/// The batch INSERT binds values in the driver's own types rather than through SQLKit's per-value
/// encoder, which under the DNS benchmark cost more CPU than the answers it recorded (measured with
/// `perf`): on SQLite a prepared single-row INSERT stepped per event (`SQLiteActivityInserter`), on
/// PostgreSQL multi-row INSERTs with PostgreSQL bindings. Every other query goes through SQLKit.
public final class ActivityRepository: ActivityStore {
    let connection: StoreConnection
    /// SQLite: the prepared single-row INSERT on a connection of its own (nil for PostgreSQL).
    let inserter: SQLiteActivityInserter?

    init(connection: StoreConnection) throws {
        self.connection = connection
        if case .sqlite(let path) = connection.backend {
            inserter = try SQLiteActivityInserter(path: path)
        } else {
            inserter = nil
        }
    }

    /// Rows per PostgreSQL INSERT statement (21 columns: 21,000 values, under its 65,535).
    static let rowsPerStatement = 1000

    static let columns = [
        "time", "source", "client", "person_id", "group_id", "name", "query_type", "method", "path", "action",
        "cause", "rule", "categories", "clause_document", "clause_section", "response_code", "latency_us", "cache_hit",
        "upstream", "bytes_in", "bytes_out",
    ]

    public func write(_ records: [ActivityRecord]) async throws {
        guard !records.isEmpty else { return }
        if let inserter {
            try await ActivityLane.shared.run { try inserter.write(records) }
            return
        }
        _ = try await connection.withPostgres { try await Self.writePostgres(records, on: $0, logger: connection.logger) }
    }

    static func writePostgres(_ records: [ActivityRecord], on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("BEGIN", logger: logger)
        do {
            for start in stride(from: 0, to: records.count, by: rowsPerStatement) {
                let end = min(records.count, start + rowsPerStatement)
                var binds = PostgresBindings(capacity: (end - start) * columns.count)
                for record in records[start..<end] { appendPostgres(record, to: &binds) }
                try await connection.query(
                    PostgresQuery(unsafeSQL: insertStatement(rows: end - start), binds: binds),
                    logger: logger)
            }
            try await connection.query("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// `INSERT INTO activity (…) VALUES ($1, …), …` for `rows` rows; the full-size statement is built once.
    static func insertStatement(rows: Int) -> String {
        rows == rowsPerStatement ? fullInsert : makeInsert(rows: rows)
    }

    static let fullInsert = makeInsert(rows: rowsPerStatement)

    static func makeInsert(rows: Int) -> String {
        var text = "INSERT INTO activity (" + columns.joined(separator: ",") + ") VALUES "
        var parameter = 0
        for row in 0..<rows {
            if row > 0 { text += "," }
            text += "("
            for column in 0..<columns.count {
                if column > 0 { text += "," }
                parameter += 1
                text += "$\(parameter)"
            }
            text += ")"
        }
        return text
    }

    static func appendPostgres(_ record: ActivityRecord, to binds: inout PostgresBindings) {
        func text(_ value: String?) {
            if let value { binds.append(value) } else { binds.appendNull() }
        }
        binds.append(Int64(record.time))
        binds.append(record.source)
        binds.append(record.client)
        text(record.personID)
        text(record.group)
        binds.append(record.name)
        binds.append(Int32(truncatingIfNeeded: record.queryType))
        text(record.method)
        text(record.path)
        binds.append(record.action)
        binds.append(record.cause)
        text(record.rule)
        binds.append(record.categories.joined(separator: ","))
        text(record.clauseDocument)
        text(record.clauseSection)
        binds.append(Int32(truncatingIfNeeded: record.responseCode))
        binds.append(Int32(truncatingIfNeeded: record.latencyMicros))
        binds.append(Int32(record.cacheHit ? 1 : 0))
        binds.append(Int32(truncatingIfNeeded: record.upstream))
        binds.append(Int64(record.bytesIn))
        binds.append(Int64(record.bytesOut))
    }

    public func purge(olderThan cutoff: Int64) async throws -> Int {
        try await connection.run { database in
            try await database.raw("DELETE FROM activity WHERE time < \(bind: cutoff) RETURNING time").all().count
        }
    }

    /// Number of events stored.
    public func count() async throws -> Int {
        try await connection.run { database in
            try await database.raw("SELECT COUNT(*) AS n FROM activity").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// The most recent events for a name, newest first.
    public func recent(name: String, limit: Int = 50) async throws -> [ActivityRecord] {
        try await connection.run { database in
            try await database.raw(
                "SELECT * FROM activity WHERE name = \(bind: name) ORDER BY time DESC LIMIT \(bind: limit)"
            ).all().map(Self.record)
        }
    }

    /// A person's events since `since` (nanoseconds since 1970), newest first. Callers write the
    /// look to the audit log (R10); `steward activity` does.
    public func activity(personID: String, since: Int64, limit: Int = 1000) async throws -> [ActivityRecord] {
        try await connection.run { database in
            try await database.raw(
                """
                SELECT * FROM activity WHERE person_id = \(bind: personID) AND time >= \(bind: since)
                ORDER BY time DESC LIMIT \(bind: limit)
                """
            ).all().map(Self.record)
        }
    }

    static func record(_ row: any SQLRow) throws -> ActivityRecord {
        let categories = try row.decode(column: "categories", as: String?.self) ?? ""
        return ActivityRecord(
            time: try row.decode(column: "time", as: Int64.self), source: try row.decode(column: "source", as: String.self),
            client: try row.decode(column: "client", as: String.self),
            personID: try row.decode(column: "person_id", as: String?.self),
            group: try row.decode(column: "group_id", as: String?.self), name: try row.decode(column: "name", as: String.self),
            queryType: try row.decode(column: "query_type", as: Int?.self) ?? 0,
            method: try row.decode(column: "method", as: String?.self), path: try row.decode(column: "path", as: String?.self),
            action: try row.decode(column: "action", as: String.self), cause: try row.decode(column: "cause", as: String.self),
            rule: try row.decode(column: "rule", as: String?.self),
            categories: categories.isEmpty ? [] : categories.split(separator: ",").map(String.init),
            clauseDocument: try row.decode(column: "clause_document", as: String?.self),
            clauseSection: try row.decode(column: "clause_section", as: String?.self),
            responseCode: try row.decode(column: "response_code", as: Int?.self) ?? 0,
            latencyMicros: try row.decode(column: "latency_us", as: Int?.self) ?? 0,
            cacheHit: (try row.decode(column: "cache_hit", as: Int?.self) ?? 0) != 0,
            upstream: try row.decode(column: "upstream", as: Int?.self) ?? -1,
            bytesIn: try row.decode(column: "bytes_in", as: Int64?.self) ?? 0,
            bytesOut: try row.decode(column: "bytes_out", as: Int64?.self) ?? 0)
    }

    public func close() async throws {
        inserter?.close()
        await connection.close()
    }
}
