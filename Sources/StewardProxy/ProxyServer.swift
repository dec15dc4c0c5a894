import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import StewardActivity
import StewardPolicy
import Synchronization

/// The filtering web proxy: an explicit HTTP/1.1 forward proxy with CONNECT tunnels, deciding
/// every request for the person or network behind it, and never an open proxy.
///
/// Channel handlers rather than the async setup/handle split: a tunnel relays bytes between two
/// channels with backpressure, which is simplest and cheapest as two handlers on one event loop.
public struct ProxyServer: Service {
    public struct Configuration: Sendable {
        public var listen: [SocketAddress]
        /// Networks served besides every zone's networks.
        public var clients: [IPNetwork] = []
        /// Ports CONNECT may reach (a tunnel to port 22 or 25 is refused).
        public var connectPorts: Set<Int> = [443]
        public var connectTimeout: TimeAmount = .seconds(10)
        /// A connection with nothing read or written for this long is closed.
        public var idleTimeout: TimeAmount = .seconds(300)
        /// How long a tunnel may wait for the TLS ClientHello (browsers send it at once; the origin
        /// connection is held meanwhile).
        public var helloTimeout: TimeAmount = .seconds(60)
        /// Allowed tunnels move their bytes on one thread of their own (`TunnelRelay`), not on
        /// their event loops.
        public var tunnelRelay = true
        /// Steward's other services (web, metrics, DNS): the proxy refuses to reach them at a
        /// loopback or unspecified address, or at their own, so that a request through the proxy
        /// never comes to them from the proxy's address. The proxy's own addresses are added
        /// once bound.
        public var ownServices: [SocketAddress] = []
        /// A complete request head must arrive within this of the connection opening or the
        /// previous response ending (a keep-alive connection waits this long for its next request).
        public var requestHeadTimeout: TimeAmount = .seconds(60)
        /// The origin's response head must arrive within this of the request.
        public var responseTimeout: TimeAmount = .seconds(60)
        /// Kept-alive origin connections: per origin and in all on each event loop, and how long
        /// one may wait unused.
        public var originPoolPerOrigin = 32
        public var originPoolTotal = 2_048
        public var originIdleTimeout: TimeAmount = .seconds(30)
        /// Priority classes (R6): the rate non-priority traffic is limited to per person; nil: none.
        public var bandwidth: BandwidthLimiter.Configuration?
        /// Proxy login (Basic, against the directory); nil: people are identified by address.
        public var authentication: ProxyAuthentication?
        public var maxConnectionsPerClient = 512
        public var maxConnections = 20_000
        /// Shown on block pages.
        public var contact: String?
        /// The web service's block page (`http://portal/blocked`), linked from the proxy's block
        /// page so the person can ask for a review; nil without a web service.
        public var reviewURL: String?
        /// `host:port` the PAC file names (default: the first listen address).
        public var pacProxy: String?
        /// Networks the PAC file sends direct.
        public var directNetworks: [IPNetwork] = []

        public init(listen: [SocketAddress]) {
            self.listen = listen
        }
    }

    let shared: ProxyShared
    let group: any EventLoopGroup

    public init(
        configuration: Configuration, snapshots: SnapshotHolder, identities: ClientIdentities, recorder: ActivityRecorder,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        shared = ProxyShared(
            configuration: configuration, snapshots: snapshots, identities: identities, recorder: recorder, logger: logger)
        self.group = group
    }

    public var metrics: ProxyMetrics { shared.metrics }

    /// The addresses bound, once listening (port 0 in the configuration becomes the real port);
    /// empty if it has not bound within five seconds.
    public func boundAddresses() async -> [SocketAddress] {
        for _ in 0..<500 {
            let addresses = shared.bound.withLock { $0 }
            if !addresses.isEmpty { return addresses }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return []
    }

    public func run() async throws {
        let shared = self.shared
        defer { shared.closePools() }
        var channels: [any Channel] = []
        for address in shared.configuration.listen {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 512)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try ProxyConnection.setUp(channel, shared: shared) }
                }
                .bind(to: address).get()
            channels.append(channel)
            shared.logger.info("proxy listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        }
        let addresses = channels.compactMap(\.localAddress)
        // (Until the relay runs, tunnels stay on their event loops.)
        shared.relay?.start()
        shared.bound.withLock { $0 = addresses }
        try? await gracefulShutdown()
        for channel in channels { try? await channel.close() }
        await shared.relay?.stop()
    }
}

/// Counters for `/metrics`.
public final class ProxyMetrics: Sendable {
    public let allowed = Atomic<UInt64>(0)
    public let blocked = Atomic<UInt64>(0)
    public let refused = Atomic<UInt64>(0)
    public let tunnels = Atomic<UInt64>(0)
    public let bytesToClients = Atomic<UInt64>(0)
    let limiter: BandwidthLimiter?
    let relay: TunnelRelay?

