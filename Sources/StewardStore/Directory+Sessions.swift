import Foundation
import SQLKit
import StewardPolicy

/// Identity sessions (client address → person) and devices.
extension Directory {
    /// A stored identity session.
    public struct SessionRecord: Sendable, Hashable {
        public var address: IPAddress
        public var personID: String
        public var deviceID: String?
        /// `portal`, `radius`, `static` or `proxy-login`.
        public var source: String
        public var startedAt: Int64
        public var expiresAt: Int64
    }

    public static let sessionSources = ["portal", "radius", "static", "proxy-login"]

    /// What opening a session found.
    public struct SessionOpened: Sendable, Equatable {
        /// How many addresses the person is signed in at now, this one included.
        public var devices: Int
        /// True when that is more than the district allows (R15): the flag has been recorded.
        public var flagged: Bool
    }

    /// Opens (or replaces) the session at `address` for a person. A person signed in at more than
    /// `concurrentDevices` addresses at once is flagged (R15: no use of another person's account).
    @discardableResult
    public func openSession(
        address: IPAddress, personID: String, deviceID: String? = nil, source: String, expiresAt: Int64,
        concurrentDevices: Int, actor: String, now: Int64 = unixNow()
    ) async throws -> SessionOpened {
        guard Self.sessionSources.contains(source) else {
            throw StoreError(.refused, "unknown session source '\(source)' (\(Self.sessionSources.joined(separator: ", ")))")
        }
        guard expiresAt > now else { throw StoreError(.refused, "the session would end before it starts") }
        return try await connection.transaction { database in
            guard let person = try await database.raw("SELECT * FROM people WHERE id = \(bind: personID)").first().map(Self.record)
            else { throw StoreError(.notFound, "no person with id '\(personID)'") }
            guard person.person.status == .active else {
                throw StoreError(.refused, "\(personID) is \(Self.statusText(person.person.status)); no session is opened")
            }
            try await database.raw("DELETE FROM sessions WHERE address = \(bind: address.description)").run()
            try await database.raw(
                """
                INSERT INTO sessions (address, person_id, device_id, source, started_at, expires_at)
                VALUES (\(bind: address.description), \(bind: personID), \(bind: deviceID), \(bind: source), \(bind: now),
                  \(bind: expiresAt))
                """
            ).run()
            let devices = try await database.raw(
                "SELECT COUNT(*) AS n FROM sessions WHERE person_id = \(bind: personID) AND expires_at > \(bind: now)"
            ).first()?.decode(column: "n", as: Int.self) ?? 1
            let flagged = devices > concurrentDevices
            if flagged {
                try await database.raw(
                    """
                    INSERT INTO flags (time, kind, person_id, detail) VALUES (\(bind: now), 'concurrent-sessions',
                      \(bind: personID), \(bind: "signed in at \(devices) addresses at once (allowed: \(concurrentDevices)); latest \(address)"))
                    """
                ).run()
            }
            try await AuditLog.append(
                database, actor: actor, action: "session.open", subject: personID,
                detail: "\(source) at \(address) until \(expiresAt)" + (flagged ? "; flagged: \(devices) devices" : ""))
            try await database.bumpDirectoryVersion()
            return SessionOpened(devices: devices, flagged: flagged)
        }
    }

    public func closeSession(address: IPAddress, actor: String) async throws {
        try await connection.transaction { database in
            guard let row = try await database.raw(
                "SELECT person_id FROM sessions WHERE address = \(bind: address.description)"
            ).first() else { throw StoreError(.notFound, "no session at \(address)") }
            try await database.raw("DELETE FROM sessions WHERE address = \(bind: address.description)").run()
            try await AuditLog.append(
                database, actor: actor, action: "session.close", subject: try row.decode(column: "person_id", as: String.self),
                detail: "at \(address)")
            try await database.bumpDirectoryVersion()
        }
    }

    /// Sessions that have not ended at `now`, each with its person as stored now (so a revocation
    /// or a building move takes effect on the next refresh, without signing in again).
    public func activeSessions(now: Int64 = unixNow()) async throws -> [(session: SessionRecord, person: Person)] {
        try await connection.run { database in
            let rows = try await database.raw(
                """
                SELECT s.address AS s_address, s.person_id AS s_person, s.device_id AS s_device, s.source AS s_source,
                  s.started_at AS s_started, s.expires_at AS s_expires, p.*
                FROM sessions s JOIN people p ON p.id = s.person_id WHERE s.expires_at > \(bind: now)
                """
            ).all()
            return try rows.compactMap { row in
                guard let address = IPAddress(try row.decode(column: "s_address", as: String.self)) else { return nil }
                let session = SessionRecord(
                    address: address, personID: try row.decode(column: "s_person", as: String.self),
                    deviceID: try row.decode(column: "s_device", as: String?.self),
                    source: try row.decode(column: "s_source", as: String.self),
                    startedAt: try row.decode(column: "s_started", as: Int64.self),
                    expiresAt: try row.decode(column: "s_expires", as: Int64.self))
                return (session, try Self.record(row).person)
            }
        }
    }

