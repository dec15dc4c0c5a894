import NIOCore
import NIOHTTP1

/// An origin connection with the handler that relays its responses to whichever client request it
/// serves at the moment.
struct OriginLink {
    let channel: any Channel
    let handler: OriginResponseHandler
    /// Charges the connection's reads to the person of the request it serves, when limited.
    let throttle: ReadThrottle
}

/// Idle keep-alive connections to origins, one pool per event loop: a request's origin connection
/// lives on its client's loop (so the relay needs no locks), and so does the pool it goes back to.
/// A parked connection is closed when the origin closes it or sends anything, after
/// `idleTimeout`, or when the pool is over its caps (the oldest go first).
///
/// Only touched on its event loop; `@unchecked Sendable` so the proxy's shared state can hold one
/// per loop.
final class OriginPool: @unchecked Sendable {
    struct Key: Hashable {
        /// The address or name connected to (never the Host header).
        let host: String
        let port: Int
    }

    private struct Parked {
        let link: OriginLink
        let timer: Scheduled<Void>
    }

    let eventLoop: any EventLoop
    let idleTimeout: TimeAmount
    let maxPerOrigin: Int
    let maxTotal: Int
    private var idle: [Key: [Parked]] = [:]
    private var total = 0

    init(eventLoop: any EventLoop, idleTimeout: TimeAmount, maxPerOrigin: Int, maxTotal: Int) {
        self.eventLoop = eventLoop
        self.idleTimeout = idleTimeout
        self.maxPerOrigin = maxPerOrigin
        self.maxTotal = maxTotal
    }

    var count: Int { total }

    /// The most recently parked live connection to `key`, taken out of the pool.
    func take(_ key: Key) -> OriginLink? {
        eventLoop.assertInEventLoop()
        while var list = idle[key], let parked = list.popLast() {
            idle[key] = list.isEmpty ? nil : list
            total -= 1
            parked.timer.cancel()
            if parked.link.channel.isActive { return parked.link }
            parked.link.channel.close(promise: nil)
        }
        return nil
    }

    /// Keeps a connection whose response has ended for the next request to the same origin.
    func park(_ link: OriginLink, key: Key) {
        eventLoop.assertInEventLoop()
        guard maxPerOrigin > 0, maxTotal > 0, link.channel.isActive else {
            link.channel.close(promise: nil)
            return
        }
        link.handler.park(in: self, key: key)
        link.throttle.reset()
        let channel = link.channel
        let timer = eventLoop.scheduleTask(in: idleTimeout) { channel.close(promise: nil) }
        var list = idle[key, default: []]
        if list.count >= maxPerOrigin {
            let oldest = list.removeFirst()
            total -= 1
            oldest.timer.cancel()
            oldest.link.channel.close(promise: nil)
        }
        list.append(Parked(link: link, timer: timer))
        idle[key] = list
        total += 1
        if total > maxTotal, let (oldestKey, _) = idle.first {
            // Over the total: one connection of some origin goes (cheap, and rare).
            _ = take(oldestKey).map { $0.channel.close(promise: nil) }
        }
    }

    /// A parked connection closed (by the origin, its timer, or a cap).
    func remove(_ channel: any Channel, key: Key) {
        eventLoop.assertInEventLoop()
        guard var list = idle[key], let index = list.firstIndex(where: { $0.link.channel === channel }) else { return }
        let parked = list.remove(at: index)
        parked.timer.cancel()
        idle[key] = list.isEmpty ? nil : list
        total -= 1
    }

    /// At shutdown: every parked connection is closed.
    func closeAll() {
        eventLoop.assertInEventLoop()
        let all = idle.values.flatMap { $0 }
        idle = [:]
        total = 0
        for parked in all {
            parked.timer.cancel()
            parked.link.channel.close(promise: nil)
        }
    }
}

/// The origin side of a forwarded request: the response's parts go back through the proxy handler
/// of the request it serves now. Parked in a pool, it serves none: anything the origin sends then
/// is a protocol error and closes the connection.
final class OriginResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private var proxy: ProxyHandler?
    private var clientContext: ChannelHandlerContext?
    private var parked: (pool: OriginPool, key: OriginPool.Key)?

    init(proxy: ProxyHandler, clientContext: ChannelHandlerContext) {
        self.proxy = proxy
        self.clientContext = clientContext
    }

    /// Serves a new request.
    func attach(proxy: ProxyHandler, clientContext: ChannelHandlerContext) {
        self.proxy = proxy
        self.clientContext = clientContext
        parked = nil
    }

    /// Serves no request any more (the connection is being closed or parked).
    func detach() {
        proxy = nil
        clientContext = nil
    }

    fileprivate func park(in pool: OriginPool, key: OriginPool.Key) {
        detach()
        parked = (pool, key)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let proxy, let clientContext else {
            context.close(promise: nil)
            return
        }
        let channel = context.channel
        switch unwrapInboundIn(data) {
        case .head(let head): proxy.originHead(clientContext, head, origin: channel)
        case .body(let buffer): proxy.originBody(clientContext, buffer, origin: channel)
        case .end: proxy.originEnd(clientContext, origin: channel)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let proxy, let clientContext { proxy.originFlush(clientContext) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let (pool, key) = parked {
            pool.remove(context.channel, key: key)
            parked = nil
        }
        if let proxy, let clientContext {
            detach()
            proxy.originClosed(clientContext, origin: context.channel)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
