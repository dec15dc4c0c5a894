import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import StewardActivity
import StewardPolicy

/// Decides and serves each request of one client connection. A refused or blocked request is never
/// forwarded. An allowed `http://` request goes to its origin on a new connection (on this event
/// loop, so the relay needs no locks) and the response comes back through here; an allowed CONNECT
/// becomes a tunnel whose TLS ClientHello is read before any byte reaches the origin.
final class ProxyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    struct Codec {
        let decoder: ByteToMessageHandler<HTTPRequestDecoder>
        let encoder: HTTPResponseEncoder
        let pipelining: HTTPServerPipelineHandler
        let errors: HTTPServerProtocolErrorHandler
    }

    /// One request being served, for its activity record.
    struct Exchange {
        var started: NIODeadline
        var method: String
        var host: String
        var path: String?
        var decision: Decision
        var snapshot: PolicySnapshot
        var personID: String?
        /// Who was decided for, so the response's MIME type is decided for the same subject.
        var subject: Subject
        var zone: Int32
        /// The request path's file type, if it names one.
        var fileExtension: String? = nil
        var keepAlive: Bool
        var status: UInt16 = 0
        var bytesIn: Int64 = 0
        var bytesOut: Int64 = 0
        var responseStarted = false
    }

    private enum State {
        case idle
        /// Refused or blocked: the rest of the request is read and dropped.
        case discarding(closeAfter: Bool)
        /// Waiting for the origin connection; request parts are held.
        case connecting(Exchange, held: [HTTPServerRequestPart])
        case forwarding(Exchange, origin: any Channel)
        case tunnelling
    }

    let shared: ProxyShared
    let client: IPAddress
    let codec: Codec
    private var state: State = .idle

    init(shared: ProxyShared, client: IPAddress, codec: Codec) {
        self.shared = shared
        self.client = client
        self.codec = codec
    }

    // MARK: Requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.idle, .head(let head)):
            begin(context, head)
        case (.idle, _):
            break
        case (.discarding(let closeAfter), .end):
            state = .idle
            if closeAfter { context.close(promise: nil) }
        case (.discarding, _):
            break
        case (.connecting(let exchange, var held), _):
            held.append(part)
            state = .connecting(exchange, held: held)
        case (.forwarding(var exchange, let origin), .body(let buffer)):
            exchange.bytesIn += Int64(buffer.readableBytes)
            state = .forwarding(exchange, origin: origin)
            origin.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
        case (.forwarding(_, let origin), .end(let trailers)):
            origin.writeAndFlush(HTTPClientRequestPart.end(trailers), promise: nil)
        case (.forwarding, .head), (.tunnelling, _):
            break
        }
    }

    private func begin(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        let snapshot = shared.snapshots.snapshot
        let now = Date.now
        let zone = snapshot.zone(for: client)
        let (subject, person) = shared.identities.subject(
            at: client, zone: zone, snapshot: snapshot, now: Int64(now.timeIntervalSince1970))
        let instant = Int64(now.timeIntervalSince1970)
        switch ProxyRequest.classify(head, connectPorts: shared.configuration.connectPorts) {
        case .failure(let refusal):
            shared.metrics.refused.add(1, ordering: .relaxed)
            respond(context, refusal.status, html: ProxyPages.message(refusal.status, refusal.reason), keepAlive: false)
            state = .discarding(closeAfter: true)
        case .success(.local(let path)):
            serveLocal(context, head: head, path: path)
        case .success(.tunnel(let host, let address, let port)):
            let decision = snapshot.decide(
                address.map { .address($0) } ?? .name(host), subject: subject, zone: zone, at: instant)
            var exchange = Exchange(
                started: .now(), method: "CONNECT", host: host, path: nil, decision: decision, snapshot: snapshot,
                personID: person?.id, subject: subject, zone: zone, keepAlive: false)
            guard decision.action != .block else {
                exchange.status = 403
                record(exchange)
                shared.metrics.blocked.add(1, ordering: .relaxed)
                let text = "Blocked: \(host) — " + (snapshot.clause(for: decision).map { "\($0.section): \($0.text)" } ?? "district policy")
                respond(context, .forbidden, html: ProxyPages.message(.forbidden, text), keepAlive: false)
                state = .discarding(closeAfter: true)
                return
            }
            state = .connecting(exchange, held: [])
            connectTunnel(context, host: address?.description ?? host, port: port, exchange: exchange, subject: subject, zone: zone, instant: instant)
        case .success(.forward(let target, let originForm)):
            // The URL's categories, and for an address also the address's own (network entries).
            var categories = snapshot.lists.categories(ofHost: target.host, normalizedPath: target.path)
            if let address = target.address { categories.formUnion(snapshot.lists.categories(ofAddress: address)) }
            let decision = snapshot.decide(categories: categories, subject: subject, zone: zone, at: instant, file: target.fileInfo)
            var exchange = Exchange(
                started: .now(), method: head.method.rawValue, host: target.host, path: originForm, decision: decision,
                snapshot: snapshot, personID: person?.id, subject: subject, zone: zone,
                fileExtension: target.fileInfo?.fileExtension, keepAlive: head.isKeepAlive)
            guard decision.action != .block else {
                exchange.status = 403
                record(exchange)
                shared.metrics.blocked.add(1, ordering: .relaxed)
                let page = ProxyPages.blockPage(site: target.host + originForm, decision: decision, snapshot: snapshot, contact: shared.configuration.contact)
                let hasBody = !head.headers["Content-Length"].allSatisfy({ $0 == "0" }) || !head.headers["Transfer-Encoding"].isEmpty
                respond(context, .forbidden, html: page, keepAlive: head.isKeepAlive && !hasBody)
                state = .discarding(closeAfter: !head.isKeepAlive || hasBody)
                return
            }
            state = .connecting(exchange, held: [])
            connectOrigin(context, target: target, head: ProxyRequest.originHead(head, target: target, originForm: originForm))
        }
    }

    private func serveLocal(_ context: ChannelHandlerContext, head: HTTPRequestHead, path: String) {
        let bare = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        guard bare == "/proxy.pac" || bare == "/wpad.dat" else {
            respond(context, .badRequest, html: ProxyPages.message(.badRequest, "This is the district's web proxy; configure it as your proxy (PAC: /proxy.pac)."), keepAlive: false)
            state = .discarding(closeAfter: true)
            return
        }
        let proxy = shared.configuration.pacProxy ?? context.channel.localAddress.map { address in
            let host = address.ipAddress ?? "127.0.0.1"
            return (host.contains(":") ? "[\(host)]" : host) + ":\(address.port ?? 3128)"
        } ?? "127.0.0.1:3128"
        let body = ProxyPages.pac(proxy: proxy, directNetworks: shared.configuration.directNetworks)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-ns-proxy-autoconfig")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Cache-Control", value: "max-age=300")
        let responseHead = HTTPResponseHead(version: head.version, status: .ok, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        state = .discarding(closeAfter: !head.isKeepAlive)
    }

    /// A complete response the proxy makes itself; without keep-alive the connection is closed
    /// once it is written (the rest of a refused request is never read).
    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, html: String, keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        headers.add(name: "Content-Length", value: String(html.utf8.count))
        headers.add(name: "Cache-Control", value: "no-store")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: html)))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    // MARK: Plain HTTP

    /// A connection to an origin, on this client's event loop (so the relay needs no locks).
    private func originBootstrap(_ context: ChannelHandlerContext) -> ClientBootstrap {
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(shared.configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
    }

    private func connectOrigin(_ context: ChannelHandlerContext, target: RequestTarget, head: HTTPRequestHead) {
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        originBootstrap(context)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(HTTPRequestEncoder())
                    try sync.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)))
                    try sync.addHandler(OriginResponseHandler(proxy: loopBoundSelf.value, clientContext: loopBoundContext.value))
                }
            }
            .connect(host: target.address?.description ?? target.host, port: target.port ?? 80)
            .whenComplete { result in
                let handler = loopBoundSelf.value
                let context = loopBoundContext.value
                handler.originConnected(context, result: result, head: head)
            }
    }

    private func originConnected(_ context: ChannelHandlerContext, result: Result<any Channel, any Error>, head: HTTPRequestHead) {
        guard case .connecting(var exchange, let held) = state else {
            if case .success(let origin) = result { origin.close(promise: nil) }
            return
        }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        switch result {
        case .failure(let error):
            exchange.status = 502
            record(exchange)
            respond(context, .badGateway, html: ProxyPages.message(.badGateway, "The site could not be reached (\(error))."), keepAlive: false)
            let complete = held.contains { if case .end = $0 { return true } else { return false } }
            state = complete ? .idle : .discarding(closeAfter: true)
            if complete { context.close(promise: nil) }
        case .success(let origin):
            shared.metrics.allowed.add(1, ordering: .relaxed)
            origin.write(HTTPClientRequestPart.head(head), promise: nil)
            for part in held {
                switch part {
                case .body(let buffer):
                    exchange.bytesIn += Int64(buffer.readableBytes)
                    origin.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
                case .end(let trailers):
                    origin.write(HTTPClientRequestPart.end(trailers), promise: nil)
                case .head:
                    break
                }
            }
            origin.flush()
            state = .forwarding(exchange, origin: origin)
        }
    }

    /// From the origin: the response's head. A MIME type the policy blocks (downloads, R4) gets the
    /// block page instead, and the origin connection is dropped.
    func originHead(_ context: ChannelHandlerContext, _ head: HTTPResponseHead, origin: any Channel) {
        guard case .forwarding(var exchange, _) = state else { return }
        let mime = head.headers["Content-Type"].first?.split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        if let mime, !mime.isEmpty {
            let snapshot = exchange.snapshot
            let decision = snapshot.decide(
                categories: exchange.decision.categories, subject: exchange.subject, zone: exchange.zone,
                at: Int64(Date.now.timeIntervalSince1970),
                file: FileInfo(fileExtension: exchange.fileExtension, mimeType: mime))
            if decision.action == .block {
                exchange.decision = decision
                exchange.status = 403
                record(exchange)
                shared.metrics.blocked.add(1, ordering: .relaxed)
                // The state changes first: closing the origin reports back here at once.
                state = .discarding(closeAfter: true)
                origin.close(promise: nil)
                let page = ProxyPages.blockPage(site: exchange.host + (exchange.path ?? ""), decision: decision, snapshot: snapshot, contact: shared.configuration.contact)
                respond(context, .forbidden, html: page, keepAlive: false)
                context.close(promise: nil)
                return
            }
        }
        var headers = ProxyRequest.endToEnd(head.headers)
        if !exchange.keepAlive { headers.add(name: "Connection", value: "close") }
        exchange.status = UInt16(head.status.code)
        exchange.responseStarted = true
        state = .forwarding(exchange, origin: origin)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: headers))), promise: nil)
    }

    func originBody(_ context: ChannelHandlerContext, _ buffer: ByteBuffer, origin: any Channel) {
        guard case .forwarding(var exchange, _) = state else { return }
        exchange.bytesOut += Int64(buffer.readableBytes)
        state = .forwarding(exchange, origin: origin)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if !context.channel.isWritable { origin.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    }

    func originFlush(_ context: ChannelHandlerContext) {
        context.flush()
    }

    func originEnd(_ context: ChannelHandlerContext, origin: any Channel) {
        guard case .forwarding(let exchange, _) = state else { return }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        record(exchange)
        shared.metrics.bytesToClients.add(UInt64(exchange.bytesOut), ordering: .relaxed)
        state = .idle
        origin.close(promise: nil)
        if !exchange.keepAlive { context.close(promise: nil) }
    }

    /// The origin went away before its response ended.
    func originClosed(_ context: ChannelHandlerContext) {
        guard case .forwarding(var exchange, _) = state else { return }
        state = .idle
        if exchange.responseStarted {
            record(exchange)
            context.close(promise: nil)
        } else {
            exchange.status = 502
            record(exchange)
            respond(context, .badGateway, html: ProxyPages.message(.badGateway, "The site closed the connection without answering."), keepAlive: false)
            context.close(promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .forwarding(_, let origin) = state {
            origin.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        }
        context.fireChannelWritabilityChanged()
    }

    /// A request the HTTP decoder refused (smuggling framings, obsolete line folding, a head over
    /// its limit): the protocol error handler has answered 400; the connection ends.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        shared.metrics.refused.add(1, ordering: .relaxed)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .forwarding(_, let origin): origin.close(promise: nil)
        default: break
        }
        state = .idle
        context.fireChannelInactive()
    }

    // MARK: Tunnels

    private func connectTunnel(
        _ context: ChannelHandlerContext, host: String, port: Int, exchange: Exchange, subject: Subject, zone: Int32,
        instant: Int64
    ) {
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        originBootstrap(context)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.autoRead, value: false)
            .connect(host: host, port: port)
            .whenComplete { result in
                loopBoundSelf.value.tunnelConnected(
                    loopBoundContext.value, result: result, subject: subject, zone: zone, instant: instant)
            }
    }

    private func tunnelConnected(
        _ context: ChannelHandlerContext, result: Result<any Channel, any Error>, subject: Subject, zone: Int32,
        instant: Int64
    ) {
        guard case .connecting(var exchange, _) = state else {
            if case .success(let origin) = result { origin.close(promise: nil) }
            return
        }
        switch result {
        case .failure(let error):
            exchange.status = 502
            record(exchange)
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            respond(context, .badGateway, html: ProxyPages.message(.badGateway, "The site could not be reached (\(error))."), keepAlive: false)
            state = .discarding(closeAfter: true)
            context.close(promise: nil)
        case .success(let origin):
            state = .tunnelling
            exchange.status = 200
            // The HTTP codec leaves; bytes the client sent after the CONNECT go to the peek handler.
            let peek = TunnelPeekHandler(
                shared: shared, client: client, exchange: exchange, origin: origin, subject: subject, zone: zone,
                instant: instant)
            do {
                let sync = context.pipeline.syncOperations
                try sync.addHandler(peek, position: .after(codec.decoder))
                _ = sync.removeHandler(codec.errors)
                _ = sync.removeHandler(codec.pipelining)
                _ = sync.removeHandler(codec.encoder)
                _ = sync.removeHandler(context: context)
                var established = context.channel.allocator.buffer(capacity: 64)
                established.writeString("HTTP/1.1 200 Connection established\r\n\r\n")
                context.channel.writeAndFlush(established, promise: nil)
                _ = sync.removeHandler(codec.decoder)
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            } catch {
                origin.close(promise: nil)
                context.close(promise: nil)
            }
        }
    }

    // MARK: Activity

    func record(_ exchange: Exchange) {
        shared.recorder.record(exchange.event(client: client))
    }
}

