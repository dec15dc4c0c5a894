import Crypto
import Foundation
import SQLKit
import StewardPolicy

/// The policy documents people sign, their versions, and the signatures (R7, R8). A signature is
/// immutable and hash-chained like the audit log; it names the exact text signed (its SHA-256), the
/// building the person was in and the school year, so a new version, a move to another building or
/// a new school year each leave the person with something to sign again.
public struct Acknowledgments: Sendable {
    let store: Store
    var connection: StoreConnection { store.connection }

    /// A document as the portal shows it, with its version in force.
    public struct Document: Sendable, Hashable {
        public var id: String
        public var title: String
        /// Who must sign it: `everyone`, `staff` (every adult role), `students`, `guests`, or roles.
        public var audience: [String]
        /// False for documents that are shown and kept but not signed.
        public var acknowledge: Bool
        public var current: Version?

        public func applies(to person: Person) -> Bool {
            audience.contains { Self.audience($0, includes: person.role) }
        }

        public static func audience(_ token: String, includes role: Role) -> Bool {
            switch token {
            case "everyone": true
            case "staff": role.isAdult
            case "students": role == .student
            case "guests", "visitors": role == .guest
            default: Role(token) == role
            }
        }
    }

    public struct Version: Sendable, Hashable {
        public var documentID: String
        /// 1, 2, 3… in publication order.
        public var number: Int
        /// The district's own label (`2023-11`, `rev. 3`).
        public var version: String
        public var sha256: String
        public var text: String
        public var adopted: String?
        public var revised: String?
        public var publishedAt: Int64
        public var publishedBy: String
    }

    /// A configured document, as `sync` receives it.
    public struct Seed: Sendable {
        public var id: String
        public var title: String
        public var audience: [String]
        public var acknowledge: Bool
        public var text: String
        public var version: String?
        public var adopted: String?
        public var revised: String?

        public init(
            id: String, title: String, audience: [String], acknowledge: Bool, text: String, version: String?,
            adopted: String?, revised: String?
        ) {
            self.id = id
            self.title = title
            self.audience = audience
            self.acknowledge = acknowledge
            self.text = text
            self.version = version
            self.adopted = adopted
            self.revised = revised
        }
    }

    /// One signed acknowledgment.
    public struct Signature: Sendable, Hashable {
        public var seq: Int64
        public var time: Int64
        public var personID: String
        public var documentID: String
        public var version: String
        public var sha256: String
        public var typedName: String
        public var building: String?
        public var schoolYear: String
        public var client: String
        public var userAgent: String
        public var previousHash: String
        public var hash: String
    }

    public static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Documents

    /// Brings the documents in step with the configuration: titles and audiences as configured, and
    /// a new version whenever a document's text is one the store has never had (so an edited file
    /// starts re-signing, and an unchanged one changes nothing). Returns the ids that got a version.
    @discardableResult
    public func sync(_ seeds: [Seed], actor: String, now: Int64 = unixNow()) async throws -> [String] {
        try await connection.transaction { database in
            var published: [String] = []
            for seed in seeds {
                let audience = seed.audience.joined(separator: ",")
                let existing = try await database.raw("SELECT * FROM documents WHERE id = \(bind: seed.id)").first()
                if existing == nil {
                    try await database.raw(
                        """
                        INSERT INTO documents (id, title, audience, acknowledge, updated_at)
                        VALUES (\(bind: seed.id), \(bind: seed.title), \(bind: audience), \(bind: seed.acknowledge ? 1 : 0), \(bind: now))
                        """
                    ).run()
                } else if try existing?.decode(column: "title", as: String.self) != seed.title
                    || existing?.decode(column: "audience", as: String.self) != audience
                    || existing?.decode(column: "acknowledge", as: Int.self) != (seed.acknowledge ? 1 : 0)
                {
                    try await database.raw(
                        """
                        UPDATE documents SET title = \(bind: seed.title), audience = \(bind: audience),
                          acknowledge = \(bind: seed.acknowledge ? 1 : 0), updated_at = \(bind: now) WHERE id = \(bind: seed.id)
                        """
                    ).run()
                }
                let hash = Self.sha256(seed.text)
                let known = try await database.raw(
                    "SELECT number FROM document_versions WHERE document_id = \(bind: seed.id) AND sha256 = \(bind: hash)"
                ).first()
                if known == nil {
                    try await Self.insertVersion(
                        database, documentID: seed.id, text: seed.text, label: seed.version, adopted: seed.adopted,
                        revised: seed.revised, actor: actor, now: now)
                    published.append(seed.id)
                }
            }
            return published
        }
    }

