import Foundation
import NIOCore
import StewardActivity
import StewardPolicy

/// The first bytes of a tunnel: the TLS ClientHello is read (never decrypted) before anything
/// reaches the origin. The tunnel is closed when the bytes are not TLS, when the SNI names a
/// blocked site, or when it names another host than the CONNECT did (domain fronting); otherwise
/// the held bytes go to the origin and the two sides are glued together.
final class TunnelPeekHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let shared: ProxyShared
    let client: IPAddress
    var exchange: ProxyHandler.Exchange
    let origin: any Channel
    let subject: Subject
    let zone: Int32
    let instant: Int64
    private var held: ByteBuffer?
    private var timeout: Scheduled<Void>?
    private var done = false
    /// Handed to the relay, waiting for the channels to close: what is read meanwhile joins `held`.
    private var handingOver = false

    init(
        shared: ProxyShared, client: IPAddress, exchange: ProxyHandler.Exchange, origin: any Channel, subject: Subject,
        zone: Int32, instant: Int64
    ) {
        self.shared = shared
        self.client = client
        self.exchange = exchange
        self.origin = origin
        self.subject = subject
        self.zone = zone
        self.instant = instant
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: shared.configuration.helloTimeout) {
            let (handler, context) = loopBound.value
            handler.refuse(context, reason: "no TLS ClientHello in time")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if handingOver {
            held?.writeBuffer(&buffer)
            return
        }
        guard !done else { return }
        if held == nil {
            held = buffer
        } else {
            held!.writeBuffer(&buffer)
        }
        switch TLSClientHello.parse(held!) {
        case .needMore:
            if held!.readableBytes > TLSClientHello.maxBytes { refuse(context, reason: "no TLS ClientHello") }
        case .notTLS:
            refuse(context, reason: "not TLS")
        case .hello(let serverName):
            check(context, serverName: serverName)
        }
    }

    private func check(_ context: ChannelHandlerContext, serverName: String?) {
        let snapshot = exchange.snapshot
        if let serverName {
            var sni = serverName.lowercased()
            if sni.hasSuffix(".") { sni.removeLast() }
            let decision = snapshot.decide(.name(sni), subject: subject, zone: zone, at: instant)
            if decision.action == .block {
                exchange.decision = decision
                exchange.host = sni
                refuse(context, reason: "blocked server name \(sni)")
                return
            }
            // A tunnel to a name must ask that name: anything else is domain fronting. A tunnel
            // to an address is decided on the name it asks for (above).
            let connectHostIsAddress = IPAddress(exchange.host) != nil
            if !connectHostIsAddress, sni != exchange.host {
                exchange.decision = Decision(
                    action: .block, cause: .bypassCanary, rule: -1, categories: decision.categories, group: decision.group)
                refuse(context, reason: "server name \(sni) is not the CONNECT host \(exchange.host)")
                return
            }
        }
        pass(context)
    }

    private func refuse(_ context: ChannelHandlerContext, reason: String) {
        guard !done else { return }
        done = true
        timeout?.cancel()
        if exchange.decision.action != .block {
            exchange.decision = Decision(
                action: .block, cause: .bypassCanary, rule: -1, categories: exchange.decision.categories,
                group: exchange.decision.group)
        }
        exchange.status = 403
        exchange.path = reason
        shared.metrics.blocked.add(1, ordering: .relaxed)
        recordTunnel(exchange)
        origin.close(promise: nil)
        context.close(promise: nil)
    }

    private func pass(_ context: ChannelHandlerContext) {
        done = true
        timeout?.cancel()
        shared.metrics.allowed.add(1, ordering: .relaxed)
        shared.metrics.tunnels.add(1, ordering: .relaxed)
        let throttleKey = shared.throttleKey(exchange, client: client)
        if throttleKey == nil, handOver(context) { return }
        let (clientGlue, originGlue) = GlueHandler.matchedPair()
        var exchange = self.exchange
        let shared = self.shared
        let client = self.client
        clientGlue.onClose = { [unowned clientGlue, unowned originGlue] in
            exchange.bytesIn += clientGlue.bytesRead
            exchange.bytesOut = originGlue.bytesRead
            shared.metrics.bytesToClients.add(UInt64(max(0, originGlue.bytesRead)), ordering: .relaxed)
            shared.recorder.record(exchange.event(client: client))
        }
        do {
            let sync = context.pipeline.syncOperations
            try sync.addHandler(clientGlue, position: .after(self))
            try origin.pipeline.syncOperations.addHandler(originGlue)
            if let throttle = try? origin.pipeline.syncOperations.handler(type: ReadThrottle.self) {
                throttle.key = throttleKey
            }
            if let held, held.readableBytes > 0 {
                origin.writeAndFlush(held, promise: nil)
                exchange.bytesIn += Int64(held.readableBytes)
            }
            held = nil
            _ = sync.removeHandler(self)
            // Both sides read on their own from now on; the glue holds a side back while its
            // partner cannot take more.
            origin.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            context.read()
        } catch {
            origin.close(promise: nil)
            context.close(promise: nil)
        }
    }

    /// Gives the tunnel's two sockets to the relay (`TunnelRelay`): both channels close, the
    /// relay holds duplicates of their sockets, and the connection keeps its place under the
    /// caps until the relay ends it. What the client sent after its ClientHello, read before the
    /// channel closed, goes to the origin first. False (the tunnel stays here) without a running
    /// relay, or when a socket cannot be taken over, or the client has yet to take the
    /// `200 Connection established`.
    private func handOver(_ context: ChannelHandlerContext) -> Bool {
        guard let relay = shared.relay, relay.isRunning,
            (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) == 0,
            let clientSocket = TunnelRelay.duplicateDescriptor(of: context.channel)
        else { return false }
        guard let originSocket = TunnelRelay.duplicateDescriptor(of: origin) else {
            close(clientSocket)
            return false
        }
        handingOver = true
        if held == nil { held = context.channel.allocator.buffer(capacity: 0) }
        let shared = self.shared
        let client = self.client
        shared.retain(client)
        let closed = [context.channel.close(), origin.close()]
        let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        EventLoopFuture.whenAllComplete(closed, on: context.eventLoop).whenComplete { _ in
            let handler = loopBoundSelf.value
            handler.handingOver = false
            var exchange = handler.exchange
            let toOrigin = handler.held.map { Array($0.readableBytesView) } ?? []
            handler.held = nil
            exchange.bytesIn += Int64(toOrigin.count)
            let opened = exchange
            relay.relay(
                TunnelRelay.Handoff(
                    client: clientSocket, origin: originSocket, toOrigin: toOrigin,
                    finish: { fromClient, toClient in
                        var exchange = opened
                        exchange.bytesIn += fromClient
                        exchange.bytesOut = toClient
                        shared.metrics.bytesToClients.add(UInt64(max(0, toClient)), ordering: .relaxed)
                        shared.recorder.record(exchange.event(client: client))
                        shared.release(client)
                    }))
        }
        return true
    }

    private func recordTunnel(_ exchange: ProxyHandler.Exchange) {
        shared.recorder.record(exchange.event(client: client))
    }

    /// The client finished sending before any ClientHello: no tunnel will follow.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event, !done {
            done = true
            timeout?.cancel()
            origin.close(promise: nil)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            timeout?.cancel()
            origin.close(promise: nil)
        }
        context.fireChannelInactive()
    }
}
