import Logging
import NIOCore

/// The TCP retry of an attempt whose UDP answer was truncated (RFC 7766 5): one query on a new
/// connection, 2-octet length framing both ways (RFC 1035 4.2.2, RFC 7766 8), the connection
/// closed after the answer. Completes `promise` once: with the first acceptable response, with
/// `.malformed` for an unreadable one (TCP responses cannot be forged off-path the way datagrams
/// can), or with a failure on timeout, error or early close.
///
/// Not `Sendable`: it lives on its channel's event loop.
final class UpstreamTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let query: UpstreamQuery
    private let timeout: TimeAmount
    private let promise: EventLoopPromise<UpstreamAttemptResult>
    private let metrics: UpstreamMetrics
    private let logger: Logger
    private var timer: Scheduled<Void>?
    private var finished = false

    init(
        query: UpstreamQuery, timeout: TimeAmount, promise: EventLoopPromise<UpstreamAttemptResult>,
        metrics: UpstreamMetrics, logger: Logger
    ) {
        self.query = query
        self.timeout = timeout
        self.promise = promise
        self.metrics = metrics
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.finish(.failed(.timeout), context: context)
        }
        if context.channel.isActive { send(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        finish(.failed(.transport("TCP connection closed")), context: nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        switch query.evaluate(unwrapInboundIn(data), from: nil) {
        case .accept(let response):
            finish(.answer(response), context: context)
        case .ignore(let reason):
            metrics.recordIgnored()
            logger.debug("ignored a TCP message", metadata: ["upstream": "\(query.upstream)", "reason": "\(reason)"])
        case .malformed(let reason):
            finish(.failed(.malformed(reason)), context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failed(.transport("TCP to \(query.upstream): \(error)")), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failed(.transport("TCP connection to \(query.upstream) closed before the answer")), context: context)
        context.fireChannelInactive()
    }

    private func send(context: ChannelHandlerContext) {
        var framed = context.channel.allocator.buffer(capacity: query.wire.readableBytes + 2)
        framed.writeInteger(UInt16(truncatingIfNeeded: query.wire.readableBytes))
        framed.writeImmutableBuffer(query.wire)
        context.writeAndFlush(wrapOutboundOut(framed)).assumeIsolated().whenFailure { error in
            self.finish(.failed(.transport("sending to \(self.query.upstream): \(error)")), context: context)
        }
    }

    private func finish(_ result: UpstreamAttemptResult, context: ChannelHandlerContext?) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        promise.succeed(result)
        context?.close(promise: nil)
    }
}
