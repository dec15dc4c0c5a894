import StewardPolicy

/// How a blocked name is answered over DNS.
public enum BlockAnswer: String, Sendable, CaseIterable {
    /// NXDOMAIN, with a synthetic SOA so resolvers cache it briefly.
    case nxdomain
    /// A → 0.0.0.0, AAAA → ::, other types empty.
    case null
    /// A/AAAA → the block page's address, so browsers land on the page that names the clause.
    case blockPage = "block-page"
}

/// `dns:` — the filtering resolver.
public struct DNSSettings: Sendable {
    /// Addresses to serve on, UDP and TCP.
    public var listen: [HostPort] = [HostPort(address: IPAddress("127.0.0.1")!, port: 53)]
    /// The district's upstream resolvers.
    public var upstreams: [HostPort] = []
    /// Extra client networks served besides every zone's networks.
    public var clients: [IPNetwork] = []
    public var blockAnswer: BlockAnswer = .nxdomain
    public var blockPageIPv4: IPAddress?
    public var blockPageIPv6: IPAddress?
    /// TTL of synthesised answers (blocks, rewrites).
    public var blockedTTL: UInt32 = 60
    public var cacheSize = 100_000
    public var cacheMinTTL: UInt32 = 0
    public var cacheMaxTTL: UInt32 = 86_400
    public var negativeMaxTTL: UInt32 = 3600
    /// Per attempt, milliseconds.
    public var timeoutMilliseconds = 1500
    public var attempts = 3
    /// Per client address; 0 turns the limit off.
    public var rateLimitQueriesPerSecond = 0
    public var rateLimitBurst = 0
    public var tcpIdleTimeoutSeconds = 10
    /// Open TCP connections at most, in all and from one client address (RFC 7766 §6.2.2).
    public var tcpMaxConnections = 1024
    public var tcpMaxPerClient = 64
    /// Apple Private Relay names are answered NXDOMAIN so devices fall back to the filtered path.
    public var blockPrivateRelay = true
    /// UDP through a batched `recvmmsg`/`sendmmsg` loop on a thread of its own, which also relays
    /// cache misses to the upstreams itself, instead of NIO's datagram channel (Linux; on by
    /// default, `false` goes back to the channel).
    public var batchedUDP = true

    public init() {}
}

/// `activity:` — the record of decisions.
public struct ActivitySettings: Sendable {
    public var retentionDays = 180
    /// Events waiting for the writer; beyond this they are dropped and counted. The writer takes
    /// them every 200 ms, so the default holds several seconds of a busy district's queries if the
    /// store stalls, while a full queue (a server at saturation, whose events are dropped first)
    /// stays near 15 MiB: 65,536 held about 31 MiB, a third of the DNS service's memory.
    public var queueCapacity = 32_768

    public init() {}
}

/// `metrics:` — Prometheus text format.
public struct MetricsSettings: Sendable {
    public var listen: HostPort?

    public init() {}
}

/// `store:` — where Steward keeps the directory, acknowledgments, audit log and activity.
public struct StoreSettings: Sendable {
    /// A PostgreSQL connection URL (`postgres://user:password@host:5432/db?sslmode=…`) for districts
    /// that run several nodes; nil keeps everything in SQLite in the data directory.
    public var url: String?

    public init() {}
}

/// `directory:` — identity sessions.
public struct DirectorySettings: Sendable {
    /// A person signed in on more devices than this at once is flagged (R15: no sharing of
    /// accounts).
    public var concurrentDevices = 3
    /// How long a session opened without its own expiry lasts, in minutes.
    public var sessionMinutes = 480

    public init() {}
}

/// `proxy:` — the filtering web proxy.
public struct ProxySettings: Sendable {
    public var listen: [HostPort] = [HostPort(address: IPAddress("127.0.0.1")!, port: 3128)]
    /// Networks served besides every zone's networks.
    public var clients: [IPNetwork] = []
    /// Ports CONNECT may reach.
    public var connectPorts: [Int] = [443]
    public var connectTimeoutSeconds = 10
    public var idleTimeoutSeconds = 300
    public var maxConnectionsPerClient = 512
    public var maxConnections = 20_000
    /// `host:port` the PAC file sends browsers to (default: the address the PAC was fetched from).
    public var pacProxy: String?
    /// Networks the PAC file sends direct (default: every zone's networks).
    public var direct: [IPNetwork]?
    /// Seconds a client has to send a complete request head (and a kept-alive connection waits
    /// for its next request), for the origin's response head, and for a tunnel's TLS ClientHello.
    public var requestHeadTimeoutSeconds = 60
    public var responseTimeoutSeconds = 60
    public var helloTimeoutSeconds = 60
    /// Whether allowed tunnels move their bytes on the relay's thread (else on their event loop).
    public var tunnelRelay = true
    /// Kept-alive origin connections: per origin and in all (per event loop), and idle seconds.
    public var originPoolPerOrigin = 32
    public var originPoolTotal = 2_048
    public var originIdleSeconds = 30
    /// Proxy login (`authentication:`): nil when people are identified by address only.
    public var authentication: ProxyAuthenticationSettings?
    /// R6 (`bandwidth:`): KiB/s per person for the policy's non-priority categories (0: no limit),
    /// and the KiB/s to all clients above which the limit applies (0: always).
    public var nonPriorityKiBPerSecond = 0
    public var busyAboveKiBPerSecond = 0

    public init() {}
}

/// `proxy.authentication:` — sign-in to the proxy with district credentials (HTTP Basic).
public struct ProxyAuthenticationSettings: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        case required, optional
    }

    public var mode: Mode = .required
    public var realm = "District web access"

    public init() {}
}

/// `web:` — the captive portal, block page and admin console.
public struct WebSettings: Sendable {
    public var listen: [HostPort] = [HostPort(address: IPAddress("127.0.0.1")!, port: 8080)]
    /// The addresses the DNS filter gives a client that must sign in first (portal zones), so
    /// every web name it looks up lands on the portal.
    public var portalIPv4: IPAddress?
    public var portalIPv6: IPAddress?
    /// How pages, the captive-portal API (RFC 8908) and one-time links name the portal.
    public var publicURL: String?
    /// Names resolved normally before sign-in (the portal's own name, the district's sign-in helpers).
    public var allowBeforeSignIn: [String] = []
    /// Month and day the school year starts (everyone signs again each school year).
    public var schoolYearStartMonth = 7
    public var schoolYearStartDay = 1
    /// Failed sign-ins allowed per account or address before a lockout.
    public var signInFailures = 5
    public var lockoutMinutes = 15
    /// Minutes a console sign-in lasts without use.
    public var consoleIdleMinutes = 30
    /// Set the cookies' Secure attribute (when the portal is served over HTTPS by a front end).
    public var secureCookies = false

    public init() {}
}
