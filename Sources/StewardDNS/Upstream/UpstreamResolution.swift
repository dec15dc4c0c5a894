import Logging
import NIOCore
import NIOPosix
import StewardDNSWire

/// One client query's trip through the upstreams: performs what `UpstreamResolutionStateMachine`
/// decides, one attempt at a time, and completes `promise` once — and the promise of every
/// identical query that joined it meanwhile, each answer with that client's ID and question.
///
/// UDP attempts go out on the event loop's pooled sockets (`UpstreamSocketPool`, which explains
/// how source ports stay random); each attempt of a query uses a socket the query has not used
/// yet, with a new random ID. TCP retries open their own connection.
///
/// Not `Sendable`: created, run and finished on `eventLoop`, which must be able to host NIOPosix
/// sockets; attempts run on the same loop, so there is no hopping and no locking.
final class UpstreamResolution {
    private let forwarder: DNSForwarder
    private let clientQuery: DNSMessage
    private let question: DNSQuestion
    private let eventLoop: any EventLoop
    private let promise: EventLoopPromise<UpstreamAnswer>
    /// Identical queries that joined while this one was in flight.
    private var joined: [(query: DNSMessage, promise: EventLoopPromise<UpstreamAnswer>)] = []
    /// Where this resolution is listed for identical queries to join, and under which key; it
    /// leaves the list when it ends, before any promise is completed.
    private let pool: UpstreamSocketPool
    private let key: Key
    private var machine: UpstreamResolutionStateMachine
    private var attemptStarted = NIODeadline.now()
    /// Latency of the last answer from each upstream (for a fallback answer returned later).
    private var latencies: [Int: TimeAmount] = [:]
    /// The sockets this query's UDP attempts used, so that every attempt gets another port.
    private var usedSockets: [ObjectIdentifier] = []

    init(
        forwarder: DNSForwarder, query: DNSMessage, question: DNSQuestion, key: Key, order: [Int],
        pool: UpstreamSocketPool, promise: EventLoopPromise<UpstreamAnswer>
    ) {
        self.pool = pool
        self.key = key
        self.forwarder = forwarder
        self.clientQuery = query
        self.question = question
        self.eventLoop = pool.eventLoop
        self.promise = promise
        self.machine = UpstreamResolutionStateMachine(order: order, attempts: forwarder.configuration.attempts)
    }

    /// What makes two queries identical for the upstream: the question (name compared
    /// case-insensitively, RFC 4343), the header flags the forwarded query copies (opcode, RD, Z,
    /// AD, CD) and the DO bit (see `UpstreamQuery.init(forwarding:question:id:to:)`).
    struct Key: Hashable {
        let name: DNSName
        let type: DNSRecordType
        let `class`: DNSClass
        let flags: UInt16
        let dnssecOK: Bool

        init(_ query: DNSMessage, question: DNSQuestion) {
            name = question.name
            type = question.type
            self.class = question.class
            flags = query.header.flags & 0x7970
            dnssecOK = query.edns?.dnssecOK ?? false
        }
    }

    func start() {
        perform(machine.start())
    }

    /// Starts from the relay's first attempt (see `UpstreamSeed`).
    func start(after seed: UpstreamSeed) {
        // The relay's attempt started when it was sent: a TCP retry has what remains of it.
        attemptStarted = .now() - seed.latency
        if case .answer = seed.result, let first = seed.order.first { latencies[first] = seed.latency }
        perform(machine.resume(afterFirstAttempt: seed.result))
    }

    /// Answers `query` (identical to this one, see `Key`) with this resolution's outcome.
    func join(_ query: DNSMessage, promise: EventLoopPromise<UpstreamAnswer>) {
        joined.append((query, promise))
    }

    private func done() {
        if pool.resolutions[key] === self { pool.resolutions[key] = nil }
    }