    /// Publishes a new version of a document (from the console): everyone it applies to signs again.
    @discardableResult
    public func publish(
        documentID: String, text: String, version: String?, revised: String?, actor: String, now: Int64 = unixNow()
    ) async throws -> Version {
        let body = text.replacingOccurrences(of: "\r\n", with: "\n")
        guard !body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw StoreError(.refused, "a document version needs its text")
        }
        guard body.utf8.count <= 1 << 20 else { throw StoreError(.refused, "a document's text is limited to 1 MiB") }
        return try await connection.transaction { database in
            guard try await database.raw("SELECT id FROM documents WHERE id = \(bind: documentID)").first() != nil else {
                throw StoreError(.notFound, "no document '\(documentID)'")
            }
            let current = try await Self.currentVersion(database, documentID)
            if current?.sha256 == Self.sha256(body) {
                throw StoreError(.refused, "this text is the version already in force")
            }
            return try await Self.insertVersion(
                database, documentID: documentID, text: body, label: version, adopted: current?.adopted,
                revised: revised, actor: actor, now: now)
        }
    }

    @discardableResult
    static func insertVersion(
        _ database: any SQLDatabase, documentID: String, text: String, label: String?, adopted: String?,
        revised: String?, actor: String, now: Int64
    ) async throws -> Version {
        let last = try await database.raw(
            "SELECT MAX(number) AS n FROM document_versions WHERE document_id = \(bind: documentID)"
        ).first()?.decode(column: "n", as: Int?.self) ?? 0
        let version = Version(
            documentID: documentID, number: last + 1, version: label ?? "v\(last + 1)", sha256: sha256(text), text: text,
            adopted: adopted, revised: revised, publishedAt: now, publishedBy: actor)
        try await database.raw(
            """
            INSERT INTO document_versions (document_id, number, version, sha256, text, adopted, revised, published_at, published_by)
            VALUES (\(bind: documentID), \(bind: version.number), \(bind: version.version), \(bind: version.sha256),
              \(bind: text), \(bind: adopted), \(bind: revised), \(bind: now), \(bind: actor))
            """
        ).run()
        try await AuditLog.append(
            database, actor: actor, action: "document.publish", subject: "document:\(documentID)",
            detail: "version \(version.version) (#\(version.number)) sha256 \(version.sha256)")
        return version
    }

    static func currentVersion(_ database: any SQLDatabase, _ documentID: String) async throws -> Version? {
        try await database.raw(
            "SELECT * FROM document_versions WHERE document_id = \(bind: documentID) ORDER BY number DESC LIMIT 1"
        ).first().map(version)
    }

    /// Every document with its version in force, in id order.
    public func documents() async throws -> [Document] {
        try await connection.run { database in
            var result: [Document] = []
            for row in try await database.raw("SELECT * FROM documents ORDER BY id").all() {
                let id = try row.decode(column: "id", as: String.self)
                let audience = try row.decode(column: "audience", as: String.self)
                result.append(
                    Document(
                        id: id, title: try row.decode(column: "title", as: String.self),
                        audience: audience.split(separator: ",").map(String.init),
                        acknowledge: try row.decode(column: "acknowledge", as: Int.self) != 0,
                        current: try await Self.currentVersion(database, id)))
            }
            return result
        }
    }

    public func versions(of documentID: String) async throws -> [Version] {
        try await connection.run { database in
            try await database.raw(
                "SELECT * FROM document_versions WHERE document_id = \(bind: documentID) ORDER BY number DESC"
            ).all().map(Self.version)
        }
    }

    static func version(_ row: any SQLRow) throws -> Version {
        Version(
            documentID: try row.decode(column: "document_id", as: String.self),
            number: try row.decode(column: "number", as: Int.self), version: try row.decode(column: "version", as: String.self),
            sha256: try row.decode(column: "sha256", as: String.self), text: try row.decode(column: "text", as: String.self),
            adopted: try row.decode(column: "adopted", as: String?.self),
            revised: try row.decode(column: "revised", as: String?.self),
            publishedAt: try row.decode(column: "published_at", as: Int64.self),
            publishedBy: try row.decode(column: "published_by", as: String.self))
    }
}
