#if os(Linux)
    import CStewardSystem
    import Glibc
    import NIOCore
    import StewardDNSWire
    import StewardPolicy

    /// The batched loop's forwarder: a query the fast path found missing from the cache
    /// (`DNSFilter.FastOutcome.miss`) is sent to an upstream from the loop's own thread, and the
    /// answer is read there too, so a miss costs no hand-over to an event loop, no future and no
    /// channel pipeline, and the queries and answers of a batch share their system calls (one
    /// `sendmmsg` per upstream socket, one `recvmmsg` per socket with answers waiting).
    ///
    /// It makes the first UDP attempt of `DNSForwarder` exactly: the forwarder's upstream order,
    /// counters and upstream health; a socket connected to the upstream (so the kernel drops
    /// datagrams from any other address) chosen at random among `socketsPerUpstream`, each on a
    /// random ephemeral port and replaced after `socketMaxUses` attempts or `socketMaxAge`; a random
    /// ID unused on the socket; the response accepted only by `UpstreamQuery.evaluate` (ID, QR,
    /// question; RFC 5452 9.1); identical queries in flight share one attempt
    /// (`UpstreamResolution.Key`). A plain answer (NOERROR or NXDOMAIN) is read straight from its
    /// bytes as a cache entry (`DNSCachedWire.fromUpstream`), stored, and served to each client as
    /// the cache hit after it will be (`DNSFilter.answer(relayed:…)`); when the policy blocks
    /// something in it, or it does not fit, or the bytes are not that simple, the message is parsed
    /// and answered as on the general path (`DNSFilter.answer(forwarded:…)`). Everything
    /// else — a timeout, a socket error, a truncated answer (TCP retry), SERVFAIL or REFUSED
    /// (failover) — hands the query to the event loop with the attempt as an `UpstreamSeed`, and the
    /// forwarder goes on from there with the attempts that remain, so the bound on a query's time is
    /// unchanged: `timeout * attempts`.
    ///
    /// Not `Sendable`: it belongs to the loop's thread.
    final class DNSUDPRelay {
        /// A client query waiting for an upstream's answer.
        struct Waiter {
            /// What the fast path learnt of the query.
            let miss: DNSFilterMiss
            let query: DNSUDPQuery

            var decision: Decision { miss.decision }

            /// The general path's context for the query (nil if the packet no longer holds it),
            /// made only when the answer must go that way.
            func context(_ filter: DNSFilter) -> DNSFilter.Context? {
                filter.context(of: miss, packet: query.packet)
            }
        }

        /// What makes two queries identical for the upstream, as `UpstreamResolution.Key` (the
        /// question with its name compared case-insensitively, the forwarded header flags, the DO
        /// bit), made from the cache's key, whose hash is already taken.
        struct Key: Hashable {
            let question: DNSCacheKey
            let flags: UInt16
            let dnssecOK: Bool
        }

        /// One query sent to an upstream, and the client queries waiting on it (the first sent it).
        /// A class, kept for the next flight when it ends (with its waiters' storage), so a miss
        /// allocates no flight: it is large, and moving it between the tables would copy it.
        final class Flight {
            /// The ID and question sent (the question as the cache keys it, lower-cased).
            var id: UInt16 = 0
            var question: DNSQuestion
            var key: Key
            var socket: RelaySocket
            var upstream = 0
            var order: [Int] = []
            var sent = NIODeadline.uptimeNanoseconds(0)
            var serial: UInt64 = 0
            var waiters: [Waiter] = []
            /// Why the last datagram with this flight's ID could not be read, if one could not.
            var malformed: String?

            init(question: DNSQuestion, key: Key, socket: RelaySocket) {
                self.question = question
                self.key = key
                self.socket = socket
            }

            /// The response to this flight's query, judged as `UpstreamQuery.evaluate` does (the
            /// socket is connected, so the source is the upstream).
            func evaluate(_ datagram: ByteBuffer) -> UpstreamQuery.Verdict {
                UpstreamQuery.evaluate(datagram, id: id, question: question)
            }
        }

        /// A UDP socket connected to one upstream.
        final class RelaySocket {
            let descriptor: Int32
            let upstream: Int
            let retireAt: NIODeadline
            var uses = 0
            var retired = false
            var closed = false
            /// ID → flight slot.
            var waiting: [UInt16: Int] = [:]
            /// Queries to send, and their IDs in the same order.
            let outbox = DNSUDPOutbox(capacity: DNSUDPLoop.batchSize)
            var queued: [UInt16] = []

            init(descriptor: Int32, upstream: Int, retireAt: NIODeadline) {
                self.descriptor = descriptor
                self.upstream = upstream
                self.retireAt = retireAt
            }
        }

        /// Most client queries that share one flight; more start a flight of their own.
        static let maxWaitersPerFlight = 64

        private let forwarder: DNSForwarder
        private let filter: DNSFilter
        /// Where the clients' answers go, and the loop's socket they leave from.
        private let answers: DNSUDPOutbox
        private let clientDescriptor: Int32
        private let addresses: [(storage: sockaddr_storage, length: socklen_t)]
        private let slotCount: Int
        /// Per upstream, the sockets handed out.
        private var slots: [[RelaySocket?]]
        /// Every open socket: those in `slots` and retired ones still waiting for answers.
        private var open: [RelaySocket] = []
        /// The sockets of the last `appendPollers`, in its order.
        private var polled: [RelaySocket] = []
        private var flights: [Flight?] = []
        private var freeFlights: [Int] = []
        /// Flights that ended, kept to be used again (at most `maxSpareFlights`).
        private var spareFlights: [Flight] = []
        private static let maxSpareFlights = 1024
        private var byKey: [Key: Int] = [:]
        /// Every flight's deadline in the order sent (one timeout for all, so also deadline order);
        /// entries of flights that already ended are skipped.
        private var deadlines = CircularBuffer<(deadline: NIODeadline, slot: Int, serial: UInt64)>()
        private var serials: UInt64 = 0
        private let inbox = DNSUDPInbox(capacity: DNSUDPLoop.batchSize, slotSize: DNSUDPLoop.slotSize)
        private var generator = DNSRandom()
        /// Queries for the event loop (`DNSFilter.handle` with their seed), taken by the loop.
        var handedOver: [DNSUDPQuery] = []

        init(forwarder: DNSForwarder, filter: DNSFilter, answers: DNSUDPOutbox, clientDescriptor: Int32) {
            self.forwarder = forwarder
            self.filter = filter
            self.answers = answers
            self.clientDescriptor = clientDescriptor
            addresses = forwarder.configuration.upstreams.map { address in
                var storage = sockaddr_storage()
                let length = address.withSockAddr { pointer, size in
                    withUnsafeMutableBytes(of: &storage) { raw in
                        raw.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: size))
                    }
                    return socklen_t(size)
                }
                return (storage, length)
            }
            slotCount = max(1, forwarder.configuration.socketsPerUpstream)
            slots = Array(
                repeating: Array(repeating: nil, count: slotCount), count: forwarder.configuration.upstreams.count)
        }

        // MARK: Queries

        /// Takes `query`, a miss (see `DNSFilterMiss`), and sends it (with the next `flushQueries`)
        /// or joins an identical one in flight; false when it cannot (the caller hands it to the
        /// event loop as it is).
        func forward(_ miss: DNSFilterMiss, query: DNSUDPQuery) -> Bool {
            guard !forwarder.configuration.upstreams.isEmpty else { return false }
            let waiter = Waiter(miss: miss, query: query)
            DNSMetrics.bump(filter.metrics.cacheMisses)
            guard forwarder.enter() else {
                // As the general path answers `UpstreamError.overloaded`.
                guard let context = waiter.context(filter) else { return false }
                emit(filter.answerFailed(decision: miss.decision, context: context), to: query)
                return true
            }
            forwarder.metrics.recordQuery()
            let flags = miss.preview.flags & UpstreamQuery.forwardedFlags
            let dnssecOK = miss.preview.opt?.dnssecOK ?? false
            let key = Key(question: miss.key, flags: flags, dnssecOK: dnssecOK)
            if let slot = byKey[key], let flight = flights[slot], flight.waiters.count < Self.maxWaitersPerFlight {
                forwarder.metrics.recordCoalesced()
                flight.waiters.append(waiter)
                return true
            }
            let now = NIODeadline.now()
            let order = forwarder.selector.order(now: now)
            let upstream = order[0]
            forwarder.metrics.recordAttempt(upstream)
            var chosen = socket(to: upstream, now: now)
            if let full = chosen, full.outbox.isFull {
                // (A round takes at most a batch of queries, so this is a safeguard.) Sending may
                // fail the socket and close it: then another one is taken.
                flush(full)
                if full.closed || full.retired { chosen = socket(to: upstream, now: now) }
            }
            guard let socket = chosen, !socket.closed else {
                let failure = UpstreamAttemptFailure.transport(
                    "UDP socket to \(forwarder.configuration.upstreams[upstream]): \(String(cString: strerror(errno)))")
                forwarder.metrics.recordFailure(upstream, failure)
                forwarder.selector.failed(upstream, now: now)
                handOver([waiter], seed: UpstreamSeed(order: order, result: .failed(failure), latency: .zero))
                return true
            }
            var id = UInt16.random(in: .min ... .max, using: &generator)
            while socket.waiting[id] != nil { id = UInt16.random(in: .min ... .max, using: &generator) }
            let question = DNSQuestion(name: miss.name, type: miss.preview.qtype, class: miss.preview.qclass)
            serials &+= 1
            let slot = freeFlights.popLast() ?? {
                flights.append(nil)
                return flights.count - 1
            }()
            let flight: Flight
            if let spare = spareFlights.popLast() {
                flight = spare
                flight.question = question
                flight.key = key
                flight.socket = socket
            } else {
                flight = Flight(question: question, key: key, socket: socket)
            }
            flight.id = id
            flight.upstream = upstream
            flight.order = order
            flight.sent = now
            flight.serial = serials
            flight.waiters.append(waiter)
            flights[slot] = flight
            byKey[key] = slot
            socket.waiting[id] = slot
            socket.uses += 1
            if socket.uses >= forwarder.configuration.socketMaxUses || now >= socket.retireAt { socket.retired = true }
            deadlines.append((now + forwarder.configuration.timeout, slot, serials))
            // Written straight into the socket's outbox, with the name in the client's letter case
            // as the forwarder sends it, from the client's own packet. No destination per message:
            // the socket is connected, and the kernel then uses the route it keeps for it instead
            // of looking one up for every datagram.
            let nameRange = miss.preview.nameRange
            UpstreamQuery.write(
                flags: flags, question: question, dnssecOK: dnssecOK, id: id,
                spelling: query.packet.getSlice(at: nameRange.lowerBound, length: nameRange.count),
                into: &socket.outbox.bytes)
            socket.outbox.commit(to: nil, length: 0)
            socket.queued.append(id)
            return true
        }

        /// Sends every query taken since the last call.
        func flushQueries() {
            for socket in open where socket.outbox.count > 0 { flush(socket) }
        }

        // MARK: Answers

        /// Appends a `pollfd` for every open socket to `pollers`.
        func appendPollers(to pollers: inout [pollfd]) {
            polled = open
            for socket in open { pollers.append(pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0)) }
        }

        /// Reads the answers waiting on the sockets whose `pollers` (in `appendPollers` order) are
        /// ready; returns whether any datagram was read.
        func receive(_ pollers: ArraySlice<pollfd>) -> Bool {
            var read = false
            // One reading of the clock for the batch: the answers' latency and when they are stored.
            let now = NIODeadline.now()
            // A socket closed since the poll (its last flight ended) is skipped.
            for (socket, poller) in zip(polled, pollers) where poller.revents != 0 && !socket.closed {
                let received = inbox.receive(on: socket.descriptor)
                if received < 0 {
                    let code = errno
                    if code != EAGAIN, code != EWOULDBLOCK, code != EINTR { failAll(on: socket, errno: code) }
                    continue
                }
                read = read || received > 0
                for index in 0..<received { accept(inbox.datagram(index), on: socket, now: now) }
            }
            return read
        }

        private func accept(_ datagram: ByteBuffer, on socket: RelaySocket, now: NIODeadline) {
            // The socket is connected: the kernel delivers only the upstream's datagrams. (The
            // flight is read in place, not copied.)
            guard let id = datagram.getInteger(at: datagram.readerIndex, as: UInt16.self),
                let slot = socket.waiting[id], let flight = flights[slot]
            else {
                forwarder.metrics.recordIgnored()
                return
            }
            // A plain answer is read straight from the bytes; anything else is parsed.
            if let admission = filter.relayAdmission,
                let (wire, lifetime) = DNSCachedWire.fromUpstream(
                    datagram, key: flight.key.question, admission: admission, storedAt: now.uptimeNanoseconds)
            {
                end(slot, relayed: wire, cached: lifetime != nil, datagram: datagram, now: now)
                return
            }
            switch flight.evaluate(datagram) {
            case .accept(let message):
                end(slot, .answer(message))
            case .ignore:
                forwarder.metrics.recordIgnored()
            case .malformed(let reason):
                flight.malformed = reason
                forwarder.metrics.recordIgnored()
            }
        }

        /// Ends every flight whose deadline has passed.
        func expire(now: NIODeadline) {
            while let first = deadlines.first, first.deadline <= now {
                deadlines.removeFirst()
                guard flights[first.slot]?.serial == first.serial else { continue }
                // An unreadable response with the right ID explains the silence better than "timeout".
                let malformed = flights[first.slot]?.malformed
                end(first.slot, .failed(malformed.map(UpstreamAttemptFailure.malformed) ?? .timeout))
            }
        }

        /// Milliseconds until the earliest deadline of a flight still waiting (at most `limit`).
        func millisecondsToNextDeadline(now: NIODeadline, limit: Int32) -> Int32 {
            while let first = deadlines.first, flights[first.slot]?.serial != first.serial { deadlines.removeFirst() }
            guard let first = deadlines.first else { return limit }
            let nanoseconds = (first.deadline - now).nanoseconds
            guard nanoseconds > 0 else { return 0 }
            return Int32(min(Int64(limit), (nanoseconds + 999_999) / 1_000_000))
        }

        /// Closes every socket; the queries still waiting are dropped (the server is stopping).
        func close() {
            for slot in flights.indices {
                guard let flight = flights[slot] else { continue }
                for _ in flight.waiters { forwarder.leave() }
                flights[slot] = nil
            }
            for socket in open {
                socket.closed = true
                Glibc.close(socket.descriptor)
            }
            open.removeAll()
            polled.removeAll()
            byKey.removeAll()
        }

        // MARK: Private

        /// Takes the flight in `slot` off the tables.
        private func take(_ slot: Int) -> Flight? {
            guard let flight = flights[slot].take() else { return nil }
            freeFlights.append(slot)
            if byKey[flight.key] == slot { byKey[flight.key] = nil }
            flight.socket.waiting[flight.id] = nil
            closeIfDone(flight.socket)
            return flight
        }

        /// Keeps `flight`, ended and answered or handed over, for a later one.
        private func recycle(_ flight: Flight) {
            guard spareFlights.count < Self.maxSpareFlights else { return }
            flight.waiters.removeAll(keepingCapacity: flight.waiters.capacity <= 4)
            flight.malformed = nil
            spareFlights.append(flight)
        }

        /// The flight in `slot` was answered with `wire` (`DNSCachedWire.fromUpstream`, read from
        /// `datagram` at `now`): the answer is cached if it may be, and every client gets it
        /// as the cache hit after it would give it, or, when the policy blocks something in it or
        /// it does not fit, the general way from the parsed message.
        private func end(
            _ slot: Int, relayed wire: DNSCachedWire, cached: Bool, datagram: ByteBuffer, now: NIODeadline
        ) {
            guard let flight = take(slot) else { return }
            defer { recycle(flight) }
            forwarder.metrics.recordAnswer(flight.upstream, latency: now - flight.sent, failure: false)
            forwarder.selector.succeeded(flight.upstream)
            if cached, let cache = filter.wireCache { cache.store(wire) }
            // Parsed once, for the first client the wire answer cannot serve.
            var message: DNSMessage? = nil
            var parsed = false
            for waiter in flight.waiters {
                DNSMetrics.bump(filter.metrics.relayed)
                forwarder.metrics.recordAnswered()
                forwarder.leave()
                // Written straight into the answers' outbox, as the loop writes a cache hit.
                makeRoomForAnswer()
                if filter.answer(
                    relayed: wire, upstream: flight.upstream, miss: waiter.miss, packet: waiter.query.packet,
                    into: &answers.bytes)
                {
                    withUnsafePointer(to: waiter.query.source) { source in
                        answers.commit(to: source, length: waiter.query.sourceLength)
                    }
                    continue
                }
                if !parsed, case .accept(let read) = flight.evaluate(datagram) { message = read }
                parsed = true
                answerGenerally(waiter, message: message, upstream: flight.upstream)
            }
        }

        /// Answers `waiter` the general way (`DNSFilter.answer(forwarded:…)`) from the upstream's
        /// parsed `message`, or SERVFAIL when it could not be parsed.
        private func answerGenerally(_ waiter: Waiter, message: DNSMessage?, upstream: Int) {
            guard let context = waiter.context(filter) else {
                // (Cannot happen: the fast path read this packet.) The event loop starts over.
                handedOver.append(waiter.query)
                return
            }
            guard let message else {
                emit(filter.answerFailed(decision: waiter.decision, context: context), to: waiter.query)
                return
            }
            let response = UpstreamQuery.clientResponse(from: message, to: context.query)
            emit(
                filter.answer(forwarded: response, upstream: upstream, decision: waiter.decision, context: context),
                to: waiter.query)
        }

        /// The flight in `slot` ended with `result`: its clients are answered, or handed over.
        private func end(_ slot: Int, _ result: UpstreamAttemptResult) {
            guard let flight = take(slot) else { return }
            defer { recycle(flight) }
            let now = NIODeadline.now()
            let latency = now - flight.sent
            switch result {
            case .answer(let message):
                let rcode = message.rcode
                let failed = rcode == .servFail || rcode == .refused
                forwarder.metrics.recordAnswer(flight.upstream, latency: latency, failure: failed)
                forwarder.selector.succeeded(flight.upstream)
                if failed || message.header.tc {
                    // Failover, or the TCP retry: the forwarder's state machine goes on from here.
                    handOver(flight.waiters, seed: UpstreamSeed(order: flight.order, result: result, latency: latency))
                    return
                }
                for waiter in flight.waiters {
                    DNSMetrics.bump(filter.metrics.relayed)
                    forwarder.metrics.recordAnswered()
                    forwarder.leave()
                    answerGenerally(waiter, message: message, upstream: flight.upstream)
                }
            case .failed(let failure):
                forwarder.metrics.recordFailure(flight.upstream, failure)
                forwarder.selector.failed(flight.upstream, now: now)
                handOver(flight.waiters, seed: UpstreamSeed(order: flight.order, result: result, latency: latency))
            }
        }

        private func handOver(_ waiters: [Waiter], seed: UpstreamSeed) {
            for waiter in waiters {
                forwarder.leave()
                var query = waiter.query
                query.seed = seed
                handedOver.append(query)
            }
        }

        private func emit(_ answer: ByteBuffer, to query: DNSUDPQuery) {
            makeRoomForAnswer()
            withUnsafePointer(to: query.source) { source in
                answers.append(answer, to: source, length: query.sourceLength)
            }
        }

        /// Sends the answers waiting when the outbox is full.
        private func makeRoomForAnswer() {
            if answers.isFull { answers.flush { DNSUDPSocket.sendAll(clientDescriptor, $0, flags: 0) } }
        }

        /// A usable socket to `upstream`, chosen at random; a retired slot gets a new socket. Nil
        /// when a new socket cannot be opened (`errno` says why).
        private func socket(to upstream: Int, now: NIODeadline) -> RelaySocket? {
            let index = Int.random(in: 0..<slotCount, using: &generator)
            if let socket = slots[upstream][index], !socket.retired { return socket }
            let family: Int32 = addresses[upstream].storage.ss_family == sa_family_t(AF_INET6) ? AF_INET6 : AF_INET
            let descriptor = Glibc.socket(
                family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard descriptor >= 0 else { return nil }
            // Connecting picks a random ephemeral source port and makes the kernel drop datagrams
            // from anyone but the upstream.
            let connected = withUnsafePointer(to: addresses[upstream].storage) { storage in
                storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    connect(descriptor, address, addresses[upstream].length)
                }
            }
            guard connected == 0 else {
                let code = errno
                Glibc.close(descriptor)
                errno = code
                return nil
            }
            let socket = RelaySocket(
                descriptor: descriptor, upstream: upstream, retireAt: now + forwarder.configuration.socketMaxAge)
            slots[upstream][index] = socket
            open.append(socket)
            return socket
        }

        /// Sends `socket`'s queued queries. A query the kernel refuses ends its flight (a socket
        /// error, such as ECONNREFUSED after an ICMP port unreachable, ends every flight on it).
        private func flush(_ socket: RelaySocket) {
            var refused: [(id: UInt16, errno: Int32)] = []
            let queued = socket.queued
            socket.queued.removeAll(keepingCapacity: true)
            socket.outbox.flush { messages in
                DNSUDPSocket.sendAll(socket.descriptor, messages, flags: Int32(MSG_DONTWAIT)) { index, code in
                    refused.append((queued[index], code))
                }
            }
            for (id, code) in refused {
                if code == ECONNREFUSED {
                    failAll(on: socket, errno: code)
                    return
                }
                if let slot = socket.waiting[id] {
                    end(slot, .failed(.transport("sending to \(forwarder.configuration.upstreams[socket.upstream]): errno \(code)")))
                }
            }
        }

        /// A socket error (ECONNREFUSED: the upstream's port is closed): every flight on the socket
        /// fails over now, and the socket is replaced.
        private func failAll(on socket: RelaySocket, errno code: Int32) {
            socket.retired = true
            let failure = UpstreamAttemptFailure.transport(
                "UDP to \(forwarder.configuration.upstreams[socket.upstream]): \(String(cString: strerror(code)))")
            for slot in Array(socket.waiting.values) { end(slot, .failed(failure)) }
            closeIfDone(socket)
        }

        /// A retired socket closes as soon as no flight waits on it.
        private func closeIfDone(_ socket: RelaySocket) {
            guard socket.retired, socket.waiting.isEmpty, socket.outbox.count == 0,
                let index = open.firstIndex(where: { $0 === socket })
            else { return }
            open.remove(at: index)
            socket.closed = true
            Glibc.close(socket.descriptor)
            for upstream in slots.indices {
                for slot in slots[upstream].indices where slots[upstream][slot] === socket {
                    slots[upstream][slot] = nil
                }
            }
        }
    }

    @available(*, unavailable)
    extension DNSUDPRelay: Sendable {}

    @available(*, unavailable)
    extension DNSUDPRelay.Flight: Sendable {}

    @available(*, unavailable)
    extension DNSUDPRelay.Waiter: Sendable {}
#endif
