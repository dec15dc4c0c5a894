import NIOCore

/// Splits a TCP byte stream into DNS messages: each is preceded by its length as a 16-bit
/// big-endian integer (RFC 1035 4.2.2, RFC 7766 8). Emits the messages without the prefix; a
/// partial message at EOF is discarded. Used by the server and by the upstream forwarder.
struct DNSTCPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
            let message = buffer.getSlice(at: buffer.readerIndex + 2, length: Int(length))
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2 + Int(length))
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// Prefixes each outgoing message with its length.
final class DNSTCPFrameEncoder: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let message = unwrapOutboundIn(data)
        var framed = context.channel.allocator.buffer(capacity: message.readableBytes + 2)
        framed.writeInteger(UInt16(truncatingIfNeeded: message.readableBytes))
        framed.writeImmutableBuffer(message)
        context.write(wrapOutboundOut(framed), promise: promise)
    }
}

@available(*, unavailable)
extension DNSTCPFrameEncoder: Sendable {}

/// Closes a connection that has been idle for the configured time (RFC 7766 6.2.3).
final class IdleConnectionCloser: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

@available(*, unavailable)
extension IdleConnectionCloser: Sendable {}

/// Bounds the time one message may take to arrive whole (RFC 7766 §10: a client trickling a
/// message byte by byte would otherwise hold its connection, and one of the server's limited
/// places, forever, since every byte resets the idle timer). Placed before the frame decoder, it
/// follows the length prefixes itself: from a message's first octet, the rest must come within
/// `limit`, or the connection is closed.
final class DNSTCPMessageDeadline: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let limit: TimeAmount
    /// Octets of the current message's length prefix read so far (0 or 1), and its first octet.
    private var prefixRead = 0
    private var prefixHigh = 0
    /// Octets of the current message still to come after its prefix.
    private var remaining = 0
    private var deadline: Scheduled<Void>?

    init(limit: TimeAmount) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        while index < end {
            if remaining > 0 {
                let taken = min(remaining, end - index)
                remaining -= taken
                index += taken
            } else if prefixRead == 0 {
                prefixHigh = Int(buffer.getInteger(at: index, as: UInt8.self)!)
                prefixRead = 1
                index += 1
            } else {
                remaining = prefixHigh << 8 | Int(buffer.getInteger(at: index, as: UInt8.self)!)
                prefixRead = 0
                index += 1
            }
        }
        let inMessage = prefixRead > 0 || remaining > 0
        if inMessage, deadline == nil {
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { [channel = context.channel] in
                channel.close(promise: nil)
            }
        } else if !inMessage {
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}

@available(*, unavailable)
extension DNSTCPMessageDeadline: Sendable {}
