import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import StewardActivity
import StewardPolicy

/// Decides and serves each request of one client connection. A refused or blocked request is never
/// forwarded. An allowed `http://` request goes to its origin over a kept-alive connection from
/// this event loop's pool, or a new one (on this event loop, so the relay needs no locks), and the
/// response comes back through here; an allowed CONNECT becomes a tunnel whose TLS ClientHello is
/// read before any byte reaches the origin.
///
/// Timeouts: a complete request head must arrive within `requestHeadTimeout` of the connection
/// opening or the previous response ending (a client trickling a head byte by byte is cut off),
/// and the origin's response head within `responseTimeout` of the request's end; the idle timeout
/// covers everything else.
final class ProxyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    struct Codec {
        let decoder: ByteToMessageHandler<HTTPRequestDecoder>
        let encoder: HTTPResponseEncoder
        let pipelining: HTTPServerPipelineHandler
        let errors: ProxyProtocolErrors
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
        /// The client speaks HTTP/1.1 or later (else 1.0: no chunked responses, no 1xx).
        var clientHTTP11 = true
        var status: UInt16 = 0
        var bytesIn: Int64 = 0
        var bytesOut: Int64 = 0
        var responseStarted = false
        /// The origin connection's pool key, the head sent, and whether the connection came from
        /// the pool (a pooled connection the origin closed before answering is retried once).
        var origin: OriginPool.Key? = nil
        var originHead: HTTPRequestHead? = nil
        var reused = false
        /// The whole request has been passed to the origin.
        var requestEnded = false
        /// The origin's response lets its connection be used again.
        var originKeepAlive = false
    }

    private enum State {
        case idle
        /// Refused or blocked: the rest of the request is read and dropped.
        case discarding(closeAfter: Bool)
        /// Waiting for the directory to check a proxy login; request parts are held.
        case authenticating(HTTPRequestHead, ProxyRequest, held: [HTTPServerRequestPart])
        /// Waiting for the origin connection; request parts are held.
        case connecting(Exchange, held: [HTTPServerRequestPart])
        case forwarding(Exchange, origin: OriginLink)
        case tunnelling
    }

    let shared: ProxyShared
    let client: IPAddress
    let codec: Codec
    let pool: OriginPool
    private var state: State = .idle
    private var timer: Scheduled<Void>?
    /// The request being answered is a HEAD: the proxy's own responses to it (block page,
    /// refusals) carry their length but no body (RFC 9110 §9.3.2).
    private var headRequest = false
    /// The client half-closed: once what it asked for is answered, the connection closes (it would
    /// otherwise hold a place until the idle timeout).
    private var clientFinished = false
    /// The Proxy-Authorization value this connection proved, and whose it is.
    private var login: (authorization: String, person: Person, expires: Int64)?

    init(shared: ProxyShared, client: IPAddress, codec: Codec, pool: OriginPool) {
        self.shared = shared
        self.client = client
        self.codec = codec
        self.pool = pool
    }

    func handlerAdded(context: ChannelHandlerContext) {
        awaitRequest(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    // MARK: Timers

    private func schedule(_ context: ChannelHandlerContext, in amount: TimeAmount, _ body: @escaping (ProxyHandler, ChannelHandlerContext) -> Void) {
        timer?.cancel()
        let loopBound = NIOLoopBound((self, context, body), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: amount) {
            let (handler, context, body) = loopBound.value
            handler.timer = nil
            body(handler, context)
        }
    }

    /// The next request head must be complete in time.
    private func awaitRequest(_ context: ChannelHandlerContext) {
        schedule(context, in: shared.configuration.requestHeadTimeout) { _, context in
            context.close(promise: nil)
        }
    }

    /// Why the client's bytes are not read now; reading goes on when there is no reason left.
    enum ReadHold {
        /// The request waits for the directory (proxy login) or for its origin connection.
        case waiting
        /// The origin cannot take the upload faster: it is read as fast as the origin takes it.
        case origin
        /// The client does not take its answers: no more of its (pipelined) requests are read.
        case client
    }

    private var readHolds: Set<ReadHold> = []

    private func hold(_ reason: ReadHold, _ on: Bool, _ context: ChannelHandlerContext) {
        let reading = readHolds.isEmpty
        if on { readHolds.insert(reason) } else { readHolds.remove(reason) }
        if reading != readHolds.isEmpty {
            context.channel.setOption(ChannelOptions.autoRead, value: readHolds.isEmpty).whenComplete { _ in }
        }
    }

    /// The origin being uploaded to can take more.
    func originWritable(_ context: ChannelHandlerContext) {
        hold(.origin, false, context)
    }

    private func becomeIdle(_ context: ChannelHandlerContext) {
        state = .idle
        hold(.origin, false, context)
        if clientFinished {
            // After the writes this turn of the loop queues (a response's end): `CloseAfterWrites`
            // lets them go out first.
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.execute { loopBound.value.close(promise: nil) }
            return
        }
        awaitRequest(context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            clientFinished = true
            if case .idle = state { becomeIdle(context) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.idle, .head(let head)):
            timer?.cancel()
            timer = nil
            begin(context, head)
        case (.idle, _):
            break
        case (.discarding(let closeAfter), .end):
            if closeAfter { context.close(promise: nil) } else { becomeIdle(context) }
        case (.discarding, _):
            break
        case (.authenticating(let head, let request, var held), _):
            held.append(part)
            state = .authenticating(head, request, held: held)
        case (.connecting(let exchange, var held), _):
            held.append(part)
            state = .connecting(exchange, held: held)
        case (.forwarding(var exchange, let origin), .body(let buffer)):
            exchange.bytesIn += Int64(buffer.readableBytes)
            state = .forwarding(exchange, origin: origin)
            // Passed on as it comes (flushed at the end of each read), and read no faster than
            // the origin takes it: an upload is never held whole in memory.
            origin.channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
            if !origin.channel.isWritable { hold(.origin, true, context) }
        case (.forwarding(var exchange, let origin), .end):
            exchange.requestEnded = true
            state = .forwarding(exchange, origin: origin)
            // A request's trailer fields are not passed on (as squid): nothing decided them, and a
            // Host or framing field there would reach the origin unchecked (RFC 9110 §6.5.1).
            origin.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            if !exchange.responseStarted { awaitResponse(context) }
        case (.forwarding, .head), (.tunnelling, _):
            break
        }
    }

    private func begin(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        headRequest = head.method == .HEAD
        let request: ProxyRequest
        switch ProxyRequest.classify(head, connectPorts: shared.configuration.connectPorts) {
        case .failure(let refusal):
            shared.metrics.refused.add(1, ordering: .relaxed)
            state = .discarding(closeAfter: true)
            respond(context, refusal.status, html: ProxyPages.message(refusal.status, refusal.reason), keepAlive: false)
            return
        case .success(.local(let path)):
            serveLocal(context, head: head, path: path)
            return
        case .success(let other):
            request = other
        }
        // An address in the target is refused before anything connects (a name, once connected).
        if let literal = request.literalDestination, let reason = shared.unreachableReason(literal) {
            shared.metrics.refused.add(1, ordering: .relaxed)
            state = .discarding(closeAfter: true)
            respond(context, .forbidden, html: ProxyPages.message(.forbidden, "Not forwarded: \(reason)."), keepAlive: false)
            return
        }
        guard let authentication = shared.configuration.authentication else {
            decide(context, head, request, login: nil)
            return
        }
        guard let authorization = head.headers["Proxy-Authorization"].first else {
            if authentication.mode == .required {
                challenge(context, head, "Sign in with your district username and password to use the web.")
            } else {
                decide(context, head, request, login: nil)
            }
            return
        }
        let now = unixNow()
        if let login, login.authorization == authorization, login.expires > now {
            decide(context, head, request, login: login.person)
            return
        }
        if let person = shared.logins.person(for: authorization, now: now) {
            login = (authorization, person, now + ProxyLogins.lifetime)
            decide(context, head, request, login: person)
            return
        }
        guard let (user, password) = ProxyLogins.basicCredentials(authorization) else {
            challenge(context, head, "The proxy takes Basic sign-in with your district username and password.")
            return
        }
        // The directory checks the password off this event loop; the request waits, unread.
        state = .authenticating(head, request, held: [])
        hold(.waiting, true, context)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let client = self.client
        let eventLoop = context.eventLoop
        Task {
            let result = await authentication.verify(user, password, client)
            eventLoop.execute {
                let (handler, context) = loopBound.value
                handler.authenticated(context, authorization: authorization, result: result)
            }
        }
    }

    private func authenticated(_ context: ChannelHandlerContext, authorization: String, result: ProxyLoginResult) {
        guard case .authenticating(let head, let request, let held) = state else { return }
        hold(.waiting, false, context)
        switch result {
        case .person(let person):
            let expires = unixNow() + ProxyLogins.lifetime
            login = (authorization, person, expires)
            shared.logins.remember(authorization, person: person, expires: expires)
            state = .idle
            decide(context, head, request, login: person)
            // Parts that arrived while the password was checked, in order.
            for part in held { channelRead(context: context, data: NIOAny(part)) }
        case .rejected:
            challenge(context, head, "That username and password do not match.", ended: held.contains(where: Self.isEnd))
        case .lockedOut:
            shared.metrics.refused.add(1, ordering: .relaxed)
            state = .discarding(closeAfter: true)
            respond(context, .tooManyRequests, html: ProxyPages.message(.tooManyRequests, "Too many failed sign-ins. Try again later, or ask the office."), keepAlive: false)
            if held.contains(where: Self.isEnd) { context.close(promise: nil) }
        }
    }

    private static func isEnd(_ part: HTTPServerRequestPart) -> Bool {
        if case .end = part { return true } else { return false }
    }

    /// 407: the client must sign in to the proxy (browsers ask the person and repeat the request).
    /// `ended`: the request's end has been read already.
    private func challenge(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ text: String, ended: Bool = false) {
        shared.metrics.refused.add(1, ordering: .relaxed)
        let realm = shared.configuration.authentication?.realm ?? "district"
        var headers = HTTPHeaders()
        headers.add(name: "Proxy-Authenticate", value: "Basic realm=\"\(realm.replacingOccurrences(of: "\"", with: "'"))\", charset=\"UTF-8\"")
        let keepAlive = head.isKeepAlive && !Self.hasBody(head)
        // The state first: writing the response's end hands over the next pipelined request.
        if ended, keepAlive {
            becomeIdle(context)
        } else {
            state = .discarding(closeAfter: !keepAlive)
        }
        respond(context, .proxyAuthenticationRequired, html: ProxyPages.message(.proxyAuthenticationRequired, text), keepAlive: keepAlive, extra: headers)
    }

    private static func hasBody(_ head: HTTPRequestHead) -> Bool {
        !head.headers["Content-Length"].allSatisfy({ ProxyRequest.trimmedOWS($0[...]) == "0" })
            || !head.headers["Transfer-Encoding"].isEmpty
    }

    /// Decides the request for the person behind it (the proxy login, else the address's session,
    /// else the network zone) and blocks, tunnels or forwards it.
    private func decide(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ request: ProxyRequest, login: Person?) {
        let snapshot = shared.snapshots.snapshot
        let instant = unixNow()
        let zone = snapshot.zone(for: client)
        let (subject, person) =
            login.map { (snapshot.subject(for: $0), $0) }
            ?? shared.identities.subject(at: client, zone: zone, snapshot: snapshot, now: instant)
        switch request {
        case .local:
            break
        case .tunnel(let host, let address, let port):
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
                state = .discarding(closeAfter: true)
                respond(context, .forbidden, html: ProxyPages.message(.forbidden, text), keepAlive: false)
                return
            }
            state = .connecting(exchange, held: [])
            connectTunnel(context, host: address?.description ?? host, port: port, exchange: exchange, subject: subject, zone: zone, instant: instant)
        case .forward(let target, let originForm):
            // The URL's categories; for an address also the address's own (network entries).
            let categories = snapshot.lists.categories(ofHost: target.host, normalizedPath: target.path)
            let decision = snapshot.decide(categories: categories, subject: subject, zone: zone, at: instant, file: target.fileInfo)
            var exchange = Exchange(
                started: .now(), method: head.method.rawValue, host: target.host, path: originForm, decision: decision,
                snapshot: snapshot, personID: person?.id, subject: subject, zone: zone,
                fileExtension: target.fileInfo?.fileExtension, keepAlive: head.isKeepAlive)
            exchange.clientHTTP11 = head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1)
            guard decision.action != .block else {
                exchange.status = 403
                record(exchange)
                shared.metrics.blocked.add(1, ordering: .relaxed)
                let page = ProxyPages.blockPage(
                    site: target.host + originForm, host: target.host, decision: decision, snapshot: snapshot,
                    contact: shared.configuration.contact, reviewURL: shared.configuration.reviewURL)
                let hasBody = Self.hasBody(head)
                state = .discarding(closeAfter: !head.isKeepAlive || hasBody)
                respond(context, .forbidden, html: page, keepAlive: head.isKeepAlive && !hasBody)
                return
            }
            shared.metrics.allowed.add(1, ordering: .relaxed)
            if ProxyRequest.maxForwards(head) == 0 {
                // The proxy is the last recipient (RFC 9110 §7.6.2): it answers itself.
                exchange.status = 200
                record(exchange)
                answerFinalRecipient(context, head)
                return
            }
            exchange.origin = OriginPool.Key(host: target.address?.description ?? target.host, port: target.port ?? 80)
            exchange.originHead = ProxyRequest.originHead(head, target: target, originForm: originForm)
            state = .connecting(exchange, held: [])
            connectOrigin(context, exchange: exchange)
        }
    }

    /// A TRACE or OPTIONS with `Max-Forwards: 0`: OPTIONS is told what the proxy takes, TRACE gets
    /// the request as received (without its proxy credentials) as `message/http`.
    private func answerFinalRecipient(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        var headers = HTTPHeaders()
        ProxyRequest.addVia(to: &headers, received: head.version)
        let keepAlive = head.isKeepAlive && !Self.hasBody(head)
        state = .discarding(closeAfter: !keepAlive)
        guard head.method == .TRACE else {
            headers.add(name: "Allow", value: "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH, CONNECT")
            respond(context, .ok, body: "", type: nil, keepAlive: keepAlive, extra: headers)
            return
        }
        var echoed = "\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)\r\n"
        for (name, value) in head.headers where !ProxyRequest.equalsIgnoringASCIICase("proxy-authorization", name) {
            echoed += "\(name): \(value)\r\n"
        }
        respond(context, .ok, body: echoed + "\r\n", type: "message/http", keepAlive: keepAlive, extra: headers)
    }

    private func serveLocal(_ context: ChannelHandlerContext, head: HTTPRequestHead, path: String) {
        let bare = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        guard bare == "/proxy.pac" || bare == "/wpad.dat" else {
            state = .discarding(closeAfter: true)
            respond(context, .badRequest, html: ProxyPages.message(.badRequest, "This is the district's web proxy; configure it as your proxy (PAC: /proxy.pac)."), keepAlive: false)
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
        state = .discarding(closeAfter: !head.isKeepAlive)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// A complete response the proxy makes itself; without keep-alive the connection is closed
    /// once it is written (the rest of a refused request is never read).
    private func respond(
        _ context: ChannelHandlerContext, _ status: HTTPResponseStatus, html: String, keepAlive: Bool,
        extra: HTTPHeaders = HTTPHeaders()
    ) {
        respond(context, status, body: html, type: "text/html; charset=utf-8", keepAlive: keepAlive, extra: extra)
    }

    /// `respond` with a body of any type (none when `body` is empty and `type` nil).
    private func respond(
        _ context: ChannelHandlerContext, _ status: HTTPResponseStatus, body: String, type: String?, keepAlive: Bool,
        extra: HTTPHeaders
    ) {
        var headers = extra
        if let type { headers.add(name: "Content-Type", value: type) }
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Cache-Control", value: "no-store")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !body.isEmpty, !headRequest {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
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

    /// A kept-alive connection to the origin if the pool has one, else a new one.
    private func connectOrigin(_ context: ChannelHandlerContext, exchange: Exchange, fresh: Bool = false) {
        guard let key = exchange.origin else { return }
        if !fresh, let link = pool.take(key) {
            link.handler.attach(proxy: self, clientContext: context)
            originConnected(context, result: .success(link), reused: true)
            return
        }
        hold(.waiting, true, context)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        originBootstrap(context)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let (handler, context) = loopBound.value
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ReadThrottle(limiter: handler.shared.limiter))
                    try sync.addHandler(HTTPRequestEncoder())
                    try sync.addHandler(
                        ByteToMessageHandler(
                            HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .forward)))
                    try sync.addHandler(OriginResponseHandler(proxy: handler, clientContext: context))
                }
            }
            .connect(host: key.host, port: key.port)
            .whenComplete { result in
                let (handler, context) = loopBound.value
                let link = result.flatMap { channel in
                    Result {
                        let sync = channel.pipeline.syncOperations
                        return OriginLink(
                            channel: channel, handler: try sync.handler(type: OriginResponseHandler.self),
                            throttle: try sync.handler(type: ReadThrottle.self))
                    }
                }
                handler.originConnected(context, result: link, reused: false)
            }
    }

    private func originConnected(_ context: ChannelHandlerContext, result: Result<OriginLink, any Error>, reused: Bool) {
        guard case .connecting(var exchange, let held) = state else {
            if case .success(let link) = result {
                link.handler.detach()
                link.channel.close(promise: nil)
            }
            return
        }
        hold(.waiting, false, context)
        switch result {
        case .failure(let error):
            // 503, as squid's ERR_CONNECT_FAIL and ERR_DNS_FAIL: no origin answered anything.
            exchange.status = 503
            record(exchange)
            let complete = held.contains(where: Self.isEnd)
            state = .discarding(closeAfter: true)
            respond(
                context, .serviceUnavailable,
                html: ProxyPages.message(.serviceUnavailable, "The site could not be reached (\(error))."), keepAlive: false)
            if complete { context.close(promise: nil) }
        case .success(let link):
            if let reason = shared.unreachableReason(link.channel.remoteAddress) {
                link.handler.detach()
                link.channel.close(promise: nil)
                exchange.status = 403
                record(exchange)
                shared.metrics.refused.add(1, ordering: .relaxed)
                let complete = held.contains(where: Self.isEnd)
                state = .discarding(closeAfter: true)
                respond(context, .forbidden, html: ProxyPages.message(.forbidden, "Not forwarded: \(reason)."), keepAlive: false)
                if complete { context.close(promise: nil) }
                return
            }
            if let blocked = resolvedBlock(exchange, remote: link.channel.remoteAddress) {
                link.handler.detach()
                link.channel.close(promise: nil)
                exchange.decision = blocked
                exchange.status = 403
                record(exchange)
                shared.metrics.blocked.add(1, ordering: .relaxed)
                let page = blockPage(exchange, blocked)
                let complete = held.contains(where: Self.isEnd)
                state = .discarding(closeAfter: true)
                respond(context, .forbidden, html: page, keepAlive: false)
                if complete { context.close(promise: nil) }
                return
            }
            exchange.reused = reused
            link.throttle.key = shared.throttleKey(exchange, client: client)
            if let head = exchange.originHead { link.channel.write(HTTPClientRequestPart.head(head), promise: nil) }
            for part in held {
                switch part {
                case .body(let buffer):
                    exchange.bytesIn += Int64(buffer.readableBytes)
                    link.channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
                case .end:
                    exchange.requestEnded = true
                    link.channel.write(HTTPClientRequestPart.end(nil), promise: nil)
                case .head:
                    break
                }
            }
            link.channel.flush()
            state = .forwarding(exchange, origin: link)
            if exchange.requestEnded { awaitResponse(context) }
        }
    }

    /// The block page for `exchange`'s site (host and path) blocked by `decision`.
    private func blockPage(_ exchange: Exchange, _ decision: Decision) -> String {
        ProxyPages.blockPage(
            site: exchange.host + (exchange.path ?? ""), host: exchange.host, decision: decision,
            snapshot: exchange.snapshot, contact: shared.configuration.contact, reviewURL: shared.configuration.reviewURL)
    }

    /// The destination decided again with the listed categories of the address the name resolved
    /// to (a listed address, or one in a listed network; never the built-in `ip-address`), as
    /// squid's `dst` ACLs do: a name that points at a listed address, such as a wildcard-DNS name
    /// (`203.0.113.7.nip.io`), does not get around the listing. The new decision when it blocks,
    /// else nil.
    private func resolvedBlock(_ exchange: Exchange, remote: SocketAddress?) -> Decision? {
        guard exchange.decision.action != .block, let text = remote?.ipAddress, let address = IPAddress(text) else {
            return nil
        }
        let listed = exchange.snapshot.lists.listedCategories(ofAddress: address)
        let added = listed.subtracting(exchange.decision.categories)
        guard !added.isEmpty else { return nil }
        let decision = exchange.snapshot.decide(
            categories: exchange.decision.categories.union(added), subject: exchange.subject, zone: exchange.zone,
            at: unixNow(), file: exchange.fileExtension.map { FileInfo(fileExtension: $0, mimeType: nil) })
        return decision.action == .block ? decision : nil
    }

    /// The origin's response head must come within `responseTimeout` of the request's end (an
    /// upload may take longer; while it moves, the idle timeout is the only bound).
    private func awaitResponse(_ context: ChannelHandlerContext) {
        schedule(context, in: shared.configuration.responseTimeout) { handler, context in
            handler.originTimedOut(context)
        }
    }

    private func originTimedOut(_ context: ChannelHandlerContext) {
        guard case .forwarding(var exchange, let link) = state, !exchange.responseStarted else { return }
        exchange.status = 504
        answerInstead(
            context, exchange, link, .gatewayTimeout,
            html: ProxyPages.message(.gatewayTimeout, "The site did not answer in time."))
    }

    /// Drops `exchange`'s origin connection and answers the client with `status` and `html`
    /// itself, then closes; the exchange (its status set) is recorded. The state changes first:
    /// closing the origin would report back here at once.
    private func answerInstead(
        _ context: ChannelHandlerContext, _ exchange: Exchange, _ link: OriginLink, _ status: HTTPResponseStatus,
        html: String
    ) {
        state = .discarding(closeAfter: true)
        link.handler.detach()
        link.channel.close(promise: nil)
        record(exchange)
        respond(context, status, html: html, keepAlive: false)
    }

    /// The response of `origin`, if it is the one this handler is being served by.
    private func current(_ origin: any Channel) -> (Exchange, OriginLink)? {
        guard case .forwarding(let exchange, let link) = state, link.channel === origin else { return nil }
        return (exchange, link)
    }

    /// From the origin: the response's head. A MIME type the policy blocks (downloads, R4) gets the
    /// block page instead, and the origin connection is dropped.
    func originHead(_ context: ChannelHandlerContext, _ head: HTTPResponseHead, origin: any Channel) {
        guard case (var exchange, let link)? = current(origin) else { return }
        if let problem = ProxyRequest.unusableResponse(head) {
            // As squid: 502, and the origin connection is dropped.
            timer?.cancel()
            timer = nil
            exchange.status = 502
            answerInstead(
                context, exchange, link, .badGateway,
                html: ProxyPages.message(.badGateway, "The site's answer could not be read: \(problem)."))
            return
        }
        // An interim response (100 Continue, 103 Early Hints) goes on to the client (RFC 9110
        // §15.2), unless it speaks HTTP/1.0, which has none.
        if head.status.code < 200 {
            if exchange.clientHTTP11 {
                let interim = HTTPResponseHead(version: .http1_1, status: head.status, headers: ProxyRequest.endToEnd(head.headers))
                context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
                // An origin that sends interim answers without end waits for the client like a body.
                if !context.channel.isWritable { link.throttle.heldByClient = true }
            }
            return
        }
        timer?.cancel()
        timer = nil
        // Every media type the response names is decided: a browser takes the last valid one of
        // several (Fetch, "extract a MIME type"), so none may hide behind another.
        let mimeTypes = ProxyRequest.mediaTypes(head.headers)
        // The file the browser will save: the name Content-Disposition gives it wins over the
        // path's (`/download?id=7` answered as `setup.exe`).
        // Every name it may be saved under counts: a download is blocked when any is.
        let named = ProxyRequest.dispositionFileExtensions(head.headers)
        if !mimeTypes.isEmpty || !named.isEmpty {
            let snapshot = exchange.snapshot
            let now = unixNow()
            let types: [String?] = mimeTypes.isEmpty ? [nil] : mimeTypes
            let extensions: [String?] = named.isEmpty ? [exchange.fileExtension] : named
            let candidates = extensions.flatMap { ext in types.map { (ext, $0) } }
            let blocked = candidates.lazy.map { ext, mimeType in
                snapshot.decide(
                    categories: exchange.decision.categories, subject: exchange.subject, zone: exchange.zone,
                    at: now, file: FileInfo(fileExtension: ext, mimeType: mimeType))
            }.first { $0.action == .block }
            if let decision = blocked {
                exchange.decision = decision
                exchange.status = 403
                shared.metrics.blocked.add(1, ordering: .relaxed)
                answerInstead(context, exchange, link, .forbidden, html: blockPage(exchange, decision))
                return
            }
        }
        exchange.originKeepAlive = head.isKeepAlive
        // The framing is the proxy's (the encoder adds none): a response without a body (to HEAD,
        // 1xx, 204, 304) keeps the origin's Content-Length and gets no chunked terminator; one with
        // a length keeps it; one without is chunked to an HTTP/1.1 client and ends with the
        // connection for an HTTP/1.0 client.
        var headers = ProxyRequest.endToEnd(head.headers)
        let bodiless = exchange.method == "HEAD" || !head.status.mayHaveResponseBody
        if !bodiless, !headers.contains(name: "Content-Length") {
            if exchange.clientHTTP11 {
                headers.add(name: "Transfer-Encoding", value: "chunked")
            } else {
                exchange.keepAlive = false
            }
        }
        if !exchange.keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if !exchange.clientHTTP11 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        ProxyRequest.addVia(to: &headers, received: head.version)
        exchange.status = UInt16(head.status.code)
        exchange.responseStarted = true
        state = .forwarding(exchange, origin: link)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: headers))), promise: nil)
    }

    func originBody(_ context: ChannelHandlerContext, _ buffer: ByteBuffer, origin: any Channel) {
        guard case (var exchange, let link)? = current(origin), exchange.responseStarted else { return }
        exchange.bytesOut += Int64(buffer.readableBytes)
        state = .forwarding(exchange, origin: link)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if !context.channel.isWritable { link.throttle.heldByClient = true }
    }

    func originFlush(_ context: ChannelHandlerContext) {
        context.flush()
    }

    func originEnd(_ context: ChannelHandlerContext, origin: any Channel) {
        guard let (exchange, link) = current(origin), exchange.responseStarted else { return }
        record(exchange)
        shared.metrics.bytesToClients.add(UInt64(exchange.bytesOut), ordering: .relaxed)
        if exchange.requestEnded, exchange.originKeepAlive, let key = exchange.origin {
            pool.park(link, key: key)
        } else {
            link.handler.detach()
            origin.close(promise: nil)
        }
        // The state first: writing the response's end hands over the next pipelined request
        // (`HTTPServerPipelineHandler`), which must find this handler ready for it.
        if exchange.keepAlive {
            becomeIdle(context)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            state = .discarding(closeAfter: true)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.close(promise: nil)
        }
    }

    /// The origin went away before its response ended. A kept-alive connection the origin had
    /// closed just as it was reused is tried again once on a new one, when nothing of the response
    /// came and the request can be repeated safely.
    func originClosed(_ context: ChannelHandlerContext, origin: any Channel) {
        guard var (exchange, _) = current(origin) else { return }
        timer?.cancel()
        timer = nil
        let idempotent = ["GET", "HEAD", "OPTIONS"].contains(exchange.method)
        if exchange.reused, !exchange.responseStarted, idempotent, exchange.bytesIn == 0, exchange.requestEnded {
            exchange.reused = false
            exchange.requestEnded = false
            state = .connecting(exchange, held: [.end(nil)])
            connectOrigin(context, exchange: exchange, fresh: true)
            return
        }
        state = .discarding(closeAfter: true)
        if exchange.responseStarted {
            record(exchange)
            context.close(promise: nil)
        } else {
            exchange.status = 502
            record(exchange)
            respond(context, .badGateway, html: ProxyPages.message(.badGateway, "The site closed the connection without answering."), keepAlive: false)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .forwarding(_, let link) = state {
            link.throttle.heldByClient = false
        }
        // A client that does not read its answers gets no more of its requests read (each answer,
        // a block page say, would otherwise queue in memory).
        hold(.client, !context.channel.isWritable, context)
        context.fireChannelWritabilityChanged()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .forwarding(_, let link) = state { link.channel.flush() }
        context.fireChannelReadComplete()
    }

    /// A request the HTTP decoder refused (smuggling framings, obsolete line folding, a head over
    /// its limit): `ProxyProtocolErrors` has answered it; the connection ends.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        shared.metrics.refused.add(1, ordering: .relaxed)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if case .forwarding(_, let link) = state {
            link.handler.detach()
            link.channel.close(promise: nil)
        }
        state = .idle
        context.fireChannelInactive()
    }

    // MARK: Tunnels

    private func connectTunnel(
        _ context: ChannelHandlerContext, host: String, port: Int, exchange: Exchange, subject: Subject, zone: Int32,
        instant: Int64
    ) {
        hold(.waiting, true, context)
        let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let limiter = shared.limiter
        let grace = shared.configuration.idleTimeout
        originBootstrap(context)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(CloseAfterWrites(grace: grace), ReadThrottle(limiter: limiter))
                }
            }
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
            exchange.status = 503
            record(exchange)
            hold(.waiting, false, context)
            respond(
                context, .serviceUnavailable,
                html: ProxyPages.message(.serviceUnavailable, "The site could not be reached (\(error))."), keepAlive: false)
            state = .discarding(closeAfter: true)
            context.close(promise: nil)
        case .success(let origin):
            if let reason = shared.unreachableReason(origin.remoteAddress) {
                origin.close(promise: nil)
                exchange.status = 403
                exchange.path = reason
                record(exchange)
                shared.metrics.refused.add(1, ordering: .relaxed)
                hold(.waiting, false, context)
                state = .discarding(closeAfter: true)
                respond(context, .forbidden, html: ProxyPages.message(.forbidden, "Not forwarded: \(reason)."), keepAlive: false)
                return
            }
            if let blocked = resolvedBlock(exchange, remote: origin.remoteAddress) {
                origin.close(promise: nil)
                exchange.decision = blocked
                exchange.status = 403
                record(exchange)
                shared.metrics.blocked.add(1, ordering: .relaxed)
                let text = "Blocked: \(exchange.host) — "
                    + (exchange.snapshot.clause(for: blocked).map { "\($0.section): \($0.text)" } ?? "district policy")
                hold(.waiting, false, context)
                state = .discarding(closeAfter: true)
                respond(context, .forbidden, html: ProxyPages.message(.forbidden, text), keepAlive: false)
                return
            }
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
