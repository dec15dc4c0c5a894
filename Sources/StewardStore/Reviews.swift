import Foundation
import SQLKit
import StewardPolicy

/// Requests that a blocked site be reviewed (a teacher asking that an educational site be
/// unblocked), routed to the administrators of the requester's building. Approving one adds an
/// exception for that building (effective at the next policy compile, which the web service starts
/// at once); declining records the reason.
public struct Reviews: Sendable {
    let store: Store
    var connection: StoreConnection { store.connection }

    public enum Status: String, Sendable, CaseIterable { case open, approved, declined }

    public struct Request: Sendable, Hashable {
        public var id: String
        public var time: Int64
        public var host: String
        public var url: String?
        public var categories: String
        public var rule: String?
        public var requester: String
        public var requesterID: String?
        public var contact: String
        public var building: String?
        public var reason: String
        public var status: Status
        public var decidedBy: String?
        public var decidedAt: Int64?
        public var decisionReason: String?

        public init(
            host: String, url: String?, categories: String, rule: String?, requester: String, requesterID: String?,
            contact: String, building: String?, reason: String
        ) {
            id = ""
            time = 0
            self.host = host
            self.url = url
            self.categories = categories
            self.rule = rule
            self.requester = requester
            self.requesterID = requesterID
            self.contact = contact
            self.building = building
            self.reason = reason
            status = .open
        }
    }

    /// An exception approved from a review.
    public struct Exception: Sendable, Hashable {
        public var id: String
        public var host: String
        /// nil: district-wide (a district administrator's approval of a request with no building).
        public var building: String?
        public var reviewID: String?
        public var createdBy: String
        public var createdAt: Int64
    }

    public func submit(_ request: Request, now: Int64 = unixNow()) async throws -> Request {
        var request = request
        request.id = "R" + String(UInt64.random(in: 0...UInt64(1 << 40)), radix: 36).uppercased()
        request.time = now
        request.status = .open
        let stored = request
        try await connection.transaction { database in
            try await database.raw(
                """
                INSERT INTO review_requests (id, time, host, url, categories, rule, requester, requester_id, contact,
                  building, reason, status)
                VALUES (\(bind: stored.id), \(bind: stored.time), \(bind: stored.host), \(bind: stored.url),
                  \(bind: stored.categories), \(bind: stored.rule), \(bind: stored.requester), \(bind: stored.requesterID),
                  \(bind: stored.contact), \(bind: stored.building), \(bind: stored.reason), 'open')
                """
            ).run()
            try await AuditLog.append(
                database, actor: "portal:\(stored.requesterID ?? stored.requester)", action: "review.request",
                subject: "review:\(stored.id)", detail: "\(stored.host) for \(stored.building ?? "the district")")
        }
        return stored
    }

    /// Requests in `buildings` (nil: every building), newest first.
    public func list(status: Status? = nil, buildings: Set<String>?) async throws -> [Request] {
        try await connection.run { database in
            let rows: [any SQLRow]
            if let status {
                rows = try await database.raw(
                    "SELECT * FROM review_requests WHERE status = \(bind: status.rawValue) ORDER BY time DESC LIMIT 1000"
                ).all()
            } else {
                rows = try await database.raw("SELECT * FROM review_requests ORDER BY time DESC LIMIT 1000").all()
            }
            return try rows.map(Self.request).filter { request in
                guard let buildings else { return true }
                return request.building.map(buildings.contains) ?? false
            }
        }
    }

    public func request(id: String) async throws -> Request? {
        try await connection.run { database in
            try await database.raw("SELECT * FROM review_requests WHERE id = \(bind: id)").first().map(Self.request)
        }
    }

    /// Approves or declines an open request. Approval adds an exception for the request's building
    /// and bumps the policy version.
    public func decide(id: String, approve: Bool, reason: String, actor: String, now: Int64 = unixNow()) async throws {
        try await connection.transaction { database in
            guard let request = try await database.raw("SELECT * FROM review_requests WHERE id = \(bind: id)").first()
                .map(Self.request)
            else { throw StoreError(.notFound, "no review request '\(id)'") }
            guard request.status == .open else {
                throw StoreError(.refused, "review request \(id) was already \(request.status.rawValue)")
            }
            if !approve, reason.trimmingCharacters(in: .whitespaces).isEmpty {
                throw StoreError(.refused, "a declined request needs a reason the requester will read")
            }
            let status: Status = approve ? .approved : .declined
            try await database.raw(
                """
                UPDATE review_requests SET status = \(bind: status.rawValue), decided_by = \(bind: actor),
                  decided_at = \(bind: now), decision_reason = \(bind: reason) WHERE id = \(bind: id)
                """
            ).run()
            if approve {
                try await database.raw(
                    """
                    INSERT INTO policy_exceptions (id, host, building, review_id, created_by, created_at)
                    VALUES (\(bind: "X" + id), \(bind: request.host), \(bind: request.building), \(bind: id),
                      \(bind: actor), \(bind: now))
                    """
                ).run()
                try await database.bumpPolicyVersion()
            }
            try await AuditLog.append(
                database, actor: actor, action: approve ? "review.approve" : "review.decline", subject: "review:\(id)",
                detail: "\(request.host) for \(request.building ?? "the district")" + (reason.isEmpty ? "" : ": \(reason)"))
        }
    }

    public func exceptions() async throws -> [Exception] {
        try await connection.run { database in
            try await database.raw("SELECT * FROM policy_exceptions ORDER BY created_at").all().map { row in
                Exception(
                    id: try row.decode(column: "id", as: String.self), host: try row.decode(column: "host", as: String.self),
                    building: try row.decode(column: "building", as: String?.self),
                    reviewID: try row.decode(column: "review_id", as: String?.self),
                    createdBy: try row.decode(column: "created_by", as: String.self),
                    createdAt: try row.decode(column: "created_at", as: Int64.self))
            }
        }
    }

    static func request(_ row: any SQLRow) throws -> Request {
        var request = Request(
            host: try row.decode(column: "host", as: String.self), url: try row.decode(column: "url", as: String?.self),
            categories: try row.decode(column: "categories", as: String.self),
            rule: try row.decode(column: "rule", as: String?.self),
            requester: try row.decode(column: "requester", as: String.self),
            requesterID: try row.decode(column: "requester_id", as: String?.self),
            contact: try row.decode(column: "contact", as: String.self),
            building: try row.decode(column: "building", as: String?.self),
            reason: try row.decode(column: "reason", as: String.self))
        request.id = try row.decode(column: "id", as: String.self)
        request.time = try row.decode(column: "time", as: Int64.self)
        request.status = Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .open
        request.decidedBy = try row.decode(column: "decided_by", as: String?.self)
        request.decidedAt = try row.decode(column: "decided_at", as: Int64?.self)
        request.decisionReason = try row.decode(column: "decision_reason", as: String?.self)
        return request
    }
}

extension SQLDatabase {
    /// Adds one to the policy version: the store holds policy that every node compiles in
    /// (exceptions, "work only" switches).
    func bumpPolicyVersion() async throws {
        try await raw("UPDATE store_state SET value = value + 1 WHERE key = 'policy-version'").run()
    }
}
