import Foundation
import SQLKit
import StewardPolicy

/// Signing, what is still to sign, and the signatures as evidence.
extension Acknowledgments {
    /// A signature reduced to what decides whether it still counts. It was made in the school
    /// year asked about (both queries select by year); it counts when it is for the text in force
    /// and the building the person is in now.
    struct Signed: Hashable {
        var person: String
        var document: String
        var sha256: String
        var building: String?
    }

    /// The documents of `documents` that apply to `person` and that no signature in `signed` covers.
    static func unsigned(_ documents: [Document], for person: Person, signed: Set<Signed>) -> [Document] {
        documents.filter { document in
            document.applies(to: person)
                && !signed.contains(
                    Signed(person: person.id, document: document.id, sha256: document.current?.sha256 ?? "", building: person.building))
        }
    }

    /// The documents `person` must still sign before the network opens, in id order.
    public func outstanding(for person: Person, schoolYear: String) async throws -> [Document] {
        let documents = try await documents().filter { $0.acknowledge && $0.current != nil }
        guard documents.contains(where: { $0.applies(to: person) }) else { return [] }
        let signed = try await connection.run { database in
            Set(
                try await database.raw(
                    """
                    SELECT document_id, sha256, building FROM acknowledgments
                    WHERE person_id = \(bind: person.id) AND school_year = \(bind: schoolYear)
                    """
                ).all().map { row in
                    Signed(
                        person: person.id, document: try row.decode(column: "document_id", as: String.self),
                        sha256: try row.decode(column: "sha256", as: String.self),
                        building: try row.decode(column: "building", as: String?.self))
                })
        }
        return Self.unsigned(documents, for: person, signed: signed)
    }

    /// Two spellings of a name are the same signature when they differ only in letter case, accents
    /// typed or not, and spacing.
    public static func namesMatch(_ typed: String, _ name: String) -> Bool {
        func normal(_ text: String) -> String {
            text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
                .split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        }
        return !normal(typed).isEmpty && normal(typed) == normal(name)
    }

    /// Records that `person` read and signed the version of `documentID` whose hash is `sha256`.
    /// Refused when the typed name is not the person's, or when the version read is no longer the
    /// one in force (a new version was published while they read).
    @discardableResult
    public func sign(
        person: Person, documentID: String, sha256: String, typedName: String, schoolYear: String, client: String,
        userAgent: String, now: Int64 = unixNow()
    ) async throws -> Signature {
        guard Self.namesMatch(typedName, person.name) else {
            throw StoreError(.refused, "the name typed is not the name on record (\(person.name))")
        }
        return try await connection.transaction { database in
            guard let current = try await Self.currentVersion(database, documentID) else {
                throw StoreError(.notFound, "no document '\(documentID)'")
            }
            guard current.sha256 == sha256 else {
                throw StoreError(.refused, "a newer version of '\(documentID)' is in force; read it and sign again")
            }
            if database.dialect.name == "postgresql" {
                try await database.raw("SELECT pg_advisory_xact_lock(4118007)").run()
            }
            let last = try await database.raw("SELECT seq, hash FROM acknowledgments ORDER BY seq DESC LIMIT 1").first()
            var signature = Signature(
                seq: (try last?.decode(column: "seq", as: Int64.self) ?? 0) + 1, time: now, personID: person.id,
                documentID: documentID, version: current.version, sha256: sha256,
                typedName: String(typedName.prefix(200)), building: person.building, schoolYear: schoolYear,
                client: client, userAgent: String(userAgent.prefix(512)),
                previousHash: try last?.decode(column: "hash", as: String.self) ?? AuditLog.genesis, hash: "")
            signature.hash = Self.digest(of: signature)
            try await database.raw(
                """
                INSERT INTO acknowledgments (seq, time, person_id, document_id, version, sha256, typed_name, building,
                  school_year, client, user_agent, previous_hash, hash)
                VALUES (\(bind: signature.seq), \(bind: signature.time), \(bind: signature.personID),
                  \(bind: signature.documentID), \(bind: signature.version), \(bind: signature.sha256),
                  \(bind: signature.typedName), \(bind: signature.building), \(bind: signature.schoolYear),
                  \(bind: signature.client), \(bind: signature.userAgent), \(bind: signature.previousHash),
                  \(bind: signature.hash))
                """
            ).run()
            return signature
        }
    }