extension ProxyHandler.Exchange {
    /// The activity event: one per request or tunnel, with bytes each way and the time taken.
    func event(client: IPAddress) -> ActivityEvent {
        let elapsed = (NIODeadline.now() - started).nanoseconds / 1000
        return ActivityEvent(
            time: Int64(Date.now.timeIntervalSince1970 * 1e9), source: .proxy, client: client, personID: personID,
            name: host, method: method, path: path, decision: decision, snapshot: snapshot, responseCode: status,
            latencyMicros: UInt32(clamping: max(0, elapsed)), bytesIn: bytesIn, bytesOut: bytesOut)
    }
}

/// The origin side of a forwarded request: the response's parts go back through the proxy handler.
final class OriginResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    let proxy: ProxyHandler
    let clientContext: ChannelHandlerContext

    init(proxy: ProxyHandler, clientContext: ChannelHandlerContext) {
        self.proxy = proxy
        self.clientContext = clientContext
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): proxy.originHead(clientContext, head, origin: context.channel)
        case .body(let buffer): proxy.originBody(clientContext, buffer, origin: context.channel)
        case .end: proxy.originEnd(clientContext, origin: context.channel)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        proxy.originFlush(clientContext)
    }

    func channelInactive(context: ChannelHandlerContext) {
        proxy.originClosed(clientContext)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
