import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import StewardPolicy
import Synchronization

/// The DNS service: UDP and TCP on every configured address, until graceful shutdown.
public final class DNSServer: Service, Sendable {
    public struct Configuration: Sendable {
        public var listen: [SocketAddress]
        public var tcpIdleTimeout: TimeAmount = .seconds(10)
        /// Open TCP connections at most; beyond it new ones are closed at once.
        public var maxTCPConnections = 1024
        /// Open TCP connections from one client address at most (RFC 7766 §6.2.2): one client
        /// cannot take every place.
        public var maxTCPConnectionsPerClient = 64
        /// UDP through the batched loop (`DNSUDPLoop`: recvmmsg/sendmmsg on a thread of its own, no
        /// channel pipeline, misses relayed from the same thread by `DNSUDPRelay`) rather than a NIO
        /// datagram channel. Linux only; elsewhere ignored. On by default: on one core it answers
        /// blocks and cache hits 4–20% faster and misses about 50% faster than the channel.
        public var batchedUDP = true

        public init(listen: [SocketAddress]) {
            self.listen = listen
        }
    }

    static let messagesPerRead = 32
    let configuration: Configuration
    let filter: DNSFilter
    let snapshots: SnapshotHolder
    let group: any EventLoopGroup
    let logger: Logger
    private let channels = Mutex<[any Channel]>([])
    private let bound = Mutex<(udp: [SocketAddress], tcp: [SocketAddress])>(([], []))
    private let boundSignal = Mutex<[CheckedContinuation<Void, Never>]>([])
    /// Open TCP connections: in all and per client address.
    private let openConnections = Mutex<(total: Int, perClient: [StewardPolicy.IPAddress: Int])>((0, [:]))

    public init(
        configuration: Configuration, filter: DNSFilter, snapshots: SnapshotHolder, group: any EventLoopGroup,
        logger: Logger
    ) {
        self.configuration = configuration
        self.filter = filter
        self.snapshots = snapshots
        self.group = group
        self.logger = logger
    }

    /// The addresses actually bound (ports resolved when 0 was asked), once listening.
    public func boundAddresses() async -> (udp: [SocketAddress], tcp: [SocketAddress]) {
        await withCheckedContinuation { continuation in
            let ready = bound.withLock { !$0.udp.isEmpty || configuration.listen.isEmpty }
            if ready {
                continuation.resume()
            } else {
                boundSignal.withLock { $0.append(continuation) }
                // Re-check: the server may have bound between the two locks.
                if bound.withLock({ !$0.udp.isEmpty }) { resumeWaiters() }
            }
        }
        return bound.withLock { $0 }
    }

    private func resumeWaiters() {
        let waiters = boundSignal.withLock { waiters in
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    public func run() async throws {
        var udpAddresses: [SocketAddress] = []
        var udpChannels: [any Channel] = []
        var tcpServers: [NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>] = []
        #if os(Linux)
            var udpLoops: [DNSUDPLoop] = []
            // Sockets of loops that never ran are closed here (a later bind failed).
            var started = false
            defer { if !started { for loop in udpLoops { loop.socket.close() } } }
        #endif
        for address in configuration.listen {
            #if os(Linux)
                if configuration.batchedUDP {
                    // As below: with port 0, TCP may find the port UDP got taken; both are tried again.
                    var attempt = 0
                    while true {
                        let socket = try DNSUDPSocket(bindingTo: address)
                        let tcp: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
                        do {
                            tcp = try await bindTCP(to: socket.localAddress)
                        } catch where address.port == 0 && attempt < 8 {
                            attempt += 1
                            socket.close()
                            continue
                        } catch {
                            socket.close()
                            throw error
                        }
                        udpLoops.append(
                            DNSUDPLoop(
                                socket: socket, filter: filter, snapshots: snapshots, eventLoop: group.next(),
                                logger: logger))
                        udpAddresses.append(socket.localAddress)
                        tcpServers.append(tcp)
                        break
                    }
                    continue
                }
            #endif
            // TCP on the port UDP got (they differ only when port 0 was asked for). With port 0
            // another socket may already hold that port for TCP: then both are tried again.
            var attempt = 0
            while true {
                let udp = try await bindUDP(to: address)
                let tcp: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
                do {
                    tcp = try await bindTCP(to: udp.localAddress ?? address)
                } catch where address.port == 0 && attempt < 8 {
                    attempt += 1
                    try? await udp.close()
                    continue
                }
                channels.withLock { $0.append(udp) }
                udpChannels.append(udp)
                if let local = udp.localAddress { udpAddresses.append(local) }
                tcpServers.append(tcp)
                break
            }
        }
        #if os(Linux)
            // The loops' threads start before the addresses are published: once a caller learns
            // where the server listens, it is answered there.
            started = true
            let loops = udpLoops
            for loop in loops { loop.start() }
        #endif
        bound.withLock { $0 = (udpAddresses, tcpServers.compactMap { $0.channel.localAddress }) }
        resumeWaiters()
        logger.info(
            "DNS listening",
            metadata: ["udp": "\(udpAddresses)", "tcp": "\(tcpServers.compactMap(\.channel.localAddress))"])

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                for server in tcpServers {
                    group.addTask { try await self.serveTCP(server) }
                }
                // UDP answers on its event loop; its task only waits for the socket to close.
                for channel in udpChannels {
                    group.addTask { try await channel.closeFuture.get() }
                }
                #if os(Linux)
                    for loop in loops {
                        group.addTask {
                            await withTaskCancellationHandler {
                                await loop.run()
                            } onCancel: {
                                loop.stop()
                            }
                        }
                    }
                #endif
            }
        } onGracefulShutdown: {
            for channel in self.channels.withLock({ $0 }) { channel.close(promise: nil) }
            #if os(Linux)
                for loop in loops { loop.stop() }
            #endif
        }
    }

