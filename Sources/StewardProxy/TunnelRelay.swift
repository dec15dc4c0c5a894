#if os(Linux)
    import CStewardSystem
    import Foundation
    import Glibc
    import NIOCore
    import Synchronization

    /// Moves the bytes of established tunnels on one thread of its own, with `epoll`, outside NIO.
    ///
    /// Once a tunnel's ClientHello has been read and allowed (`TunnelPeekHandler`), nothing more
    /// is decided in it: it only copies bytes both ways. Through two NIO channels that copy costs a
    /// buffer, a pipeline pass and a promise per read, and with one event loop per core two busy
    /// tunnels each wake a loop of their own for every read, so the loops' threads spend their
    /// time going to sleep and waking up (session 9: 0.58–0.63× direct, against 0.85× for a
    /// single-threaded epoll relay in C). Here every tunnel's sockets sit in one edge-triggered
    /// epoll set, read into one scratch buffer and written straight to the other side; a side that
    /// cannot take everything keeps the rest (its only buffer) and its partner is not read until
    /// it has gone out. Half-closes are passed on as `shutdown(SHUT_WR)` once what was read before
    /// them has been written; a tunnel ends when both directions have ended, when either side
    /// fails, or after `idleTimeout` with nothing moving. Its `finish` is called then, once, on
    /// this thread, with the bytes each way.
    ///
    /// Tunnels that are paced (R6 priorities) stay on their event loop, where the pacing is.
    /// `Sendable`: the epoll set, the wake-up descriptor and the inbox are safe from any thread;
    /// the tunnels themselves are touched only by the relay's thread.
    final class TunnelRelay: Sendable {
        /// A tunnel handed over: the two sockets (the relay owns them from now on), bytes already
        /// read from the client that the origin has yet to get, and what to call at the end.
        struct Handoff: Sendable {
            var client: CInt
            var origin: CInt
            var toOrigin: [UInt8]
            var finish: @Sendable (_ fromClient: Int64, _ toClient: Int64) -> Void
        }

        /// Bytes read per system call; also how much one side may hold for a slow partner.
        static let chunk = 64 * 1024
        /// Reads per direction before other tunnels get their turn.
        static let readsPerTurn = 4

        private let epoll: CInt
        private let wake: CInt
        private let idleTimeout: Int64
        /// Bytes sent to clients are counted here too (R6's "busy" measure counts every class).
        private let limiter: BandwidthLimiter?
        private let inbox = Mutex<(open: Bool, handoffs: [Handoff])>((true, []))
        private let started = Atomic<Bool>(false)
        private let finished = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
        /// Tunnels the relay holds now, and has taken in all (for `/metrics`).
        let active = Atomic<Int>(0)
        let relayed = Atomic<UInt64>(0)

        /// nil when the system refuses an epoll set or an eventfd (then tunnels stay on NIO).
        init?(idleTimeout: TimeAmount, limiter: BandwidthLimiter?) {
            let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
            guard epoll >= 0 else { return nil }
            let wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
            guard wake >= 0 else {
                close(epoll)
                return nil
            }
            var event = epoll_event()
            event.events = EPOLLIN.rawValue
            event.data.u64 = UInt64(UInt32(bitPattern: wake))
            guard epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event) == 0 else {
                close(wake)
                close(epoll)
                return nil
            }
            self.epoll = epoll
            self.wake = wake
            self.idleTimeout = max(1, idleTimeout.nanoseconds)
            self.limiter = limiter
        }

        /// The descriptors are closed only here: a late `signal()` from another thread must
        /// never write into a descriptor number the process has since given to something else.
        deinit {
            close(wake)
            close(epoll)
        }

        /// Starts the relay's thread (once; later calls, and calls after `stop()`, do nothing).
        func start() {
            guard inbox.withLock({ $0.open }), !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
            let thread = Thread { [self] in
                serve()
                let waiters = finished.withLock { state in
                    state.done = true
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume() }
            }
            thread.name = "steward-tunnels"
            thread.start()
        }

        /// Whether tunnels handed over now will be relayed (started and not stopped).
        var isRunning: Bool {
            started.load(ordering: .acquiring) && inbox.withLock { $0.open }
        }

        /// Hands a tunnel to the relay. After `stop()` it is closed at once and finished with
        /// what it had moved (nothing).
        func relay(_ handoff: Handoff) {
            let accepted = inbox.withLock { state in
                guard state.open else { return false }
                state.handoffs.append(handoff)
                return true
            }
            if accepted {
                signal()
            } else {
                close(handoff.client)
                close(handoff.origin)
                handoff.finish(0, 0)
            }
        }

        /// Closes every tunnel and ends the thread; returns when it has ended (at once if it
        /// never started).
        func stop() async {
            // Started: the thread finishes what waits in the inbox. Not: nobody will, so here.
            let (running, handoffs) = inbox.withLock { state -> (Bool, [Handoff]) in
                state.open = false
                if started.load(ordering: .acquiring) { return (true, []) }
                defer { state.handoffs = [] }
                return (false, state.handoffs)
            }
            for handoff in handoffs {
                close(handoff.client)
                close(handoff.origin)
                handoff.finish(0, 0)
            }
            guard running else { return }
            signal()
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = finished.withLock { state in
                    if !state.done { state.waiters.append(continuation) }
                    return state.done
                }
                if done { continuation.resume() }
            }
        }

        private func signal() {
            var one: UInt64 = 1
            _ = write(wake, &one, 8)
        }

        // MARK: The relay's thread

        private func serve() {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunk, alignment: 16)
            defer { scratch.deallocate() }
            var tunnels: [CInt: RelayedTunnel] = [:]
            var ready: [RelayedTunnel] = []
            var events = [epoll_event](repeating: epoll_event(), count: 128)
            var now = Self.monotonicNow()
            var nextSweep = now + 1_000_000_000
            var open = true
            while open {
                let timeout: Int32 = ready.isEmpty ? Int32(clamping: max(0, (nextSweep - now) / 1_000_000) + 1) : 0
                let count = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, Int32($0.count), timeout) }
                now = Self.monotonicNow()
                if count > 0 {
                    for index in 0..<Int(count) {
                        let descriptor = CInt(truncatingIfNeeded: events[index].data.u64)
                        let flags = events[index].events
                        if descriptor == wake {
                            var value: UInt64 = 0
                            _ = read(wake, &value, 8)
                            let (stillOpen, handoffs) = inbox.withLock { state in
                                defer { state.handoffs = [] }
                                return (state.open, state.handoffs)
                            }
                            for handoff in handoffs {
                                let tunnel = RelayedTunnel(handoff, now: now)
                                tunnels[handoff.client] = tunnel
                                tunnels[handoff.origin] = tunnel
                                active.add(1, ordering: .relaxed)
                                relayed.add(1, ordering: .relaxed)
                                if !register(tunnel) { tunnel.failed = true }
                                tunnel.queued = true
                                ready.append(tunnel)
                            }
                            if !stillOpen { open = false }
                            continue
                        }
                        guard let tunnel = tunnels[descriptor] else { continue }
                        tunnel.note(descriptor: descriptor, events: flags)
                        if !tunnel.queued {
                            tunnel.queued = true
                            ready.append(tunnel)
                        }
                    }
                }
                // Each ready tunnel gets a turn; one with more to do stays ready for the next round.
                var next: [RelayedTunnel] = []
                var toClients: Int64 = 0
                for tunnel in ready {
                    let before = tunnel.toClient.bytes
                    let more = tunnel.failed ? false : tunnel.pump(scratch: scratch, now: now)
                    toClients += tunnel.toClient.bytes - before
                    if tunnel.isOver {
                        end(tunnel, in: &tunnels)
                    } else if more {
                        next.append(tunnel)
                    } else {
                        tunnel.queued = false
                    }
                }
                ready = next
                if toClients > 0 { limiter?.sent(Int(toClients)) }
                if now >= nextSweep {
                    nextSweep = now + 1_000_000_000
                    var idle: [RelayedTunnel] = []
                    for (descriptor, tunnel) in tunnels
                    where descriptor == tunnel.client && now - tunnel.lastActive >= idleTimeout {
                        idle.append(tunnel)
                    }
                    for tunnel in idle {
                        tunnel.failed = true
                        if !tunnel.queued { end(tunnel, in: &tunnels) }
                    }
                }
            }
            // Stopped: every tunnel still here is closed.
            var seen = Set<CInt>()
            for (_, tunnel) in tunnels where seen.insert(tunnel.client).inserted {
                tunnel.failed = true
                close(tunnel.client)
                close(tunnel.origin)
                active.subtract(1, ordering: .relaxed)
                tunnel.finish(tunnel.fromClient.bytes, tunnel.toClient.bytes)
            }
            // Handoffs that came after the last wake-up was read.
            let late = inbox.withLock { state in
                defer { state.handoffs = [] }
                return state.handoffs
            }
            for handoff in late {
                close(handoff.client)
                close(handoff.origin)
                handoff.finish(0, 0)
            }
        }

        private func register(_ tunnel: RelayedTunnel) -> Bool {
            for descriptor in [tunnel.client, tunnel.origin] {
                var event = epoll_event()
                event.events = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
                event.data.u64 = UInt64(UInt32(bitPattern: descriptor))
                if epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event) != 0 { return false }
            }
            return true
        }

        private func end(_ tunnel: RelayedTunnel, in tunnels: inout [CInt: RelayedTunnel]) {
            tunnels[tunnel.client] = nil
            tunnels[tunnel.origin] = nil
            // Closing the only descriptor of each socket also takes it out of the epoll set.
            close(tunnel.client)
            close(tunnel.origin)
            active.subtract(1, ordering: .relaxed)
            tunnel.finish(tunnel.fromClient.bytes, tunnel.toClient.bytes)
        }

        /// A duplicate of the socket under an NIO channel, for taking the connection over: NIO
        /// offers no way to hand a connected socket back, so its descriptor is read by reflection
        /// (`BaseSocketChannel.socket`, `BaseSocket.descriptor`) and accepted only if it is a
        /// socket whose both ends have the channel's ports. nil (the tunnel stays on NIO) if the
        /// layout has changed or anything disagrees.
        static func duplicateDescriptor(of channel: any Channel) -> CInt? {
            guard let local = channel.localAddress?.port, let remote = channel.remoteAddress?.port,
                let descriptor = reflectedDescriptor(of: channel),
                port(of: descriptor, peer: false) == local, port(of: descriptor, peer: true) == remote
            else { return nil }
            let duplicate = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
            return duplicate >= 0 ? duplicate : nil
        }

        private static func reflectedDescriptor(of channel: any Channel) -> CInt? {
            func child(_ label: String, of value: Any) -> Any? {
                var mirror: Mirror? = Mirror(reflecting: value)
                while let current = mirror {
                    if let found = current.children.first(where: { $0.label == label }) { return found.value }
                    mirror = current.superclassMirror
                }
                return nil
            }
            guard let socket = child("socket", of: channel), let descriptor = child("descriptor", of: socket) as? CInt,
                descriptor >= 0
            else { return nil }
            return descriptor
        }

        private static func port(of descriptor: CInt, peer: Bool) -> Int? {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let result = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    peer ? getpeername(descriptor, $0, &length) : getsockname(descriptor, $0, &length)
                }
            }
            guard result == 0 else { return nil }
            switch Int32(storage.ss_family) {
            case AF_INET:
                return withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
                }
            case AF_INET6:
                return withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
                }
            default:
                return nil
            }
        }

        private static func monotonicNow() -> Int64 {
            var time = timespec()
            clock_gettime(CLOCK_MONOTONIC, &time)
            return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
        }
    }

    /// One tunnel on the relay's thread: its two sockets and the state of each direction.
    private final class RelayedTunnel {
        /// One direction: whether its source may have bytes (edge-triggered: until a read says
        /// EAGAIN), whether the source has ended and the end has been passed on, what the
        /// destination has yet to take, and the bytes moved.
        struct Direction {
            var readable = true
            var ended = false
            var shutDown = false
            var held: UnsafeMutableRawBufferPointer?
            var heldStart = 0
            var heldEnd = 0
            var bytes: Int64 = 0

            var isDone: Bool { shutDown && held == nil }
        }

        let client: CInt
        let origin: CInt
        let finish: @Sendable (Int64, Int64) -> Void
        var fromClient = Direction()
        var toClient = Direction()
        var clientWritable = true
        var originWritable = true
        /// The tunnel idled out, or could not be registered: it is closed without more ado.
        var failed = false
        var queued = false
        var lastActive: Int64

        init(_ handoff: TunnelRelay.Handoff, now: Int64) {
            client = handoff.client
            origin = handoff.origin
            finish = handoff.finish
            lastActive = now
            if !handoff.toOrigin.isEmpty {
                let held = UnsafeMutableRawBufferPointer.allocate(byteCount: handoff.toOrigin.count, alignment: 16)
                held.copyBytes(from: handoff.toOrigin)
                fromClient.held = held
                fromClient.heldEnd = handoff.toOrigin.count
            }
        }

        deinit {
            fromClient.held?.deallocate()
            toClient.held?.deallocate()
        }

        var isOver: Bool { failed || (fromClient.isDone && toClient.isDone) }

        func note(descriptor: CInt, events: UInt32) {
            let input = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue
            let output = EPOLLOUT.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue
            if descriptor == client {
                if events & input != 0 { fromClient.readable = true }
                if events & output != 0 { clientWritable = true }
            } else {
                if events & input != 0 { toClient.readable = true }
                if events & output != 0 { originWritable = true }
            }
        }

        /// Moves what it can both ways; true when a direction stopped only for fairness.
        func pump(scratch: UnsafeMutableRawBufferPointer, now: Int64) -> Bool {
            let up = move(&fromClient, from: client, to: origin, writable: &originWritable, scratch: scratch, now: now)
            if failed { return false }
            let down = move(&toClient, from: origin, to: client, writable: &clientWritable, scratch: scratch, now: now)
            return up || down
        }

        /// Moves bytes from `source` to `destination` until the source has nothing, the
        /// destination is full, or the turn is over (then true). A source that fails (reset) ends
        /// like one that finished: what was read before goes out, then the half-close. A
        /// destination that fails ends this direction only (what it held is dropped, nothing more
        /// is read for it); the other direction still delivers what it has, as NIO's close does
        /// after the queued writes.
        private func move(
            _ direction: inout Direction, from source: CInt, to destination: CInt, writable: inout Bool,
            scratch: UnsafeMutableRawBufferPointer, now: Int64
        ) -> Bool {
            var reads = 0
            while !failed {
                // What the destination could not take before goes first.
                if let held = direction.held {
                    guard writable else { return false }
                    let sent = send(
                        destination, held.baseAddress! + direction.heldStart, direction.heldEnd - direction.heldStart,
                        Int32(MSG_NOSIGNAL))
                    if sent < 0 {
                        switch errno {
                        case EINTR: continue
                        case EAGAIN, EWOULDBLOCK: writable = false
                        default: abandon(&direction, source: source)
                        }
                        return false
                    }
                    lastActive = now
                    direction.heldStart += sent
                    if direction.heldStart < direction.heldEnd {
                        writable = false
                        return false
                    }
                    held.deallocate()
                    direction.held = nil
                    direction.heldStart = 0
                    direction.heldEnd = 0
                    continue
                }
                if direction.ended {
                    if !direction.shutDown {
                        direction.shutDown = true
                        // The other side may already be gone; the tunnel ends when both directions have.
                        _ = shutdown(destination, Int32(SHUT_WR))
                    }
                    return false
                }
                guard direction.readable else { return false }
                if reads == TunnelRelay.readsPerTurn { return true }
                reads += 1
                let count = read(source, scratch.baseAddress!, scratch.count)
                if count <= 0 {
                    if count < 0 {
                        switch errno {
                        case EINTR: continue
                        case EAGAIN, EWOULDBLOCK:
                            direction.readable = false
                            return false
                        default: break  // reset: ends as a finish does
                        }
                    }
                    direction.ended = true
                    direction.readable = false
                    continue
                }
                lastActive = now
                direction.bytes += Int64(count)
                var sent = 0
                while writable {
                    let result = send(destination, scratch.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL))
                    if result >= 0 {
                        sent += result
                        if sent == count { break }
                        writable = false  // a partial write: the socket is full
                    } else if errno == EAGAIN || errno == EWOULDBLOCK {
                        writable = false
                    } else if errno != EINTR {
                        abandon(&direction, source: source)
                        return false
                    }
                }
                if sent < count {
                    let rest = count - sent
                    let held = UnsafeMutableRawBufferPointer.allocate(byteCount: rest, alignment: 16)
                    held.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[sent..<count]))
                    direction.held = held
                    direction.heldStart = 0
                    direction.heldEnd = rest
                }
            }
            return false
        }

        /// The destination failed: this direction is over, and its source is read no more.
        private func abandon(_ direction: inout Direction, source: CInt) {
            direction.held?.deallocate()
            direction.held = nil
            direction.heldStart = 0
            direction.heldEnd = 0
            direction.ended = true
            direction.readable = false
            direction.shutDown = true
            _ = shutdown(source, Int32(SHUT_RD))
        }
    }
#else
    import NIOCore
    import Synchronization

    /// Without epoll there is no relay: tunnels stay on their event loop.
    final class TunnelRelay: Sendable {
        struct Handoff: Sendable {
            var client: CInt
            var origin: CInt
            var toOrigin: [UInt8]
            var finish: @Sendable (_ fromClient: Int64, _ toClient: Int64) -> Void
        }
        init?(idleTimeout: TimeAmount, limiter: BandwidthLimiter?) { nil }
        let active = Atomic<Int>(0)
        let relayed = Atomic<UInt64>(0)
        var isRunning: Bool { false }
        func start() {}
        func stop() async {}
        func relay(_ handoff: Handoff) {}
        static func duplicateDescriptor(of channel: any Channel) -> CInt? { nil }
    }
#endif
