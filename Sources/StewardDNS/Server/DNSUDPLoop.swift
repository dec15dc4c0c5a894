#if os(Linux)
    import CStewardSystem
    import Foundation
    import Glibc
    import Logging
    import NIOCore
    import StewardPolicy
    import Synchronization

    /// UDP without the NIO channel pipeline: a dedicated thread per socket receives up to
    /// `batchSize` datagrams with one `recvmmsg`, answers those the filter's fast path can answer at
    /// once (blocked names, cache hits: `DNSFilter.answerFast`) into one buffer, and sends them with
    /// one `sendmmsg`. Cache misses are forwarded from this same thread by the relay
    /// (`DNSUDPRelay`), whose upstream sockets the loop polls beside its own. The rest (FORMERR,
    /// REFUSED, rate limiting, the portal, …, and whatever the relay hands over) go to an event loop
    /// in one task per batch, where `DNSFilter.handle` answers them exactly as the NIO server does;
    /// answers that come later are sent from that event loop, also batched (`DNSUDPLaterAnswers`).
    /// The per-datagram cost of a channel read (envelope, promise, pipeline) is gone, and one system
    /// call carries a batch each way.
    ///
    /// Bounded: fixed buffers; at most `maxQueued` datagrams wait for the event loop (more are
    /// dropped, as the kernel drops what a busy NIO server does not read). A thread rather than a
    /// task: it blocks in `poll`. `start()` starts it, `run()` waits for its end, `stop()` ends it
    /// within a poll (it also wakes the poll at once).
    /// `Sendable`: the socket is, the flags are atomic, the rest is immutable.
    final class DNSUDPLoop: Sendable {
        static let batchSize = 64
        static let slotSize = 4096
        static let maxQueued = 4096
        /// Poll timeout in milliseconds: the longest `stop()` may wait if the wake-up is missed.
        static let pollMilliseconds: Int32 = 200

        let socket: DNSUDPSocket
        private let filter: DNSFilter
        private let snapshots: SnapshotHolder
        private let eventLoop: any EventLoop
        private let logger: Logger
        private let stopping = Atomic<Bool>(false)
        /// Datagrams handed to the event loop and not yet handled there.
        private let queued = Atomic<Int>(0)
        /// Whether the loop's thread has ended, and who waits for it (`run()`).
        private let completion = Mutex<(finished: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        init(
            socket: DNSUDPSocket, filter: DNSFilter, snapshots: SnapshotHolder, eventLoop: any EventLoop, logger: Logger
        ) {
            self.socket = socket
            self.filter = filter
            self.snapshots = snapshots
            self.eventLoop = eventLoop
            self.logger = logger
        }

        /// Starts serving on a new thread, at once (nothing waits for a task to be scheduled, so
        /// the loop answers as soon as its socket is bound, however busy Swift's cooperative
        /// threads are); it serves until `stop()`, then closes the socket. Call once.
        func start() {
            let thread = Thread { [self] in
                // Made on its event loop, which it belongs to (nil: the event loop is gone).
                let eventLoop = eventLoop
                let later = try? eventLoop.submit { [socket] in
                    NIOLoopBound(DNSUDPLaterAnswers(socket: socket, eventLoop: eventLoop), eventLoop: eventLoop)
                }.wait()
                if let later { serve(later: later) }
                socket.close()
                let waiters = completion.withLock { state in
                    state.finished = true
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume() }
            }
            thread.name = "steward-dns-udp"
            thread.start()
        }

        /// Returns once the loop started by `start()` has ended.
        func run() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let finished = completion.withLock { state in
                    if !state.finished { state.waiters.append(continuation) }
                    return state.finished
                }
                if finished { continuation.resume() }
            }
        }

        /// Ends the loop (from any thread).
        func stop() {
            stopping.store(true, ordering: .releasing)
            socket.wakeUp()
        }

        private func serve(later: NIOLoopBound<DNSUDPLaterAnswers>) {
            let fd = socket.loopDescriptor
            let inbox = DNSUDPInbox(capacity: Self.batchSize, slotSize: Self.slotSize)
            let outbox = DNSUDPOutbox(capacity: Self.batchSize)
            let relay = filter.forwarder.map {
                DNSUDPRelay(forwarder: $0, filter: filter, answers: outbox, clientDescriptor: fd)
            }
            defer { relay?.close() }
            var reader = SnapshotHolder.Reader(snapshots)
            var pollers: [pollfd] = []
            // Whether the last round did anything: then more may be waiting, and the poll does not wait.
            var busy = false
            while !stopping.load(ordering: .acquiring) {
                pollers.removeAll(keepingCapacity: true)
                pollers.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
                relay?.appendPollers(to: &pollers)
                let wait =
                    busy
                    ? 0 : relay?.millisecondsToNextDeadline(now: .now(), limit: Self.pollMilliseconds) ?? Self.pollMilliseconds
                _ = poll(&pollers, nfds_t(pollers.count), wait)
                if stopping.load(ordering: .acquiring) { break }
                busy = false
                var slow: [DNSUDPQuery] = []
                if pollers[0].revents != 0 {
                    let received = inbox.receive(on: fd)
                    if received > 0 {
                        busy = true
                        let snapshot = reader.current()
                        for index in 0..<received {
                            let source = inbox.source(index)
                            guard let client = IPAddress(sockaddr: source) else { continue }
                            let packet = inbox.datagram(index)
                            let outcome = filter.answerFast(packet, from: client, snapshot: snapshot, into: &outbox.bytes)
                            if outcome.answered {
                                outbox.commit(to: source, length: inbox.sourceLength(index))
                                continue
                            }
                            // A copy: the slot is reused by the next receive.
                            var copy = ByteBufferAllocator().buffer(capacity: packet.readableBytes)
                            copy.writeImmutableBuffer(packet)
                            let query = DNSUDPQuery(
                                packet: copy, client: client, snapshot: snapshot, source: source.pointee,
                                sourceLength: inbox.sourceLength(index))
                            if case .miss(let miss) = outcome, let relay, relay.forward(miss, query: query) { continue }
                            slow.append(query)
                        }
                    } else if received < 0, errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR {
                        logger.debug("DNS UDP receive failed", metadata: ["errno": "\(errno)"])
                    }
                }
                if let relay {
                    relay.flushQueries()
                    if relay.receive(pollers[1...]) { busy = true }
                    relay.expire(now: .now())
                    if !relay.handedOver.isEmpty {
                        slow += relay.handedOver
                        relay.handedOver.removeAll(keepingCapacity: true)
                    }
                }
                if !slow.isEmpty { handOver(slow, later: later) }
                outbox.flush { DNSUDPSocket.sendAll(fd, $0, flags: 0) }
            }
        }

        /// Lets the event loop answer `queries` as the NIO server would (`fastPath` false: the loop
        /// has just tried it).
        private func handOver(_ queries: [DNSUDPQuery], later: NIOLoopBound<DNSUDPLaterAnswers>) {
            guard queued.wrappingAdd(queries.count, ordering: .relaxed).newValue <= Self.maxQueued else {
                queued.wrappingSubtract(queries.count, ordering: .relaxed)
                DNSMetrics.bump(filter.metrics.overloaded, by: UInt64(queries.count))
                return
            }
            let (filter, eventLoop) = (self.filter, self.eventLoop)
            eventLoop.execute { [self] in
                queued.wrappingSubtract(queries.count, ordering: .relaxed)
                let answers = later.value
                for query in queries {
                    let outcome = filter.handle(
                        query.packet, from: query.client, transport: .udp, snapshot: query.snapshot,
                        eventLoop: eventLoop, fastPath: false, seed: query.seed)
                    switch outcome {
                    case .respond(let answer):
                        answers.send(answer, to: query)
                    case .drop:
                        break
                    case .later(let future):
                        // The filter completes forwarded queries on this event loop.
                        future.hop(to: eventLoop).assumeIsolated().whenSuccess { answer in
                            if let answer { answers.send(answer, to: query) }
                        }
                    }
                }
            }
        }
    }

    /// A datagram the fast path did not answer, with where it came from, the policy it was read
    /// under and, once the relay made its first upstream attempt, how that ended.
    struct DNSUDPQuery: Sendable {
        let packet: ByteBuffer
        let client: IPAddress
        let snapshot: PolicySnapshot
        let source: sockaddr_storage
        let sourceLength: socklen_t
        var seed: UpstreamSeed? = nil
    }

    /// Answers sent from the event loop (upstream answers, and everything the general path answers),
    /// collected during one event-loop tick and sent together (upstream answers arrive in bursts too).
    /// Not `Sendable`: it belongs to its event loop.
    final class DNSUDPLaterAnswers {
        private let socket: DNSUDPSocket
        private let eventLoop: any EventLoop
        private let outbox = DNSUDPOutbox(capacity: DNSUDPLoop.batchSize)
        private var flushScheduled = false

        init(socket: DNSUDPSocket, eventLoop: any EventLoop) {
            self.socket = socket
            self.eventLoop = eventLoop
        }

        func send(_ answer: ByteBuffer, to query: DNSUDPQuery) {
            if outbox.isFull { flush() }
            var source = query.source
            outbox.append(answer, to: &source, length: query.sourceLength)
            guard !flushScheduled else { return }
            flushScheduled = true
            eventLoop.assumeIsolated().execute {
                self.flushScheduled = false
                self.flush()
            }
        }

        private func flush() {
            outbox.flush { socket.send($0) }
        }
    }

    @available(*, unavailable)
    extension DNSUDPLaterAnswers: Sendable {}

    @available(*, unavailable)
    extension DNSUDPOutbox: Sendable {}

    @available(*, unavailable)
    extension DNSUDPInbox: Sendable {}

    @available(*, unavailable)
    extension DNSUDPMessageVector: Sendable {}
#endif