    private func bindUDP(to address: SocketAddress) async throws -> any Channel {
        try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // Vector reads split the receive buffer evenly among the messages: 32 × 4096 bytes,
            // so every datagram (queries are at most 4096 here) arrives whole.
            .channelOption(.datagramVectorReadMessageCount, value: Self.messagesPerRead)
            .channelOption(
                .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.messagesPerRead * 4096)
            )
            .channelInitializer { [filter, snapshots] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DNSUDPHandler(filter: filter, snapshots: snapshots))
                }
            }
            .bind(to: address).get()
    }

    private func bindTCP(
        to address: SocketAddress
    ) async throws -> NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never> {
        let idle = configuration.tcpIdleTimeout
        let tcp = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .bind(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    // A client may send its queries and half-close at once: what it sent is still
                    // answered before the connection closes (RFC 7766 §6.2.3).
                    try channel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: idle),
                        DNSTCPMessageDeadline(limit: idle),
                        ByteToMessageHandler(DNSTCPFrameDecoder(), maximumBufferSize: 70_000),
                        DNSTCPFrameEncoder(),
                        IdleConnectionCloser(),
                    ])
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        channels.withLock { $0.append(tcp.channel) }
        return tcp
    }

    private func serveTCP(_ server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    guard let remote = connection.channel.remoteAddress, let client = StewardPolicy.IPAddress(remote),
                        admit(client)
                    else {
                        // Closed through the wrapper, which finishes its writer first: a wrapper
                        // dropped unfinished is a fatal error in NIO.
                        try? await connection.executeThenClose { _, _ in }
                        continue
                    }
                    group.addTask {
                        defer { self.release(client) }
                        await self.serveConnection(connection, client: client)
                    }
                }
            }
        }
    }

    /// RFC 7766: several queries on one connection until the client closes or the connection idles
    /// out, processed concurrently and each answered as soon as it is ready (§6.2.1.1), so one slow
    /// upstream lookup does not hold up the blocked names and cache hits behind it. At most
    /// `maxPendingPerConnection` answers wait at once; the next query is read when one is sent.
    /// The connection closes once every answer is out.
    private func serveConnection(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, client: StewardPolicy.IPAddress) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { pending in
                    var waiting = 0
                    for try await message in inbound {
                        let eventLoop = connection.channel.eventLoop
                        let outcome = filter.handle(
                            message, from: client, transport: .tcp, snapshot: snapshots.snapshot, eventLoop: eventLoop)
                        switch outcome {
                        case .respond(let buffer):
                            try await outbound.write(buffer)
                        case .drop:
                            continue
                        case .later(let future):
                            if waiting == Self.maxPendingPerConnection {
                                try await pending.next()
                                waiting -= 1
                            }
                            waiting += 1
                            pending.addTask {
                                if let buffer = try await future.get() { try await outbound.write(buffer) }
                            }
                        }
                    }
                    try await pending.waitForAll()
                }
            }
        } catch {
            logger.debug("DNS TCP connection ended", metadata: ["client": "\(client)", "error": "\(error)"])
        }
    }

    /// Counts a new TCP connection from `client`; false when a cap is reached (it is then closed).
    private func admit(_ client: StewardPolicy.IPAddress) -> Bool {
        openConnections.withLock { state in
            let fromClient = state.perClient[client, default: 0]
            guard state.total < configuration.maxTCPConnections, fromClient < configuration.maxTCPConnectionsPerClient
            else { return false }
            state.total += 1
            state.perClient[client] = fromClient + 1
            return true
        }
    }

    private func release(_ client: StewardPolicy.IPAddress) {
        openConnections.withLock { state in
            state.total -= 1
            let left = state.perClient[client, default: 1] - 1
            state.perClient[client] = left > 0 ? left : nil
        }
    }

    /// Queries of one TCP connection waiting for an upstream at once.
    static let maxPendingPerConnection = 64
}
