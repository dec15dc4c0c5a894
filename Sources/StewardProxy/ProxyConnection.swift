import Foundation
import NIOCore
import NIOHTTP1
import StewardActivity
import StewardPolicy

/// One client connection's pipeline: idle timeout, the HTTP/1.1 server codec with pipelining
/// assistance (a second request waits until the first is answered) and protocol-error handling,
/// then the proxy handler. A client outside the served networks, or over a connection cap, gets a
/// short refusal and is closed.
enum ProxyConnection {
    static func setUp(_ channel: any Channel, shared: ProxyShared) throws {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(CloseAfterWrites(grace: shared.configuration.idleTimeout))
        guard let client = channel.remoteAddress?.ipAddress.flatMap({ IPAddress($0) }) else {
            channel.close(promise: nil)
            return
        }
        guard shared.serves(client, snapshot: shared.snapshots.snapshot) else {
            shared.metrics.refused.add(1, ordering: .relaxed)
            try sync.addHandler(RefusalHandler(status: .forbidden, text: "This proxy serves the district's networks only."))
            return
        }
        guard shared.admit(client) else {
            shared.metrics.refused.add(1, ordering: .relaxed)
            try sync.addHandler(RefusalHandler(status: .serviceUnavailable, text: "Too many connections from this address."))
            return
        }
        channel.closeFuture.whenComplete { _ in shared.release(client) }
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
        // The handler frames every response itself (HEAD, HTTP/1.0 clients): the encoder adds nothing.
        var framing = HTTPResponseEncoder.Configuration()
        framing.automaticallySetFramingHeaders = false
        let encoder = HTTPResponseEncoder(configuration: framing)
        let pipelining = HTTPServerPipelineHandler()
        let errors = ProxyProtocolErrors()
        try sync.addHandler(IdleStateHandler(allTimeout: shared.configuration.idleTimeout))
        try sync.addHandler(IdleCloser())
        try sync.addHandler(decoder)
        try sync.addHandler(encoder)
        try sync.addHandler(pipelining)
        try sync.addHandler(errors)
        try sync.addHandler(
            ProxyHandler(
                shared: shared, client: client,
                codec: ProxyHandler.Codec(decoder: decoder, encoder: encoder, pipelining: pipelining, errors: errors),
                pool: shared.pool(for: channel.eventLoop)))
    }
}

/// Closes a connection that has been idle for the configured time.
final class IdleCloser: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// Answers one short HTTP response on connect and closes (not a client, or too many connections).
final class RefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let status: HTTPResponseStatus
    let text: String

    init(status: HTTPResponseStatus, text: String) {
        self.status = status
        self.text = text
    }

    func channelActive(context: ChannelHandlerContext) {
        let body = ProxyPages.message(status, text)
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count + 128)
        buffer.writeString(
            "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nContent-Type: text/html; charset=utf-8\r\n"
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        context.writeAndFlush(NIOAny(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// Answers a request the HTTP decoder could not read, as NIO's `HTTPServerProtocolErrorHandler`
/// does, but with the status that says why (squid's answers): 431 for a header section over the
/// limit (RFC 6585 §5), 501 for a method the decoder does not know (RFC 9110 §9.1), 505 for an HTTP
/// version other than 1.x (RFC 9110 §15.6.6), 400 for the rest. Bytes after a request that asked
/// to close the connection are not a request at all: the connection just closes (RFC 9112 §9.6),
/// with no stray 400 after the response. Nothing is written while a response is under way.
final class ProxyProtocolErrors: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var responding = false

    static func status(for error: HTTPParserError) -> HTTPResponseStatus? {
        switch error {
        case .closedConnection: nil
        case .headerOverflow: .requestHeaderFieldsTooLarge
        case .invalidMethod: .notImplemented
        case .invalidVersion: .httpVersionNotSupported
        default: .badRequest
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if !responding, let status = Self.status(for: parserError) {
            let headers = HTTPHeaders([("Connection", "close"), ("Content-Length", "0")])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200: responding = true
        case .end: responding = false
        default: break
        }
        context.write(data, promise: promise)
    }
}
