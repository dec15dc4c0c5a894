import NIOCore
import StewardPolicy

/// UDP: one datagram in, at most one out. Cache hits and blocks are answered synchronously on the
/// event loop; forwarded queries are written when the upstream answers.
final class DNSUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let filter: DNSFilter
    private var snapshots: SnapshotHolder.Reader
    private var flushScheduled = false

    init(filter: DNSFilter, snapshots: SnapshotHolder) {
        self.filter = filter
        self.snapshots = SnapshotHolder.Reader(snapshots)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let client = IPAddress(envelope.remoteAddress) else { return }
        let remote = envelope.remoteAddress
        switch filter.handle(
            envelope.data, from: client, transport: .udp, snapshot: snapshots.current(), eventLoop: context.eventLoop)
        {
        case .respond(let buffer):
            context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: buffer)), promise: nil)
        case .drop:
            break
        case .later(let future):
            let channel = context.channel
            // The filter completes forwarded queries on this channel's event loop.
            future.hop(to: channel.eventLoop).assumeIsolated().whenSuccess { buffer in
                guard let buffer else { return }
                self.writeLater(AddressedEnvelope(remoteAddress: remote, data: buffer), on: channel)
            }
        }
    }

    /// Writes an answer that came from upstream and flushes once for all the answers completed in
    /// this event-loop tick (upstream answers arrive in bursts too), so they leave in one vector
    /// write rather than one system call each.
    private func writeLater(_ envelope: AddressedEnvelope<ByteBuffer>, on channel: any Channel) {
        channel.write(envelope, promise: nil)
        guard !flushScheduled else { return }
        flushScheduled = true
        channel.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            channel.flush()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A send to a vanished client (ICMP unreachable) must not close the server socket.
    }
}

@available(*, unavailable)
extension DNSUDPHandler: Sendable {}
