import Foundation
import SQLKit

/// The store's schema, as forward-only numbered steps. Each step runs in its own transaction and
/// is recorded in `schema_migrations`; a store that a newer Steward migrated is refused rather than
/// guessed at. Most statements are the same on both backends; where the dialects differ (triggers)
/// each has its own text.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: [String]
    let sqliteOnly: [String]
    let postgresOnly: [String]

    init(_ version: Int, _ name: String, _ statements: [String], sqlite: [String] = [], postgres: [String] = []) {
        self.version = version
        self.name = name
        self.statements = statements
        self.sqliteOnly = sqlite
        self.postgresOnly = postgres
    }

    func statements(for dialect: StoreConnection.Dialect) -> [String] {
        statements + (dialect == .sqlite ? sqliteOnly : postgresOnly)
    }
}

public enum Migrations {
    static let all: [Migration] = [
        Migration(
            1, "directory",
            [
                """
                CREATE TABLE store_state (key TEXT PRIMARY KEY, value BIGINT NOT NULL)
                """,
                "INSERT INTO store_state (key, value) VALUES ('directory-version', 1)",
                """
                CREATE TABLE buildings (id TEXT PRIMARY KEY, name TEXT NOT NULL, source TEXT NOT NULL,
                  updated_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE people (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, building TEXT,
                  grade TEXT, email TEXT, username TEXT, status TEXT NOT NULL, revoked_until BIGINT,
                  revoked_reason TEXT, revoked_by TEXT, source TEXT NOT NULL, building_since BIGINT,
                  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                "CREATE INDEX people_building ON people (building)",
                "CREATE INDEX people_username ON people (username)",
                """
                CREATE TABLE person_changes (person_id TEXT NOT NULL, time BIGINT NOT NULL, kind TEXT NOT NULL,
                  old_value TEXT, new_value TEXT, import_id TEXT)
                """,
                "CREATE INDEX person_changes_person ON person_changes (person_id, time)",
                """
                CREATE TABLE imports (id TEXT PRIMARY KEY, time BIGINT NOT NULL, kind TEXT NOT NULL,
                  source TEXT NOT NULL, actor TEXT NOT NULL, added BIGINT NOT NULL, updated BIGINT NOT NULL,
                  deactivated BIGINT NOT NULL, reactivated BIGINT NOT NULL, building_changes BIGINT NOT NULL)
                """,
                """
                CREATE TABLE devices (id TEXT PRIMARY KEY, hardware_address TEXT UNIQUE, owner_id TEXT,
                  name TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                "CREATE INDEX devices_owner ON devices (owner_id)",
                """
                CREATE TABLE sessions (address TEXT PRIMARY KEY, person_id TEXT NOT NULL, device_id TEXT,
                  source TEXT NOT NULL, started_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)
                """,
                "CREATE INDEX sessions_person ON sessions (person_id)",
                """
                CREATE TABLE flags (time BIGINT NOT NULL, kind TEXT NOT NULL, person_id TEXT,
                  detail TEXT NOT NULL)
                """,
                "CREATE INDEX flags_time ON flags (time)",
                """
                CREATE TABLE admins (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
                  buildings TEXT NOT NULL, disabled BIGINT NOT NULL, created_at BIGINT NOT NULL,
                  updated_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE audit (seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, actor TEXT NOT NULL,
                  action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL,
                  previous_hash TEXT NOT NULL, hash TEXT NOT NULL)
                """,
            ],
            // Nobody edits the audit log: the database refuses it, and the hash chain shows it if
            // someone goes around the database.
            sqlite: [
                """
                CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
                """,
                """
                CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
                """,
            ],
            postgres: [
                """
                CREATE FUNCTION steward_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$
                """,
                """
                CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit
                FOR EACH STATEMENT EXECUTE FUNCTION steward_audit_append_only()
                """,
            ]
        ),
        Migration(
            2, "activity",
            [
                """
                CREATE TABLE activity (time BIGINT NOT NULL, source TEXT NOT NULL, client TEXT NOT NULL,
                  person_id TEXT, group_id TEXT, name TEXT NOT NULL, query_type INTEGER, method TEXT, path TEXT,
                  action TEXT NOT NULL, cause TEXT NOT NULL, rule TEXT, categories TEXT, clause_document TEXT,
                  clause_section TEXT, response_code INTEGER, latency_us INTEGER, cache_hit INTEGER,
                  upstream INTEGER, bytes_in BIGINT, bytes_out BIGINT)
                """,
                "CREATE INDEX activity_time ON activity (time)",
                "CREATE INDEX activity_person_time ON activity (person_id, time)",
            ]
        ),
        Migration(
            3, "portal",
            [
                // District credentials that Steward keeps for roster people (bcrypt only).
                """
                CREATE TABLE person_credentials (person_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
                  set_at BIGINT NOT NULL, set_by TEXT NOT NULL)
                """,
                // One-time links for setting a password: only the SHA-256 of the token is kept.
                """
                CREATE TABLE credential_tokens (token_hash TEXT PRIMARY KEY, person_id TEXT NOT NULL,
                  created_at BIGINT NOT NULL, created_by TEXT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT)
                """,
                """
                CREATE TABLE documents (id TEXT PRIMARY KEY, title TEXT NOT NULL, audience TEXT NOT NULL,
                  acknowledge BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE document_versions (document_id TEXT NOT NULL, number BIGINT NOT NULL, version TEXT NOT NULL,
                  sha256 TEXT NOT NULL, text TEXT NOT NULL, adopted TEXT, revised TEXT, published_at BIGINT NOT NULL,
                  published_by TEXT NOT NULL, PRIMARY KEY (document_id, number))
                """,
                // Signed acknowledgments: append-only and hash-chained like the audit log.
                """
                CREATE TABLE acknowledgments (seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, person_id TEXT NOT NULL,
                  document_id TEXT NOT NULL, version TEXT NOT NULL, sha256 TEXT NOT NULL, typed_name TEXT NOT NULL,
                  building TEXT, school_year TEXT NOT NULL, client TEXT NOT NULL, user_agent TEXT NOT NULL,
                  previous_hash TEXT NOT NULL, hash TEXT NOT NULL)
                """,
                "CREATE INDEX acknowledgments_person ON acknowledgments (person_id, document_id)",
                // R18: parental permission for publishing a student's work, as a history.
                """
                CREATE TABLE consents (seq BIGINT PRIMARY KEY, person_id TEXT NOT NULL, time BIGINT NOT NULL, kind TEXT NOT NULL,
                  granted BIGINT NOT NULL, recorded_by TEXT NOT NULL, note TEXT NOT NULL)
                """,
                "CREATE INDEX consents_person ON consents (person_id, time)",
                """
                CREATE TABLE review_requests (id TEXT PRIMARY KEY, time BIGINT NOT NULL, host TEXT NOT NULL,
                  url TEXT, categories TEXT NOT NULL, rule TEXT, requester TEXT NOT NULL, requester_id TEXT,
                  contact TEXT NOT NULL, building TEXT, reason TEXT NOT NULL, status TEXT NOT NULL,
                  decided_by TEXT, decided_at BIGINT, decision_reason TEXT)
                """,
                "CREATE INDEX review_requests_status ON review_requests (status, building)",
                // Exceptions approved from review requests, and the "work only" switches (R20).
                """
                CREATE TABLE policy_exceptions (id TEXT PRIMARY KEY, host TEXT NOT NULL, building TEXT,
                  review_id TEXT, created_by TEXT NOT NULL, created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE group_switches (group_id TEXT PRIMARY KEY, work_only BIGINT NOT NULL,
                  changed_by TEXT NOT NULL, changed_at BIGINT NOT NULL)
                """,
                "INSERT INTO store_state (key, value) VALUES ('policy-version', 1)",
            ],
            sqlite: [
                """
                CREATE TRIGGER acknowledgments_no_update BEFORE UPDATE ON acknowledgments
                BEGIN SELECT RAISE(ABORT, 'acknowledgments are append-only'); END
                """,
                """
                CREATE TRIGGER acknowledgments_no_delete BEFORE DELETE ON acknowledgments
                BEGIN SELECT RAISE(ABORT, 'acknowledgments are append-only'); END
                """,
            ],
            postgres: [
                """
                CREATE FUNCTION steward_acknowledgments_append_only() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN RAISE EXCEPTION 'acknowledgments are append-only'; END $$
                """,
                """
                CREATE TRIGGER acknowledgments_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON acknowledgments
                FOR EACH STATEMENT EXECUTE FUNCTION steward_acknowledgments_append_only()
                """,
            ]
        ),
    ]

    /// The newest schema version this build knows.
    public static var latest: Int { all.last?.version ?? 0 }

    /// Applies every step the store has not had yet; returns the versions applied.
    @discardableResult
    static func apply(on connection: StoreConnection) async throws -> [Int] {
        try await connection.run { database in
            try await database.raw(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL,
                  applied_at BIGINT NOT NULL)
                """
            ).run()
        }
        var applied: [Int] = []
        for migration in all {
            let done = try await connection.transaction { database -> Bool in
                if connection.dialect == .postgres {
                    // Two nodes starting at once: the second waits here, then finds the step done.
                    try await database.raw("SELECT pg_advisory_xact_lock(4118005)").run()
                }
                let newest = try await database.raw("SELECT MAX(version) AS v FROM schema_migrations").first()
                let current = try newest?.decode(column: "v", as: Int?.self) ?? 0
                if current > latest {
                    throw StoreError(
                        .schemaTooNew,
                        "the store's schema is version \(current), newer than this Steward knows (\(latest)); run the newer Steward")
                }
                let row = try await database.raw(
                    "SELECT version FROM schema_migrations WHERE version = \(bind: migration.version)"
                ).first()
                guard row == nil else { return false }
                for statement in migration.statements(for: connection.dialect) {
                    try await database.execute(statement)
                }
                try await database.raw(
                    """
                    INSERT INTO schema_migrations (version, name, applied_at)
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: Int64(Date.now.timeIntervalSince1970)))
                    """
                ).run()
                return true
            }
            if done { applied.append(migration.version) }
        }
        return applied
    }
}