    init(limiter: BandwidthLimiter?, relay: TunnelRelay?) {
        self.limiter = limiter
        self.relay = relay
    }

    public func prometheusText() -> String {
        var text = "# HELP steward_proxy_requests_total Proxy requests and tunnels by decision.\n"
        text += "# TYPE steward_proxy_requests_total counter\n"
        text += "steward_proxy_requests_total{decision=\"allow\"} \(allowed.load(ordering: .relaxed))\n"
        text += "steward_proxy_requests_total{decision=\"block\"} \(blocked.load(ordering: .relaxed))\n"
        text += "steward_proxy_requests_total{decision=\"refused\"} \(refused.load(ordering: .relaxed))\n"
        text += "# TYPE steward_proxy_tunnels_total counter\n"
        text += "steward_proxy_tunnels_total \(tunnels.load(ordering: .relaxed))\n"
        text += "# TYPE steward_proxy_bytes_to_clients_total counter\n"
        text += "steward_proxy_bytes_to_clients_total \(bytesToClients.load(ordering: .relaxed))\n"
        if let relay {
            text += "# HELP steward_proxy_relayed_tunnels_total Tunnels whose bytes moved on the tunnel relay's thread.\n"
            text += "# TYPE steward_proxy_relayed_tunnels_total counter\n"
            text += "steward_proxy_relayed_tunnels_total \(relay.relayed.load(ordering: .relaxed))\n"
            text += "# HELP steward_proxy_relayed_tunnels Tunnels open on the tunnel relay's thread now.\n"
            text += "# TYPE steward_proxy_relayed_tunnels gauge\n"
            text += "steward_proxy_relayed_tunnels \(relay.active.load(ordering: .relaxed))\n"
        }
        if let limiter {
            text += "# HELP steward_proxy_rate_limited_total Reads of non-priority traffic held back to the per-person rate (R6).\n"
            text += "# TYPE steward_proxy_rate_limited_total counter\n"
            text += "steward_proxy_rate_limited_total \(limiter.limited.load(ordering: .relaxed))\n"
        }
        return text
    }
}

/// Proxy login: people sign in to the proxy (HTTP Basic, RFC 7617) with their district username
/// and password, checked against the directory; the request is then decided for that person,
/// whatever device or address it comes from.
public struct ProxyAuthentication: Sendable {
    public enum Mode: String, Sendable {
        /// Every request must carry a valid login (407 otherwise).
        case required
        /// A login is used when given; otherwise the address's session or zone decides.
        case optional
    }

    public var mode: Mode
    public var realm: String
    /// Checks a login (username, password, client address) against the directory, with its own
    /// lockout after repeated failures.
    public var verify: @Sendable (String, String, IPAddress) async -> ProxyLoginResult

    public init(mode: Mode, realm: String, verify: @escaping @Sendable (String, String, IPAddress) async -> ProxyLoginResult) {
        self.mode = mode
        self.realm = realm
        self.verify = verify
    }
}

public enum ProxyLoginResult: Sendable {
    case person(Person)
    case rejected
    /// Too many failures for this account or address: refused without checking.
    case lockedOut
}

/// Logins proven recently, so that a password is checked once a minute per person rather than
/// on every new connection (bcrypt is slow on purpose).
final class ProxyLogins: Sendable {
    static let lifetime: Int64 = 60
    static let capacity = 50_000
    private let proven = Mutex<[String: (person: Person, expires: Int64)]>([:])

    func person(for authorization: String, now: Int64) -> Person? {
        proven.withLock { proven in
            guard let entry = proven[authorization], entry.expires > now else { return nil }
            return entry.person
        }
    }

    func remember(_ authorization: String, person: Person, expires: Int64) {
        proven.withLock { proven in
            if proven.count >= Self.capacity {
                let now = unixNow()
                proven = proven.filter { $0.value.expires > now }
                if proven.count >= Self.capacity { proven.removeAll() }
            }
            proven[authorization] = (person, expires)
        }
    }

    /// The username and password of a `Basic` Proxy-Authorization value, or nil when it is not one.
    static func basicCredentials(_ value: String) -> (String, String)? {
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic", parts[1].utf8.count <= 1024,
            let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        let user = String(text[..<colon])
        let password = String(text[text.index(after: colon)...])
        guard !user.isEmpty, !password.isEmpty else { return nil }
        return (user, password)
    }
}

