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
        let since: NIODeadline
    }

    let eventLoop: any EventLoop
    let idleTimeout: TimeAmount
    let maxPerOrigin: Int
    let maxTotal: Int
    /// Per origin, oldest first. Mutated in place (never copied out), so taking and parking cost
    /// no copy of the list.
    private var idle: [Key: [Parked]] = [:]
    private var total = 0
    /// One sweep for the whole pool closes connections idle too long (cheaper than a timer each).
    private var sweep: RepeatedTask?

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
        while let parked = idle[key]?.popLast() {
            total -= 1
            if idle[key]?.isEmpty == true { idle[key] = nil }
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
        if let count = idle[key]?.count, count >= maxPerOrigin, let oldest = idle[key]?.removeFirst() {
            total -= 1
            oldest.link.channel.close(promise: nil)
        }
        idle[key, default: []].append(Parked(link: link, since: .now()))
        total += 1
        if total > maxTotal, let oldestKey = idle.keys.first, let oldest = idle[oldestKey]?.removeFirst() {
            // Over the total: the oldest connection of some origin goes (cheap, and rare).
            total -= 1
            if idle[oldestKey]?.isEmpty == true { idle[oldestKey] = nil }
            oldest.link.channel.close(promise: nil)
        }
        if sweep == nil {
            let interval = max(TimeAmount.seconds(1), .nanoseconds(idleTimeout.nanoseconds / 2))
            let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
            sweep = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                loopBound.value.closeIdle()
            }
        }
    }

    /// Closes every connection parked for longer than the idle timeout.
    private func closeIdle() {
        let limit = NIODeadline.now() - idleTimeout
        for key in Array(idle.keys) {
            while let oldest = idle[key]?.first, oldest.since < limit {
                idle[key]?.removeFirst()
                total -= 1
                oldest.link.channel.close(promise: nil)
            }
            if idle[key]?.isEmpty == true { idle[key] = nil }
        }
    }

    /// A parked connection closed (by the origin, the sweep, or a cap).
    func remove(_ channel: any Channel, key: Key) {
        eventLoop.assertInEventLoop()
        guard let index = idle[key]?.firstIndex(where: { $0.link.channel === channel }) else { return }
        idle[key]?.remove(at: index)
        if idle[key]?.isEmpty == true { idle[key] = nil }
        total -= 1
    }

    /// At shutdown: every parked connection is closed.
    func closeAll() {
        eventLoop.assertInEventLoop()
        sweep?.cancel()
        sweep = nil
        let all = idle.values.flatMap { $0 }
        idle = [:]
        total = 0
        for parked in all { parked.link.channel.close(promise: nil) }
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

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let proxy, let clientContext { proxy.originWritable(clientContext) }
        context.fireChannelWritabilityChanged()
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
