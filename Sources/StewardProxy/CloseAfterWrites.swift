import NIOCore

/// First in a connection's pipeline (next to the socket): a close asked for by any handler, or by
/// the idle timer, waits until every write queued before it has been handed to the kernel.
///
/// NIO's own close drops queued writes: a full close fails them, and so does a half-close of a
/// channel whose input has already ended (NIO turns it into a full close). Without this, a
/// client that read slower than the proxy wrote would lose the tail of an answer whenever the
/// connection was closed after it: a tunnel whose origin finished, a download answered with
/// `Connection: close`, a block page. An empty write completes after the writes queued before it,
/// in order; the close follows it.
///
/// A peer that stops reading cannot hold the connection: a full close goes ahead after `grace`
/// (the proxy's idle timeout) regardless. A half-close has no such bound of its own: the other
/// direction may still be busy, and a connection on which nothing moves at all is closed by the
/// idle timer, in full, and so within `grace` after that.
final class CloseAfterWrites: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    let grace: TimeAmount

    init(grace: TimeAmount) {
        self.grace = grace
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode != .input, context.channel.isActive else {
            context.close(mode: mode, promise: promise)
            return
        }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let forced =
            mode == .all
            ? context.eventLoop.scheduleTask(in: grace) { loopBound.value.close(mode: .all, promise: nil) } : nil
        context.writeAndFlush(NIOAny(ByteBuffer())).whenComplete { _ in
            forced?.cancel()
            loopBound.value.close(mode: mode, promise: promise)
        }
    }
}