/// What every connection of one proxy shares.
final class ProxyShared: Sendable {
    let configuration: ProxyServer.Configuration
    let snapshots: SnapshotHolder
    let identities: ClientIdentities
    let recorder: ActivityRecorder
    let logger: Logger
    let metrics: ProxyMetrics
    let bound = Mutex<[SocketAddress]>([])
    let connections = Mutex<(total: Int, perClient: [IPAddress: Int])>((0, [:]))
    let logins = ProxyLogins()
    let limiter: BandwidthLimiter?
    /// Where allowed tunnels move their bytes once their ClientHello has been checked (nil on
    /// systems without epoll: then they stay on their event loop).
    let relay: TunnelRelay?
    private let pools = Mutex<[ObjectIdentifier: OriginPool]>([:])

    init(
        configuration: ProxyServer.Configuration, snapshots: SnapshotHolder, identities: ClientIdentities,
        recorder: ActivityRecorder, logger: Logger
    ) {
        self.configuration = configuration
        self.snapshots = snapshots
        self.identities = identities
        self.recorder = recorder
        self.logger = logger
        limiter = configuration.bandwidth.map { BandwidthLimiter(configuration: $0) }
        relay = configuration.tunnelRelay ? TunnelRelay(idleTimeout: configuration.idleTimeout, limiter: limiter) : nil
        metrics = ProxyMetrics(limiter: limiter, relay: relay)
    }

    /// The bucket an exchange's traffic is charged to, when the policy marks its destination
    /// non-priority and a rate is configured: the person, else the client address.
    func throttleKey(_ exchange: ProxyHandler.Exchange, client: IPAddress) -> String? {
        guard limiter != nil, exchange.snapshot.isNonPriority(exchange.decision.categories) else { return nil }
        return exchange.personID.map { "person:\($0)" } ?? "address:\(client)"
    }

    /// Counts a new connection from `client`; false when a cap is reached.
    func admit(_ client: IPAddress) -> Bool {
        connections.withLock { state in
            let current = state.perClient[client, default: 0]
            guard state.total < configuration.maxConnections, current < configuration.maxConnectionsPerClient else {
                return false
            }
            state.total += 1
            state.perClient[client] = current + 1
            return true
        }
    }

    /// Counts one more connection from `client` without a cap: a tunnel leaving its channel for
    /// the relay keeps its place while the channel's own count is released.
    func retain(_ client: IPAddress) {
        connections.withLock { state in
            state.total += 1
            state.perClient[client, default: 0] += 1
        }
    }

    func release(_ client: IPAddress) {
        connections.withLock { state in
            state.total -= 1
            let left = state.perClient[client, default: 1] - 1
            state.perClient[client] = left > 0 ? left : nil
        }
    }

    /// The kept-alive origin connections of `eventLoop`.
    func pool(for eventLoop: any EventLoop) -> OriginPool {
        pools.withLock { pools in
            let key = ObjectIdentifier(eventLoop)
            if let pool = pools[key] { return pool }
            let pool = OriginPool(
                eventLoop: eventLoop, idleTimeout: configuration.originIdleTimeout,
                maxPerOrigin: configuration.originPoolPerOrigin, maxTotal: configuration.originPoolTotal)
            pools[key] = pool
            return pool
        }
    }

    func closePools() {
        let all = pools.withLock { pools in
            defer { pools = [:] }
            return Array(pools.values)
        }
        for pool in all { pool.eventLoop.execute { pool.closeAll() } }
    }

    static let linkLocal = [IPNetwork("169.254.0.0/16")!, IPNetwork("fe80::/10")!]
    static let loopback = [
        IPNetwork("127.0.0.0/8")!, IPNetwork("::1/128")!, IPNetwork("0.0.0.0/8")!, IPNetwork("::/128")!,
    ]

    /// Why the proxy will not reach `remote` (the address a name resolved to and was connected
    /// to), if it will not, as squid's `to_linklocal` and `to_localhost` rules: a link-local
    /// address (169.254.169.254 answers cloud servers' credentials), or one of Steward's own
    /// services at a loopback address (which `0.0.0.0` also reaches) or its own address. Other
    /// loopback services stay reachable: a district may run its origins there.
    func unreachableReason(_ remote: SocketAddress?) -> String? {
        guard let remote, let text = remote.ipAddress, let address = IPAddress(text), let port = remote.port else {
            return nil
        }
        if Self.linkLocal.contains(where: { $0.contains(address) }) {
            return "\(text) is a link-local address, which the proxy does not reach"
        }
        let local = Self.loopback.contains { $0.contains(address) }
        let own = configuration.ownServices + bound.withLock { $0 } + configuration.listen
        for service in own where service.port == port {
            if local || service.ipAddress.flatMap({ IPAddress($0) }) == address {
                return "\(text) port \(port) is one of Steward's own services, which the proxy does not reach"
            }
        }
        return nil
    }

    /// Whether the proxy serves this client: a configured zone's network or `clients`.
    func serves(_ client: IPAddress, snapshot: PolicySnapshot) -> Bool {
        snapshot.zone(for: client) >= 0 || configuration.clients.contains { $0.contains(client) }
    }
}