    /// Removes sessions that ended before `now`; returns how many.
    @discardableResult
    public func purgeExpiredSessions(now: Int64 = unixNow()) async throws -> Int {
        try await connection.transaction { database in
            let removed = try await database.raw(
                "DELETE FROM sessions WHERE expires_at <= \(bind: now) RETURNING address"
            ).all().count
            if removed > 0 { try await database.bumpDirectoryVersion() }
            return removed
        }
    }

    /// Flags raised (concurrent sessions…), newest first.
    public func flags(limit: Int = 100) async throws -> [(time: Int64, kind: String, personID: String?, detail: String)] {
        try await connection.run { database in
            try await database.raw("SELECT * FROM flags ORDER BY time DESC LIMIT \(bind: limit)").all().map { row in
                (
                    try row.decode(column: "time", as: Int64.self), try row.decode(column: "kind", as: String.self),
                    try row.decode(column: "person_id", as: String?.self), try row.decode(column: "detail", as: String.self)
                )
            }
        }
    }

    // MARK: Devices

    public struct Device: Sendable, Hashable {
        public var id: String
        /// Lower-case, colon-separated (`aa:bb:cc:dd:ee:ff`).
        public var hardwareAddress: String?
        public var ownerID: String?
        public var name: String?
    }

    /// `AA-BB-CC-DD-EE-FF`, `aabb.ccdd.eeff`, `AA:BB:…` → `aa:bb:cc:dd:ee:ff`; nil if not a MAC address.
    public static func normalizedHardwareAddress(_ text: String) -> String? {
        let hex = text.lowercased().filter { $0 != ":" && $0 != "-" && $0 != "." }
        guard hex.count == 12, hex.allSatisfy(\.isHexDigit) else { return nil }
        var pairs: [String] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            pairs.append(String(hex[index..<next]))
            index = next
        }
        return pairs.joined(separator: ":")
    }

    /// Adds or updates a device.
    public func saveDevice(id: String, hardwareAddress: String?, ownerID: String?, name: String?, actor: String) async throws {
        guard !id.isEmpty, id.count <= 128 else { throw StoreError(.refused, "a device id must be 1–128 characters") }
        var normalized: String? = nil
        if let hardwareAddress {
            guard let value = Self.normalizedHardwareAddress(hardwareAddress) else {
                throw StoreError(.refused, "'\(hardwareAddress)' is not a hardware (MAC) address")
            }
            normalized = value
        }
        try await connection.transaction { database in
            if let ownerID, try await database.raw("SELECT id FROM people WHERE id = \(bind: ownerID)").first() == nil {
                throw StoreError(.notFound, "no person with id '\(ownerID)'")
            }
            if let normalized,
                let other = try await database.raw(
                    "SELECT id FROM devices WHERE hardware_address = \(bind: normalized) AND id <> \(bind: id)"
                ).first()
            {
                throw StoreError(
                    .refused, "\(normalized) already belongs to device '\(try other.decode(column: "id", as: String.self))'")
            }
            let now = unixNow()
            try await database.insert(into: "devices")
                .columns("id", "hardware_address", "owner_id", "name", "created_at", "updated_at")
                .values(SQLBind(id), SQLBind(normalized), SQLBind(ownerID), SQLBind(name), SQLBind(now), SQLBind(now))
                .onConflict(with: ["id"]) {
                    $0.set(excludedValueOf: "hardware_address").set(excludedValueOf: "owner_id")
                        .set(excludedValueOf: "name").set(excludedValueOf: "updated_at")
                }
                .run()
            try await AuditLog.append(
                database, actor: actor, action: "device.save", subject: ownerID ?? "device:\(id)",
                detail: "device \(id)" + (normalized.map { " \($0)" } ?? ""))
            try await database.bumpDirectoryVersion()
        }
    }

    public func devices(ownerID: String? = nil) async throws -> [Device] {
        try await connection.run { database in
            let rows =
                if let ownerID {
                    try await database.raw("SELECT * FROM devices WHERE owner_id = \(bind: ownerID) ORDER BY id").all()
                } else {
                    try await database.raw("SELECT * FROM devices ORDER BY id").all()
                }
            return try rows.map { row in
                Device(
                    id: try row.decode(column: "id", as: String.self),
                    hardwareAddress: try row.decode(column: "hardware_address", as: String?.self),
                    ownerID: try row.decode(column: "owner_id", as: String?.self),
                    name: try row.decode(column: "name", as: String?.self))
            }
        }
    }
}
