import Logging
import NIOCore
import NIOPosix

/// One long-lived UDP socket connected to one upstream, shared by many attempts at once (see
/// `UpstreamSocketPool`). Each attempt waits under its own random ID, unique on the socket while
/// it waits; a datagram is handed to the attempt with its ID and accepted only if
/// `UpstreamQuery.evaluate` accepts it (source, ID, QR and question, RFC 5452 9.1). Anything else
/// — an unknown ID, a late answer, a forgery — is counted and ignored. Each attempt ends once:
/// with the answer, on its timeout (one timer per socket serves all of them, see `deadlines`), or
/// when the socket fails (a connected UDP socket hears
/// ICMP port unreachable as ECONNREFUSED, which fails every attempt waiting on it at once, so
/// they fail over instead of waiting for the timeout).
///
/// The socket retires after `maxUses` attempts or `maxAge` (the pool then opens a fresh one on a
/// new random port) and closes once the attempts still waiting on it have ended.
///
/// Not `Sendable`: it lives on its event loop, which is also its channel's.
final class UpstreamSocket: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = ByteBuffer

    /// An attempt waiting for its answer.
    private struct Waiting {
        let query: UpstreamQuery
        /// Tells this attempt's deadline from that of an earlier attempt with the same ID.
        let serial: UInt64
        let completion: (UpstreamAttemptResult) -> Void
        /// Why the last datagram with this attempt's ID could not be read, if one could not.
        var malformed: String?
    }

    private enum State {
        /// Connecting; attempts queue their datagrams until the socket is up.
        case opening(queued: [(wire: ByteBuffer, id: UInt16)])
        case ready(any Channel)
        case closed
    }

    let upstream: SocketAddress
    private let eventLoop: any EventLoop
    private let metrics: UpstreamMetrics
    private let logger: Logger
    private let maxUses: Int
    private let retireAt: NIODeadline
    private var state: State = .opening(queued: [])
    private var waiting: [UInt16: Waiting] = [:]
    private var uses = 0
    private var flushPending = false
    /// Every attempt's deadline in the order sent; all attempts on a socket have the same timeout,
    /// so this is also deadline order. Entries of attempts that already ended are skipped.
    private var deadlines = CircularBuffer<(deadline: NIODeadline, id: UInt16, serial: UInt64)>()
    private var serials: UInt64 = 0
    /// The pool's generator: every socket of an event loop draws its IDs from the same buffer.
    private var random: DNSRandom
    /// The one timer, set for the earliest deadline (plus `timerSlack`) while any is pending.
    private var timer: Scheduled<Void>?
    /// Timeouts fire up to this late, so that one timer run ends a batch of attempts instead of
    /// the timer being re-armed for every attempt sent.
    static let timerSlack = TimeAmount.milliseconds(5)
    static let messagesPerRead = 16
    /// Set when the pool no longer hands this socket out; it closes when nothing waits on it.
    private(set) var retired = false

    init(
        upstream: SocketAddress, eventLoop: any EventLoop, maxUses: Int, maxAge: TimeAmount, metrics: UpstreamMetrics,
        logger: Logger, random: DNSRandom
    ) {
        self.upstream = upstream
        self.random = random
        self.eventLoop = eventLoop
        self.metrics = metrics
        self.logger = logger
        self.maxUses = maxUses
        self.retireAt = .now() + maxAge
    }

    /// Opens the socket: a new datagram socket connected to the upstream, so the kernel picks a
    /// random ephemeral source port and drops datagrams from any other address.
    func open() {
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        DatagramBootstrap(group: eventLoop)
            // Answers to a burst of forwarded queries are read several at a time (recvmmsg), each
            // into its own 4096 bytes: more than the 1232 advertised, so none is cut short.
            .channelOption(.datagramVectorReadMessageCount, value: Self.messagesPerRead)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.messagesPerRead * 4096))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
            .connect(to: upstream)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.opened(channel)
                case .failure(let error):
                    self.failAll(.transport("UDP socket to \(self.upstream): \(error)"))
                    self.state = .closed
                }
            }
    }

    /// Whether the pool may still hand this socket to new attempts.
    var isUsable: Bool {
        if retired { return false }
        if case .closed = state { return false }
        return true
    }

    /// Number of attempts waiting on this socket.
    var waitingCount: Int { waiting.count }

    /// Sends `makeQuery(id)` with a random ID not in use on this socket and calls `completion`
    /// once, on the event loop, when the attempt ends.
    func send(
        timeout: TimeAmount, _ makeQuery: (UInt16) -> UpstreamQuery,
        completion: @escaping (UpstreamAttemptResult) -> Void
    ) {
        var id = UInt16.random(in: .min ... .max, using: &random)
        while waiting[id] != nil { id = UInt16.random(in: .min ... .max, using: &random) }
        let query = makeQuery(id)
        serials &+= 1
        waiting[id] = Waiting(query: query, serial: serials, completion: completion)
        deadlines.append((.now() + timeout, id, serials))
        if timer == nil { armTimer() }
        uses += 1
        if uses >= maxUses || NIODeadline.now() >= retireAt { retired = true }
        switch state {
        case .opening(var queued):
            queued.append((query.wire, id))
            state = .opening(queued: queued)
        case .ready(let channel):
            write(query.wire, id: id, on: channel)
        case .closed:
            end(id, .failed(.transport("UDP socket to \(upstream) closed")))
        }
    }

    // MARK: Channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let id = envelope.data.getInteger(at: envelope.data.readerIndex, as: UInt16.self),
            let attempt = waiting[id]
        else {
            ignored("no attempt waits for this ID (late, duplicate or forged)")
            return
        }
        switch attempt.query.evaluate(envelope.data, from: envelope.remoteAddress) {
        case .accept(let response):
            end(id, .answer(response))
        case .ignore(let reason):
            ignored(reason)
        case .malformed(let reason):
            waiting[id]?.malformed = reason
            ignored(reason)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ECONNREFUSED (the upstream's port is closed) or another socket error: every attempt on
        // this socket is to that upstream, so all of them fail over now. The socket is replaced.
        retired = true
        failAll(.transport("UDP to \(upstream): \(error)"))
        closeIfDone()
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        failAll(.transport("UDP socket to \(upstream) closed"))
        context.fireChannelInactive()
    }

    // MARK: Private

    private func opened(_ channel: any Channel) {
        guard case .opening(let queued) = state else {
            channel.close(promise: nil)
            return
        }
        state = .ready(channel)
        for (wire, id) in queued where waiting[id] != nil { write(wire, id: id, on: channel) }
        closeIfDone()
    }

    /// Writes now and flushes once for everything written in this event-loop tick, so a burst of
    /// forwarded queries leaves in one vector write.
    private func write(_ wire: ByteBuffer, id: UInt16, on channel: any Channel) {
        let promise = eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenFailure { error in
            self.end(id, .failed(.transport("sending to \(self.upstream): \(error)")))
        }
        channel.write(wire, promise: promise)
        guard !flushPending else { return }
        flushPending = true
        eventLoop.assumeIsolated().execute {
            self.flushPending = false
            channel.flush()
        }
    }

    /// Arms the timer for the earliest pending deadline, if any.
    private func armTimer() {
        guard let first = deadlines.first else { return }
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: first.deadline + Self.timerSlack) {
            self.timer = nil
            self.expireDeadlines()
        }
    }

    /// Ends every attempt whose deadline has passed, then re-arms the timer.
    private func expireDeadlines() {
        let now = NIODeadline.now()
        while let first = deadlines.first, first.deadline <= now {
            deadlines.removeFirst()
            guard let attempt = waiting[first.id], attempt.serial == first.serial else { continue }
            // An unreadable response with the right ID explains the silence better than "timeout".
            end(first.id, .failed(attempt.malformed.map(UpstreamAttemptFailure.malformed) ?? .timeout))
        }
        if timer == nil { armTimer() }
    }

    private func end(_ id: UInt16, _ result: UpstreamAttemptResult) {
        guard let attempt = waiting.removeValue(forKey: id) else { return }
        attempt.completion(result)
        closeIfDone()
    }

    private func failAll(_ failure: UpstreamAttemptFailure) {
        for id in Array(waiting.keys) { end(id, .failed(failure)) }
    }

    private func ignored(_ reason: String) {
        metrics.recordIgnored()
        logger.debug("ignored a datagram", metadata: ["upstream": "\(upstream)", "reason": "\(reason)"])
    }

    /// A retired socket closes as soon as no attempt waits on it.
    private func closeIfDone() {
        guard retired, waiting.isEmpty, case .ready(let channel) = state else { return }
        state = .closed
        channel.close(promise: nil)
    }
}

@available(*, unavailable)
extension UpstreamSocket: Sendable {}