    private func perform(_ action: UpstreamResolutionStateMachine.Action) {
        let metrics = forwarder.metrics
        switch action {
        case .send(let upstream, let transport):
            let address = forwarder.configuration.upstreams[upstream]
            metrics.recordAttempt(upstream)
            switch transport {
            case .udp:
                attemptStarted = .now()
                sendUDP(to: upstream)
            case .tcp:
                metrics.recordTCPRetry()
                var random = SystemRandomNumberGenerator()
                let query = UpstreamQuery(
                    forwarding: clientQuery, question: question,
                    id: UInt16.random(in: .min ... .max, using: &random), to: address)
                sendTCP(query).assumeIsolated().whenSuccess { result in
                    self.attemptEnded(result, upstream: upstream, transport: .tcp)
                }
            }
        case .succeed(let message, let upstream, let viaTCP):
            done()
            let latency = latencies[upstream] ?? .now() - attemptStarted
            func answer(_ query: DNSMessage, _ promise: EventLoopPromise<UpstreamAnswer>) {
                metrics.recordAnswered()
                promise.succeed(
                    UpstreamAnswer(
                        message: UpstreamQuery.clientResponse(from: message, to: query), upstream: upstream,
                        latency: latency, viaTCP: viaTCP))
            }
            answer(clientQuery, promise)
            for (query, promise) in joined { answer(query, promise) }
        case .fail(let error):
            done()
            forwarder.logger.debug(
                "upstream resolution failed",
                metadata: ["question": "\(question.name) \(question.type)", "error": "\(error)"])
            metrics.recordFailed()
            promise.fail(error)
            for (_, promise) in joined {
                metrics.recordFailed()
                promise.fail(error)
            }
        }
    }

    private func attemptEnded(
        _ result: UpstreamAttemptResult, upstream: Int, transport: UpstreamResolutionStateMachine.Transport
    ) {
        let now = NIODeadline.now()
        switch result {
        case .answer(let message):
            let latency = now - attemptStarted
            latencies[upstream] = latency
            let rcode = message.rcode
            forwarder.metrics.recordAnswer(upstream, latency: latency, failure: rcode == .servFail || rcode == .refused)
            forwarder.selector.succeeded(upstream)
        case .failed(let failure):
            forwarder.metrics.recordFailure(upstream, failure)
            forwarder.selector.failed(upstream, now: now)
            forwarder.logger.debug(
                "upstream attempt failed",
                metadata: [
                    "upstream": "\(forwarder.configuration.upstreams[upstream])", "transport": "\(transport)",
                    "reason": "\(failure)",
                ])
        }
        perform(machine.attemptEnded(result))
    }

    private func sendUDP(to upstream: Int) {
        let socket = pool.socket(to: upstream, avoiding: usedSockets)
        usedSockets.append(ObjectIdentifier(socket))
        let address = forwarder.configuration.upstreams[upstream]
        socket.send(timeout: forwarder.configuration.timeout) { id in
            UpstreamQuery(forwarding: clientQuery, question: question, id: id, to: address)
        } completion: { result in
            self.attemptEnded(result, upstream: upstream, transport: .udp)
        }
    }

    /// The TCP retry of the attempt that got a truncated answer. It has what remains of that
    /// attempt's `timeout` (at most `tcpTimeout`), so a query still ends within `timeout *
    /// attempts`; at most `DNSForwarder.maxTCPRetries` are open at once.
    private func sendTCP(_ query: UpstreamQuery) -> EventLoopFuture<UpstreamAttemptResult> {
        let attempt = eventLoop.makePromise(of: UpstreamAttemptResult.self)
        let remaining = forwarder.configuration.timeout - (NIODeadline.now() - attemptStarted)
        let timeout = min(forwarder.configuration.tcpTimeout, remaining)
        guard timeout > .zero else {
            attempt.succeed(.failed(.timeout))
            return attempt.futureResult
        }
        let forwarder = self.forwarder
        guard forwarder.tcpRetries.wrappingAdd(1, ordering: .relaxed).newValue <= DNSForwarder.maxTCPRetries else {
            forwarder.tcpRetries.wrappingSubtract(1, ordering: .relaxed)
            attempt.succeed(.failed(.transport("more than \(DNSForwarder.maxTCPRetries) TCP retries open")))
            return attempt.futureResult
        }
        attempt.futureResult.whenComplete { _ in forwarder.tcpRetries.wrappingSubtract(1, ordering: .relaxed) }
        let metrics = forwarder.metrics
        let logger = forwarder.logger
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(DNSTCPFrameDecoder()),
                        UpstreamTCPHandler(
                            query: query, timeout: timeout, promise: attempt, metrics: metrics, logger: logger))
                }
            }
            .connect(to: query.upstream)
            .whenFailure { error in
                attempt.succeed(.failed(.transport("TCP connection to \(query.upstream): \(error)")))
            }
        return attempt.futureResult
    }
}
