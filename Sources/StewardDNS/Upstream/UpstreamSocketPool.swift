import Logging
import NIOCore
import Synchronization

/// The UDP sockets one event loop uses to reach the upstreams (and the resolutions in flight on
/// it, which identical queries join): per upstream, a few long-lived
/// sockets connected to it (`DNSForwarder.Configuration.socketsPerUpstream`), opened on first use.
///
/// Source-port randomisation (RFC 5452 9.2, 10) with pooled sockets: every socket is bound by the
/// kernel to a random ephemeral port and retires after `socketMaxUses` attempts or `socketMaxAge`, when a new
/// socket on a new random port takes its place; each attempt picks one of the sockets at random
/// and a random ID unused on it, and a query's attempts never reuse a socket. An off-path attacker
/// must still guess the port among the live ones and the 16-bit ID, and every answer must also
/// match the question and come from the upstream's address and port (`UpstreamQuery.evaluate`).
/// What the pool saves is a socket(), connect(), epoll registration and close per forwarded query,
/// which cost more than everything else the forwarder does.
///
/// `@unchecked Sendable`: stored in the forwarder's table of pools, which is behind a `Mutex`; its
/// mutable state is only touched on `eventLoop` (the methods assert it).
final class UpstreamSocketPool: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let configuration: DNSForwarder.Configuration
    private let metrics: UpstreamMetrics
    private let logger: Logger
    private let slotCount: Int
    /// Per upstream, `slotCount` slots.
    private var slots: [[UpstreamSocket?]]
    private var generator = DNSRandom()
    /// Resolutions in flight on this event loop, for identical queries to join (see
    /// `DNSForwarder.begin`).
    var resolutions: [UpstreamResolution.Key: UpstreamResolution] = [:]

    init(eventLoop: any EventLoop, configuration: DNSForwarder.Configuration, metrics: UpstreamMetrics, logger: Logger) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        // A query's attempts to one upstream each need their own socket.
        self.slotCount = max(1, configuration.socketsPerUpstream, configuration.attempts)
        self.slots = Array(repeating: Array(repeating: nil, count: slotCount), count: configuration.upstreams.count)
    }

    /// A usable socket to `upstream` chosen at random, not one of `avoiding` (the sockets the
    /// query already used); a retired or closed socket's slot gets a new socket.
    func socket(to upstream: Int, avoiding: [ObjectIdentifier]) -> UpstreamSocket {
        eventLoop.preconditionInEventLoop()
        let start = Int.random(in: 0..<slotCount, using: &generator)
        var chosen = start
        for step in 0..<slotCount {
            let index = (start + step) % slotCount
            if let socket = slots[upstream][index], avoiding.contains(ObjectIdentifier(socket)) { continue }
            chosen = index
            break
        }
        if let socket = slots[upstream][chosen], socket.isUsable {
            return socket
        }
        let socket = UpstreamSocket(
            upstream: configuration.upstreams[upstream], eventLoop: eventLoop, maxUses: configuration.socketMaxUses,
            maxAge: configuration.socketMaxAge, metrics: metrics, logger: logger, random: generator)
        slots[upstream][chosen] = socket
        socket.open()
        return socket
    }
}

/// The forwarder's pools, one per event loop that forwards.
///
/// `Sendable`: the table is behind a `Mutex`; each pool is confined to its event loop.
final class UpstreamSocketPools: Sendable {
    private let pools = Mutex<[ObjectIdentifier: UpstreamSocketPool]>([:])
    private let configuration: DNSForwarder.Configuration
    private let metrics: UpstreamMetrics
    private let logger: Logger

    init(configuration: DNSForwarder.Configuration, metrics: UpstreamMetrics, logger: Logger) {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
    }

    /// The pool of `eventLoop`, created on first use.
    func pool(for eventLoop: any EventLoop) -> UpstreamSocketPool {
        let key = ObjectIdentifier(eventLoop)
        return pools.withLock { pools in
            if let pool = pools[key] { return pool }
            let pool = UpstreamSocketPool(
                eventLoop: eventLoop, configuration: configuration, metrics: metrics, logger: logger)
            pools[key] = pool
            return pool
        }
    }
}
