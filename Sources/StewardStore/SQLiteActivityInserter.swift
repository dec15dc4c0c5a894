import Foundation
import NIOConcurrencyHelpers
import StewardActivity
import VaporCSQLite

/// The SQLite activity INSERT, prepared once and stepped once per event inside one transaction
/// per batch, on a connection of its own. SQLiteNIO prepares every statement anew; for the
/// 1,000-row statement the writer used before, preparing cost about a quarter of the writer's time
/// under the DNS benchmark, and the writer shares the DNS server's core. Same table, same columns,
/// same one-transaction-per-batch durability.
final class SQLiteActivityInserter: @unchecked Sendable {
    // The handle and statement are used only inside `lock`, from one thread at a time.
    private var database: OpaquePointer?
    private var statement: OpaquePointer?
    private let lock = NIOLock()
    let path: String

    /// SQLITE_TRANSIENT: SQLite copies the bound text before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(path: String) throws {
        self.path = path
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite_nio_sqlite3_close(handle)
            throw StoreError(.unavailable, "cannot open the SQLite store at \(path) for activity: \(message)")
        }
        database = handle
        sqlite_nio_sqlite3_busy_timeout(handle, 15_000)
        do {
            try execute("PRAGMA journal_mode=WAL")
            try execute("PRAGMA synchronous=NORMAL")
            let columns = ActivityRepository.columns
            let placeholders = (1...columns.count).map { "?\($0)" }.joined(separator: ",")
            let sql = "INSERT INTO activity (" + columns.joined(separator: ",") + ") VALUES (" + placeholders + ")"
            var prepared: OpaquePointer?
            guard sqlite_nio_sqlite3_prepare_v2(handle, sql, -1, &prepared, nil) == SQLITE_OK else { throw failure("prepare") }
            statement = prepared
        } catch {
            close()
            throw error
        }
    }

    private func failure(_ what: String) -> StoreError {
        let message = database.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "closed"
        return StoreError(.query, "activity \(what) failed on \(path): \(message)")
    }

    private func execute(_ sql: String) throws {
        guard sqlite_nio_sqlite3_exec(database, sql, nil, nil, nil) == SQLITE_OK else { throw failure(sql) }
    }

    /// Writes the batch in one transaction (all of it or none of it).
    func write(_ records: [ActivityRecord]) throws {
        try lock.withLock {
            guard statement != nil else { throw StoreError(.unavailable, "the activity store is closed") }
            try execute("BEGIN IMMEDIATE")
            do {
                for record in records { try insert(record) }
                try execute("COMMIT")
            } catch {
                _ = sqlite_nio_sqlite3_exec(database, "ROLLBACK", nil, nil, nil)
                throw error
            }
        }
    }

    private func insert(_ record: ActivityRecord) throws {
        let statement = self.statement
        sqlite_nio_sqlite3_reset(statement)
        func text(_ index: Int32, _ value: String?) {
            if let value {
                sqlite_nio_sqlite3_bind_text(statement, index, value, -1, Self.transient)
            } else {
                sqlite_nio_sqlite3_bind_null(statement, index)
            }
        }
        func integer(_ index: Int32, _ value: Int64) {
            sqlite_nio_sqlite3_bind_int64(statement, index, value)
        }
        integer(1, record.time)
        text(2, record.source)
        text(3, record.client)
        text(4, record.personID)
        text(5, record.group)
        text(6, record.name)
        integer(7, Int64(record.queryType))
        text(8, record.method)
        text(9, record.path)
        text(10, record.action)
        text(11, record.cause)
        text(12, record.rule)
        text(13, record.categories.isEmpty ? "" : record.categories.joined(separator: ","))
        text(14, record.clauseDocument)
        text(15, record.clauseSection)
        integer(16, Int64(record.responseCode))
        integer(17, Int64(record.latencyMicros))
        integer(18, record.cacheHit ? 1 : 0)
        integer(19, Int64(record.upstream))
        integer(20, record.bytesIn)
        integer(21, record.bytesOut)
        guard sqlite_nio_sqlite3_step(statement) == SQLITE_DONE else { throw failure("insert") }
    }

    func close() {
        lock.withLock {
            if let statement { sqlite_nio_sqlite3_finalize(statement) }
            statement = nil
            if let database { sqlite_nio_sqlite3_close(database) }
            database = nil
        }
    }

    deinit {
        if let statement { sqlite_nio_sqlite3_finalize(statement) }
        if let database { sqlite_nio_sqlite3_close(database) }
    }
}
