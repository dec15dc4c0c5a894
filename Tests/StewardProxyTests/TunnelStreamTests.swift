import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// What a checked tunnel carries: megabytes each way arrive whole and in order, half-closes pass
/// through, the bytes are counted in the activity event, an open tunnel counts under the
/// connection caps, and an idle tunnel is closed.
@Suite(.serialized) struct TunnelStreamTests {
    /// Echoes every byte back and ends its output when the client ends its own.
    final class EchoOrigin: Sendable {
        let channel: any Channel
        var port: Int { channel.localAddress?.port ?? 0 }

        final class Echo: ChannelInboundHandler, Sendable {
            typealias InboundIn = ByteBuffer
            func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.write(data, promise: nil) }
            func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
            func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
                if let event = event as? ChannelEvent, case .inputClosed = event {
                    context.close(mode: .output, promise: nil)
                }
            }
            func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
        }

        init() async throws {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        func stop() async { try? await channel.close() }
    }

    /// A client connection that keeps every byte it reads and notes when its input ends.
    final class Client: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = NIOLockedValueBox<[UInt8]>([])
        let ended = NIOLockedValueBox(false)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received.withLockedValue { $0 += buffer.readableBytesView }
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, case .inputClosed = event { ended.withLockedValue { $0 = true } }
        }
        func channelInactive(context: ChannelHandlerContext) { ended.withLockedValue { $0 = true } }

        static func connect(port: Int) async throws -> (any Channel, Client) {
            let client = Client()
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(client) }
                }
                .connect(host: "127.0.0.1", port: port).get()
            return (channel, client)
        }

        /// Waits until `condition` holds of what was read (and whether input ended), or `seconds`.
        func wait(seconds: Double, until condition: ([UInt8], Bool) -> Bool) async throws -> Bool {
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            while ContinuousClock.now < deadline {
                let (bytes, ended) = (received.withLockedValue { $0 }, self.ended.withLockedValue { $0 })
                if condition(bytes, ended) { return true }
                try await Task.sleep(for: .milliseconds(20))
            }
            return false
        }
    }

    static let established = Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8)

    /// Opens a tunnel to the echo origin and sends a ClientHello for `localhost`.
    static func openTunnel(proxyPort: Int, originPort: Int) async throws -> (any Channel, Client, [UInt8]) {
        let (channel, client) = try await Client.connect(port: proxyPort)
        try await channel.writeAndFlush(ByteBuffer(string: "CONNECT 127.0.0.1:\(originPort) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        let answered = try await client.wait(seconds: 5) { bytes, _ in bytes.count >= established.count }
        #expect(answered && Array(client.received.withLockedValue { $0 }.prefix(established.count)) == established)
        let hello = ClientHelloBytes.records(serverName: "localhost")
        try await channel.writeAndFlush(ByteBuffer(bytes: hello))
        return (channel, client, hello)
    }

    @Test("8 MiB each way through a tunnel arrive whole and in order, half-closes pass, and the bytes are counted")
    func eightMiB() async throws {
        let origin = try await EchoOrigin()
        try await ProxyIntegrationTests.withNode(tlsPort: origin.port) { node in
            let (channel, client, hello) = try await Self.openTunnel(proxyPort: node.port, originPort: origin.port)
            var generator = SystemRandomNumberGenerator()
            var payload = [UInt8](repeating: 0, count: 8 << 20)
            for index in stride(from: 0, to: payload.count, by: 8) {
                withUnsafeBytes(of: generator.next() as UInt64) { word in
                    for offset in 0..<8 { payload[index + offset] = word[offset] }
                }
            }
            // The echoed ClientHello shows the tunnel is open end to end.
            let echoedHello = try await client.wait(seconds: 5) { bytes, _ in bytes.count >= Self.established.count + hello.count }
            #expect(echoedHello)
            for start in stride(from: 0, to: payload.count, by: 1 << 20) {
                try await channel.writeAndFlush(ByteBuffer(bytes: payload[start..<min(payload.count, start + (1 << 20))]))
            }
            try await channel.close(mode: .output)
            let expected = Self.established + hello + payload
            let whole = try await client.wait(seconds: 30) { bytes, ended in ended && bytes.count >= expected.count }
            let received = client.received.withLockedValue { $0 }
            #expect(whole, "\(received.count) of \(expected.count) bytes")
            #expect(received.count == expected.count)
            #expect(received == expected, "the bytes came back changed or out of order")
            try? await channel.close()

            // One activity event for the tunnel, with the bytes each way.
            var events: [ActivityRecordSummary] = []
            for _ in 0..<50 {
                events = try await node.node.activity.recent(name: "127.0.0.1").filter { $0.method == "CONNECT" }
                    .map { ActivityRecordSummary(bytesIn: $0.bytesIn, bytesOut: $0.bytesOut) }
                if !events.isEmpty { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(events.count == 1, "\(events)")
            let tunnelled = Int64(hello.count + payload.count)
            #expect(events.first?.bytesIn == tunnelled, "\(events)")
            #expect(events.first?.bytesOut == tunnelled, "\(events)")
        }
        await origin.stop()
    }

    struct ActivityRecordSummary: Equatable {
        let bytesIn: Int64
        let bytesOut: Int64
    }

    @Test("An open tunnel counts under the per-client cap, and one idle for the idle timeout is closed")
    func capsAndIdle() async throws {
        let origin = try await EchoOrigin()
        try await ProxyIntegrationTests.withNode(
            tlsPort: origin.port, proxy: "idle-timeout: 5\nmax-connections-per-client: 1"
        ) { node in
            let (channel, client, hello) = try await Self.openTunnel(proxyPort: node.port, originPort: origin.port)
            let echoed = try await client.wait(seconds: 5) { bytes, _ in bytes.count >= Self.established.count + hello.count }
            #expect(echoed)

            // The tunnel holds the address's one connection: a second is refused.
            let second = try await RawTCP.exchange(
                port: node.port, "CONNECT 127.0.0.1:\(origin.port) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", timeout: .seconds(2))
            #expect(second.hasPrefix("HTTP/1.1 503"), "\(second)")

            // Nothing moves: the tunnel is closed after the idle timeout (5 s).
            let closed = try await client.wait(seconds: 12) { _, ended in ended }
            #expect(closed)
            try? await channel.close()
            // Its place under the cap is free again.
            var third = ""
            for _ in 0..<20 {
                third = try await RawTCP.exchange(
                    port: node.port, "CONNECT 127.0.0.1:\(origin.port) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                    timeout: .seconds(1))
                if third.hasPrefix("HTTP/1.1 200") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(third.hasPrefix("HTTP/1.1 200"), "\(third)")
        }
        await origin.stop()
    }
}
