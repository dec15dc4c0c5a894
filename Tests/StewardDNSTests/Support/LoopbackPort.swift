import NIOCore
import NIOPosix

/// UDP on an ephemeral 127.0.0.1 port and TCP on the same number, as a DNS server listens. Another
/// test's connection may hold that number for TCP, so both are tried again on a clash (nine tries
/// in all). `udp` and `tcp` set up each new channel's pipeline.
func bindUDPAndTCP(
    group: any EventLoopGroup,
    udp setUpUDP: @escaping @Sendable (any Channel) throws -> Void,
    tcp setUpTCP: @escaping @Sendable (any Channel) throws -> Void
) async throws -> (udp: any Channel, tcp: any Channel, port: Int) {
    var attempt = 0
    while true {
        let udp = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try setUpUDP(channel) } }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = udp.localAddress?.port ?? 0
        do {
            let tcp = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in channel.eventLoop.makeCompletedFuture { try setUpTCP(channel) } }
                .bind(host: "127.0.0.1", port: port).get()
            return (udp, tcp, port)
        } catch where attempt < 8 {
            attempt += 1
            try? await udp.close()
        }
    }
}