    static func digest(of signature: Signature) -> String {
        var text = ""
        for field in [
            signature.previousHash, String(signature.seq), String(signature.time), signature.personID,
            signature.documentID, signature.version, signature.sha256, signature.typedName, signature.building ?? "",
            signature.schoolYear, signature.client, signature.userAgent,
        ] {
            text += "\(field.utf8.count):\(field)\n"
        }
        return sha256(text)
    }

    /// A person's signatures, newest first.
    public func signatures(of personID: String) async throws -> [Signature] {
        try await connection.run { database in
            try await database.raw(
                "SELECT * FROM acknowledgments WHERE person_id = \(bind: personID) ORDER BY seq DESC"
            ).all().map(Self.signature)
        }
    }

    static func signature(_ row: any SQLRow) throws -> Signature {
        Signature(
            seq: try row.decode(column: "seq", as: Int64.self), time: try row.decode(column: "time", as: Int64.self),
            personID: try row.decode(column: "person_id", as: String.self),
            documentID: try row.decode(column: "document_id", as: String.self),
            version: try row.decode(column: "version", as: String.self),
            sha256: try row.decode(column: "sha256", as: String.self),
            typedName: try row.decode(column: "typed_name", as: String.self),
            building: try row.decode(column: "building", as: String?.self),
            schoolYear: try row.decode(column: "school_year", as: String.self),
            client: try row.decode(column: "client", as: String.self),
            userAgent: try row.decode(column: "user_agent", as: String.self),
            previousHash: try row.decode(column: "previous_hash", as: String.self),
            hash: try row.decode(column: "hash", as: String.self))
    }

    /// Walks the signature chain: numbering, links, each signature's own hash. Returns how many
    /// signatures hold, and the first that does not, if any.
    public func verify() async throws -> (count: Int, broken: Int64?) {
        var previous = AuditLog.genesis
        var expected: Int64 = 1
        while true {
            let page = try await connection.run { database in
                try await database.raw(
                    "SELECT * FROM acknowledgments WHERE seq >= \(bind: expected) ORDER BY seq LIMIT 5000"
                ).all().map(Self.signature)
            }
            if page.isEmpty { return (Int(expected - 1), nil) }
            for signature in page {
                if signature.seq != expected || signature.previousHash != previous
                    || Self.digest(of: signature) != signature.hash
                {
                    return (Int(expected - 1), expected)
                }
                previous = signature.hash
                expected += 1
            }
        }
    }

    /// One person's standing, for the status report.
    public struct Standing: Sendable, Hashable {
        public var person: Person
        /// Documents that apply and are not signed for this version, building and school year.
        public var outstanding: [String]
        /// When the person last signed anything this school year.
        public var lastSigned: Int64?
    }

    /// Every active person in `buildings` (nil: all) with `roles` (empty: all), with what each has
    /// still to sign this school year.
    public func standings(buildings: Set<String>?, roles: Set<String> = [], schoolYear: String) async throws -> [Standing] {
        let documents = try await documents().filter { $0.acknowledge && $0.current != nil }
        let people = try await store.directory.people().map(\.person).filter { person in
            guard case .active = person.status else { return false }
            if let buildings, !buildings.contains(person.building ?? "") { return false }
            return roles.isEmpty || roles.contains(person.role.rawValue)
        }
        var signed: Set<Signed> = []
        var last: [String: Int64] = [:]
        try await connection.run { database in
            for row in try await database.raw(
                "SELECT person_id, document_id, sha256, building, time FROM acknowledgments WHERE school_year = \(bind: schoolYear)"
            ).all() {
                let person = try row.decode(column: "person_id", as: String.self)
                signed.insert(
                    Signed(
                        person: person, document: try row.decode(column: "document_id", as: String.self),
                        sha256: try row.decode(column: "sha256", as: String.self),
                        building: try row.decode(column: "building", as: String?.self)))
                last[person] = max(last[person] ?? 0, try row.decode(column: "time", as: Int64.self))
            }
        }
        return people.map { person in
            Standing(
                person: person, outstanding: Self.unsigned(documents, for: person, signed: signed).map(\.id),
                lastSigned: last[person.id])
        }
    }
}
