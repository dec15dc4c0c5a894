import Logging
import NIOCore

/// One UDP attempt on its own connected datagram socket: sends the query once the socket is up,
/// completes `promise` with the first response `UpstreamQuery.evaluate` accepts, or with a
/// failure when `timeout` passes or the socket reports an error (a connected UDP socket reports
/// ICMP port unreachable as ECONNREFUSED, which fails over at once instead of waiting).
/// Non-matching datagrams are counted and ignored (RFC 5452 9.1). The channel is closed when the
/// attempt ends, so a late answer has nowhere to go.
///
/// Not `Sendable`: it lives on its channel's event loop.
final class UpstreamUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = ByteBuffer

    private let query: UpstreamQuery
    private let timeout: TimeAmount
    private let promise: EventLoopPromise<UpstreamAttemptResult>
    private let metrics: UpstreamMetrics
    private let logger: Logger
    private var timer: Scheduled<Void>?
    private var malformed: String?
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
            // An unreadable response with the right ID explains the silence better than "timeout".
            self.finish(.failed(self.malformed.map(UpstreamAttemptFailure.malformed) ?? .timeout), context: context)
        }
        if context.channel.isActive { send(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        finish(.failed(.transport("UDP socket closed")), context: nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        let envelope = unwrapInboundIn(data)
        switch query.evaluate(envelope.data, from: envelope.remoteAddress) {
        case .accept(let response):
            finish(.answer(response), context: context)
        case .ignore(let reason):
            ignored(reason)
        case .malformed(let reason):
            malformed = reason
            ignored(reason)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failed(.transport("UDP to \(query.upstream): \(error)")), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failed(.transport("UDP socket closed")), context: context)
        context.fireChannelInactive()
    }

    private func send(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(query.wire)).assumeIsolated().whenFailure { error in
            self.finish(.failed(.transport("sending to \(self.query.upstream): \(error)")), context: context)
        }
    }

    private func ignored(_ reason: String) {
        metrics.recordIgnored()
        logger.debug("ignored a datagram", metadata: ["upstream": "\(query.upstream)", "reason": "\(reason)"])
    }

    private func finish(_ result: UpstreamAttemptResult, context: ChannelHandlerContext?) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        promise.succeed(result)
        context?.close(promise: nil)
    }
}
