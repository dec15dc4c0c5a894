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
        /// How long a tunnel may wait for the TLS ClientHello.
        public var helloTimeout: TimeAmount = .seconds(10)
        public var maxConnectionsPerClient = 512
        public var maxConnections = 20_000
        /// Shown on block pages.
        public var contact: String?
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
        shared.bound.withLock { $0 = addresses }
        try? await gracefulShutdown()
        for channel in channels { try? await channel.close() }
    }
}

/// Counters for `/metrics`.
public final class ProxyMetrics: Sendable {
    public let allowed = Atomic<UInt64>(0)
    public let blocked = Atomic<UInt64>(0)
    public let refused = Atomic<UInt64>(0)
    public let tunnels = Atomic<UInt64>(0)
    public let bytesToClients = Atomic<UInt64>(0)

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
        return text
    }
}

/// What every connection of one proxy shares.
final class ProxyShared: Sendable {
    let configuration: ProxyServer.Configuration
    let snapshots: SnapshotHolder
    let identities: ClientIdentities
    let recorder: ActivityRecorder
    let logger: Logger
    let metrics = ProxyMetrics()
    let bound = Mutex<[SocketAddress]>([])
    let connections = Mutex<(total: Int, perClient: [IPAddress: Int])>((0, [:]))

    init(
        configuration: ProxyServer.Configuration, snapshots: SnapshotHolder, identities: ClientIdentities,
        recorder: ActivityRecorder, logger: Logger
    ) {
        self.configuration = configuration
        self.snapshots = snapshots
        self.identities = identities
        self.recorder = recorder
        self.logger = logger
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

    func release(_ client: IPAddress) {
        connections.withLock { state in
            state.total -= 1
            let left = state.perClient[client, default: 1] - 1
            state.perClient[client] = left > 0 ? left : nil
        }
    }

    /// Whether the proxy serves this client: a configured zone's network or `clients`.
    func serves(_ client: IPAddress, snapshot: PolicySnapshot) -> Bool {
        snapshot.zone(for: client) >= 0 || configuration.clients.contains { $0.contains(client) }
    }
}
