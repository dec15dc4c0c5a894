import StewardPolicy

/// One decision on the network, as data (never a log line): who asked, for what, what Steward
/// decided and why. Built on hot paths, so it carries the decision as a value and the snapshot
/// that made it by reference; words (rule id, clause, category names) are resolved by the writer.
public struct ActivityEvent: Sendable {
    public enum Source: String, Sendable { case dns, proxy, portal }

    /// Nanoseconds since 1970 (UTC).
    public var time: Int64
    public var source: Source
    public var client: IPAddress
    public var personID: String?
    /// The name asked for (DNS) or the host (proxy), as received.
    public var name: String
    /// DNS query type, or 0.
    public var queryType: UInt16
    /// Proxy: method and path; nil for DNS.
    public var method: String?
    public var path: String?
    public var decision: Decision
    /// The snapshot that decided, to put the decision into words.
    public var snapshot: PolicySnapshot
    /// DNS response code sent, or the HTTP status.
    public var responseCode: UInt16
    /// Microseconds from receipt to answer.
    public var latencyMicros: UInt32
    public var cacheHit: Bool
    /// Which upstream answered (index into the configured list), or -1.
    public var upstream: Int16
    public var bytesIn: Int64
    public var bytesOut: Int64

    public init(
        time: Int64, source: Source, client: IPAddress, personID: String?, name: String, queryType: UInt16 = 0,
        method: String? = nil, path: String? = nil, decision: Decision, snapshot: PolicySnapshot,
        responseCode: UInt16, latencyMicros: UInt32, cacheHit: Bool = false, upstream: Int16 = -1,
        bytesIn: Int64 = 0, bytesOut: Int64 = 0
    ) {
        self.time = time
        self.source = source
        self.client = client
        self.personID = personID
        self.name = name
        self.queryType = queryType
        self.method = method
        self.path = path
        self.decision = decision
        self.snapshot = snapshot
        self.responseCode = responseCode
        self.latencyMicros = latencyMicros
        self.cacheHit = cacheHit
        self.upstream = upstream
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
    }
}

/// An event in words, as stores keep it.
public struct ActivityRecord: Sendable, Hashable, Codable {
    public var time: Int64
    public var source: String
    public var client: String
    public var personID: String?
    public var group: String?
    public var name: String
    public var queryType: Int
    public var method: String?
    public var path: String?
    public var action: String
    public var cause: String
    public var rule: String?
    public var categories: [String]
    public var clauseDocument: String?
    public var clauseSection: String?
    public var responseCode: Int
    public var latencyMicros: Int
    public var cacheHit: Bool
    public var upstream: Int
    public var bytesIn: Int64
    public var bytesOut: Int64

    public init(
        time: Int64, source: String, client: String, personID: String?, group: String?, name: String, queryType: Int,
        method: String?, path: String?, action: String, cause: String, rule: String?, categories: [String],
        clauseDocument: String?, clauseSection: String?, responseCode: Int, latencyMicros: Int, cacheHit: Bool,
        upstream: Int, bytesIn: Int64, bytesOut: Int64
    ) {
        self.time = time
        self.source = source
        self.client = client
        self.personID = personID
        self.group = group
        self.name = name
        self.queryType = queryType
        self.method = method
        self.path = path
        self.action = action
        self.cause = cause
        self.rule = rule
        self.categories = categories
        self.clauseDocument = clauseDocument
        self.clauseSection = clauseSection
        self.responseCode = responseCode
        self.latencyMicros = latencyMicros
        self.cacheHit = cacheHit
        self.upstream = upstream
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
    }

    public init(_ event: ActivityEvent) {
        let snapshot = event.snapshot
        let decision = event.decision
        time = event.time
        source = event.source.rawValue
        client = event.client.description
        personID = event.personID
        group = snapshot.group(at: decision.group)?.id
        name = event.name
        queryType = Int(event.queryType)
        method = event.method
        path = event.path
        action = decision.action.rawValue
        cause = decision.cause.rawValue
        rule = snapshot.rule(at: decision.rule)?.id
        categories = snapshot.lists.listCategoryNames(of: decision.categories)
        let clause = snapshot.clause(for: decision)
        clauseDocument = clause?.document
        clauseSection = clause?.section
        responseCode = Int(event.responseCode)
        latencyMicros = Int(event.latencyMicros)
        cacheHit = event.cacheHit
        upstream = Int(event.upstream)
        bytesIn = event.bytesIn
        bytesOut = event.bytesOut
    }
}
