import Crypto
import Foundation
import SQLKit
import StewardPolicy

/// The record of every administrative change and every look at a person's data (R10): who, when,
/// what, about whom. Append-only: the database refuses updates and deletes (triggers), and each
/// entry carries the SHA-256 of its content and of the entry before it, so an edit made around the
/// database breaks the chain at that entry (`steward audit verify`).
public struct AuditLog: Sendable {
    let connection: StoreConnection

    public struct Entry: Sendable, Hashable {
        public var seq: Int64
        /// Seconds since 1970.
        public var time: Int64
        public var actor: String
        public var action: String
        public var subject: String
        public var detail: String
        public var previousHash: String
        public var hash: String
    }

    /// The hash before the first entry.
    static let genesis = String(repeating: "0", count: 64)

    /// Appends an entry in its own transaction.
    @discardableResult
    public func append(actor: String, action: String, subject: String, detail: String = "") async throws -> Entry {
        try await connection.transaction { database in
            try await Self.append(database, actor: actor, action: action, subject: subject, detail: detail)
        }
    }

    /// Appends an entry inside the caller's transaction, so the change and its record commit together.
    @discardableResult
    static func append(
        _ database: any SQLDatabase, actor: String, action: String, subject: String, detail: String,
        time: Int64 = unixNow()
    ) async throws -> Entry {
        if database.dialect.name == "postgresql" {
            // Nodes appending at once take turns, so the chain stays one line.
            try await database.raw("SELECT pg_advisory_xact_lock(4118006)").run()
        }
        let last = try await database.raw("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").first()
        let seq = (try last?.decode(column: "seq", as: Int64.self) ?? 0) + 1
        let previous = try last?.decode(column: "hash", as: String.self) ?? genesis
        var entry = Entry(
            seq: seq, time: time, actor: actor, action: action, subject: subject, detail: detail, previousHash: previous,
            hash: "")
        entry.hash = digest(of: entry)
        try await database.raw(
            """
            INSERT INTO audit (seq, time, actor, action, subject, detail, previous_hash, hash)
            VALUES (\(bind: entry.seq), \(bind: entry.time), \(bind: entry.actor), \(bind: entry.action),
              \(bind: entry.subject), \(bind: entry.detail), \(bind: entry.previousHash), \(bind: entry.hash))
            """
        ).run()
        return entry
    }

    /// SHA-256 over the previous hash and every field, each length-prefixed so that no two
    /// different entries encode alike.
    static func digest(of entry: Entry) -> String {
        var text = ""
        for field in [
            entry.previousHash, String(entry.seq), String(entry.time), entry.actor, entry.action, entry.subject,
            entry.detail,
        ] {
            text += "\(field.utf8.count):\(field)\n"
        }
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The entries, oldest first, optionally only those about `subject`.
    public func entries(subject: String? = nil, limit: Int = 1000) async throws -> [Entry] {
        try await connection.run { database in
            let rows: [any SQLRow]
            if let subject {
                rows = try await database.raw(
                    "SELECT * FROM audit WHERE subject = \(bind: subject) ORDER BY seq LIMIT \(bind: limit)"
                ).all()
            } else {
                rows = try await database.raw("SELECT * FROM audit ORDER BY seq LIMIT \(bind: limit)").all()
            }
            return try rows.map(Self.entry)
        }
    }

    static func entry(_ row: any SQLRow) throws -> Entry {
        Entry(
            seq: try row.decode(column: "seq", as: Int64.self), time: try row.decode(column: "time", as: Int64.self),
            actor: try row.decode(column: "actor", as: String.self), action: try row.decode(column: "action", as: String.self),
            subject: try row.decode(column: "subject", as: String.self),
            detail: try row.decode(column: "detail", as: String.self),
            previousHash: try row.decode(column: "previous_hash", as: String.self),
            hash: try row.decode(column: "hash", as: String.self))
    }

    /// What `verify` found.
    public struct Verification: Sendable, Equatable {
        public var entries: Int
        /// The first entry that does not follow from the one before, and why; nil when the chain holds.
        public var broken: (seq: Int64, reason: String)?

        public static func == (lhs: Verification, rhs: Verification) -> Bool {
            lhs.entries == rhs.entries && lhs.broken?.seq == rhs.broken?.seq && lhs.broken?.reason == rhs.broken?.reason
        }
    }

    /// Walks the whole chain in pages: numbering without gaps, each entry's link to the one before,
    /// each entry's own hash.
    public func verify() async throws -> Verification {
        var previous = Self.genesis
        var expected: Int64 = 1
        var count = 0
        while true {
            let page = try await connection.run { database in
                try await database.raw(
                    "SELECT * FROM audit WHERE seq >= \(bind: expected) ORDER BY seq LIMIT 5000"
                ).all().map(Self.entry)
            }
            if page.isEmpty { break }
            for entry in page {
                count += 1
                if entry.seq != expected {
                    return Verification(entries: count, broken: (expected, "entry \(expected) is missing"))
                }
                if entry.previousHash != previous {
                    return Verification(entries: count, broken: (entry.seq, "does not link to the entry before it"))
                }
                if Self.digest(of: entry) != entry.hash {
                    return Verification(entries: count, broken: (entry.seq, "its content does not match its hash"))
                }
                previous = entry.hash
                expected += 1
            }
        }
        // Entries after a gap at the very start (seq 1 deleted) are caught above; a deleted last
        // entry cannot be told from one never written, which is why the database refuses deletes.
        return Verification(entries: count, broken: nil)
    }
}
