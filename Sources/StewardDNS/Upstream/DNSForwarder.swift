import Logging
import NIOCore
import NIOPosix
import StewardDNSWire
import Synchronization

/// Forwards client queries to the district's upstream resolvers (RFC 1035 7, with the
/// spoofing defences of RFC 5452 and TCP fallback of RFC 7766).
///
/// For each query: a new random ID and another pooled socket (so another random source port, see
/// `UpstreamSocketPool`) per attempt, responses accepted only when source, ID, QR and question all
/// match; a fresh OPT record
/// advertising 1232 octets with the client's DO bit; a truncated answer retried over TCP;
/// timeouts, socket errors, SERVFAIL and REFUSED fail over to the next upstream, up to
/// `attempts` (see `UpstreamResolutionStateMachine`). The answer carries the client's ID and
/// question. Identical queries in flight on one event loop share one resolution (each client
/// still gets its own ID and letter case). Queries share only the pooled sockets, counters and
/// the upstream order, so a dead upstream delays only the queries that wait on it, each by at
/// most `timeout * attempts`.
///
/// `Sendable`: configuration and collaborators are immutable; the in-flight count is atomic, the
/// upstream order and the table of per-event-loop socket pools are behind `Mutex`es, and each
/// query's state and each pool are confined to one event loop. The pooled sockets close with
/// their event loops; in-flight queries end on their own within their time bound.
public final class DNSForwarder: Sendable {
    /// The configuration in force.
    public let configuration: Configuration
    /// Counters, for export.
    public let metrics: UpstreamMetrics
    let group: any EventLoopGroup
    let logger: Logger
    let selector: UpstreamSelector
    let pools: UpstreamSocketPools
    private let inFlight = Atomic<Int>(0)
    /// TCP retries open at once (each holds a connection; see `maxTCPRetries`).
    let tcpRetries = Atomic<Int>(0)
    /// Most TCP retries open at once, as unbound's `outgoing-num-tcp`: an upstream that truncates
    /// every answer and then holds its TCP connections cannot take all of the process's file
    /// descriptors. A retry over the cap fails its attempt at once.
    static let maxTCPRetries = 128

    /// Creates a forwarder. Sockets are opened on the caller's event loop when it is a NIOPosix
    /// loop, otherwise on one of `group`'s.
    public init(configuration: Configuration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.metrics = UpstreamMetrics(upstreams: configuration.upstreams)
        self.selector = UpstreamSelector(count: configuration.upstreams.count, penalty: configuration.failurePenalty)
        self.pools = UpstreamSocketPools(configuration: configuration, metrics: metrics, logger: logger)
    }

    /// Queries currently waiting on upstreams.
    public var inFlightCount: Int { inFlight.load(ordering: .relaxed) }

    /// Forwards `query` (which must have exactly one question) and completes on `eventLoop` with
    /// the answer, or fails with an `UpstreamError` (the server then answers SERVFAIL).
    public func resolve(_ query: DNSMessage, on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamAnswer> {
        resolve(query, on: eventLoop, seed: nil)
    }

    /// `resolve(_:on:)`, going on from a first attempt already made (`seed`, by the batched loop's
    /// relay, which counted the query and the attempt) rather than starting afresh.
    func resolve(_ query: DNSMessage, on eventLoop: any EventLoop, seed: UpstreamSeed?) -> EventLoopFuture<
        UpstreamAnswer
    > {
        guard query.questions.count == 1, let question = query.questions.first else {
            return eventLoop.makeFailedFuture(UpstreamError.invalidQuery("\(query.questions.count) questions"))
        }
        guard !configuration.upstreams.isEmpty else {
            return eventLoop.makeFailedFuture(UpstreamError.allUpstreamsFailed(lastError: "no upstreams configured"))
        }
        guard enter() else {
            return eventLoop.makeFailedFuture(UpstreamError.overloaded)
        }
        if seed == nil { metrics.recordQuery() }

        let socketLoop = DatagramBootstrap(validatingGroup: eventLoop) == nil ? group.next() : eventLoop
        let promise = socketLoop.makePromise(of: UpstreamAnswer.self)
        promise.futureResult.whenComplete { _ in self.leave() }
        if socketLoop.inEventLoop {
            begin(query, question: question, promise: promise, on: socketLoop, seed: seed)
        } else {
            socketLoop.execute { self.begin(query, question: question, promise: promise, on: socketLoop, seed: seed) }
        }
        return promise.futureResult.hop(to: eventLoop)
    }

    /// Takes a place among the queries waiting on upstreams; false (counted as overloaded) when
    /// `maxInFlight` already wait. Every place taken is given back with `leave()`.
    func enter() -> Bool {
        guard inFlight.wrappingAdd(1, ordering: .relaxed).newValue <= configuration.maxInFlight else {
            inFlight.subtract(1, ordering: .relaxed)
            metrics.recordOverloaded()
            return false
        }
        return true
    }

    /// Gives back a place taken with `enter()`.
    func leave() {
        inFlight.subtract(1, ordering: .relaxed)
    }

    /// On `eventLoop`: joins the resolution of an identical query already in flight on this loop
    /// (same name, type, class, header flags and DO bit: the upstream would get the same query),
    /// so a burst of misses for one name sends one upstream query; otherwise starts one. A seeded
    /// query goes on from its own first attempt and is not listed for others to join.
    private func begin(
        _ query: DNSMessage, question: DNSQuestion, promise: EventLoopPromise<UpstreamAnswer>,
        on eventLoop: any EventLoop, seed: UpstreamSeed?
    ) {
        let pool = pools.pool(for: eventLoop)
        let key = UpstreamResolution.Key(query, question: question)
        if seed == nil, let running = pool.resolutions[key] {
            metrics.recordCoalesced()
            running.join(query, promise: promise)
            return
        }
        let resolution = UpstreamResolution(
            forwarder: self, query: query, question: question, key: key,
            order: seed?.order ?? selector.order(now: .now()), pool: pool, promise: promise)
        if let seed {
            resolution.start(after: seed)
        } else {
            pool.resolutions[key] = resolution
            resolution.start()
        }
    }

    /// Forwards `query` from async code (see `resolve(_:on:)`).
    public func resolve(_ query: DNSMessage) async throws -> UpstreamAnswer {
        try await resolve(query, on: group.next()).get()
    }
}

/// A query's first UDP attempt, made by the batched loop's relay (`DNSUDPRelay`) before it handed
/// the query over: the upstream order it followed (the first one was asked), how the attempt ended
/// and how long it took. The relay already counted both (metrics and upstream health).
struct UpstreamSeed: Sendable {
    let order: [Int]
    let result: UpstreamAttemptResult
    let latency: TimeAmount
}
