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
                // Half-close after the echoes queued so far: a channel whose input has ended
                // turns a plain half-close into a full close, which drops queued writes.
                if let event = event as? ChannelEvent, case .inputClosed = event {
                    let channel = context.channel
                    context.writeAndFlush(NIOAny(ByteBuffer())).whenComplete { _ in
                        channel.close(mode: .output, promise: nil)
                    }
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

        static func connect(port: Int, receiveBuffer: Int32? = nil) async throws -> (any Channel, Client) {
            let client = Client()
            var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            if let receiveBuffer { bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: .init(receiveBuffer)) }
            let channel = try await bootstrap
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

    /// Where two byte arrays first differ (nil when one is a prefix of the other).
    static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
        (0..<min(a.count, b.count)).first { a[$0] != b[$0] }
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

    /// The tunnels the node's relay has taken (`steward_proxy_relayed_tunnels_total`); nil when
    /// it runs without one.
    static func relayedTunnels(_ node: ProxyIntegrationTests.Node) -> Int? {
        node.node.proxyServer!.metrics.prometheusText().split(separator: "\n")
            .first { $0.hasPrefix("steward_proxy_relayed_tunnels_total ") }
            .flatMap { Int($0.split(separator: " ")[1]) }
    }

    /// Every tunnel test runs twice: on the tunnel relay's thread (the default) and on the event
    /// loops (`tunnel-relay: false`, and the way paced tunnels always go).
    static let relayModes = [true, false]

    @Test(
        "8 MiB each way through a tunnel arrive whole and in order, half-closes pass, and the bytes are counted",
        arguments: relayModes)
    func eightMiB(relay: Bool) async throws {
        let origin = try await EchoOrigin()
        try await ProxyIntegrationTests.withNode(tlsPort: origin.port, proxy: "tunnel-relay: \(relay)") { node in
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
            // Compared here, not in the expectation: a failed `==` of two 8 MiB arrays inside
            // #expect has the failure computed as a collection difference, which takes minutes.
            let firstDifference = Self.firstDifference(received, expected)
            #expect(firstDifference == nil, "the bytes came back changed at offset \(firstDifference ?? -1)")
            try? await channel.close()

            // One activity event for the tunnel, with the bytes each way.
            var events: [ActivityRecordSummary] = []
            for _ in 0..<300 {  // (the writer runs at nice 19: under load it may lag for seconds)
                events = try await node.node.activity.recent(name: "127.0.0.1").filter { $0.method == "CONNECT" }
                    .map { ActivityRecordSummary(bytesIn: $0.bytesIn, bytesOut: $0.bytesOut) }
                if !events.isEmpty { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(events.count == 1, "\(events)")
            let tunnelled = Int64(hello.count + payload.count)
            #expect(events.first?.bytesIn == tunnelled, "\(events)")
            #expect(events.first?.bytesOut == tunnelled, "\(events)")
            #expect(Self.relayedTunnels(node) == (relay ? 1 : nil))
        }
        await origin.stop()
    }

    /// Answers the first bytes it reads with `size` bytes, then closes at once (once they are
    /// handed to its kernel), as a server does that does not wait for the client's half-close.
    final class BurstOrigin: Sendable {
        let channel: any Channel
        let response: [UInt8]
        var port: Int { channel.localAddress?.port ?? 0 }

        final class Burst: ChannelInboundHandler, Sendable {
            typealias InboundIn = ByteBuffer
            let response: [UInt8]
            let answered = NIOLockedValueBox(false)
            init(response: [UInt8]) { self.response = response }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                guard !answered.withLockedValue({ let was = $0; $0 = true; return was }) else { return }
                let channel = context.channel
                context.writeAndFlush(NIOAny(ByteBuffer(bytes: response))).whenComplete { _ in
                    channel.close(promise: nil)
                }
            }
            func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
        }

        init(size: Int) async throws {
            var generator = SystemRandomNumberGenerator()
            let response = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            self.response = response
            // The client's half-close must not end the answer (NIO would close on end of input).
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Burst(response: response))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        func stop() async { try? await channel.close() }
    }

    @Test(
        "A client that reads slower than the origin answers and closes still gets every byte before the tunnel closes",
        arguments: relayModes)
    func slowReaderGetsTheTail(relay: Bool) async throws {
        let origin = try await BurstOrigin(size: 4 << 20)
        try await ProxyIntegrationTests.withNode(tlsPort: origin.port, proxy: "tunnel-relay: \(relay)") { node in
            let (channel, client) = try await Client.connect(port: node.port, receiveBuffer: 16 << 10)
            try await channel.writeAndFlush(
                ByteBuffer(string: "CONNECT 127.0.0.1:\(origin.port) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            let answered = try await client.wait(seconds: 5) { bytes, _ in bytes.count >= Self.established.count }
            #expect(answered)
            // The client stops reading for a second, through a small receive buffer: the proxy
            // has the origin's bytes queued for it when the origin has sent its last and closed.
            try await channel.setOption(ChannelOptions.autoRead, value: false).get()
            try await channel.writeAndFlush(ByteBuffer(bytes: ClientHelloBytes.records(serverName: "localhost")))
            try await channel.close(mode: .output)
            try await Task.sleep(for: .seconds(1))
            try await channel.setOption(ChannelOptions.autoRead, value: true).get()
            let expected = Self.established + origin.response
            // The tunnel ends (the origin closed), and only after every byte reached the client.
            let ended = try await client.wait(seconds: 30) { _, ended in ended }
            let received = client.received.withLockedValue { $0 }
            #expect(ended)
            #expect(received.count == expected.count, "\(received.count) of \(expected.count) bytes")
            let firstDifference = Self.firstDifference(received, expected)
            #expect(firstDifference == nil, "the bytes came back changed at offset \(firstDifference ?? -1)")
            #expect(Self.relayedTunnels(node) == (relay ? 1 : nil))
            try? await channel.close()
        }
        await origin.stop()
    }

    @Test("A plain HTTP download the client asked to close after reaches a slow reader whole")
    func slowReaderGetsTheWholeDownload() async throws {
        try await ProxyIntegrationTests.withNode { node in
            let (channel, client) = try await Client.connect(port: node.port, receiveBuffer: 16 << 10)
            try await channel.setOption(ChannelOptions.autoRead, value: false).get()
            try await channel.writeAndFlush(
                ByteBuffer(string: "GET http://127.0.0.1:\(node.origin.port)/huge HTTP/1.1\r\nHost: 127.0.0.1:\(node.origin.port)\r\nConnection: close\r\n\r\n"))
            // Not read for a second: the proxy has the end of the body queued when the origin's
            // response has ended.
            try await Task.sleep(for: .seconds(1))
            let reader = Task {
                while channel.isActive, !Task.isCancelled {
                    channel.read()
                    try? await Task.sleep(for: .milliseconds(2))
                }
            }
            let ended = try await client.wait(seconds: 30) { _, ended in ended }
            reader.cancel()
            #expect(ended)
            let received = client.received.withLockedValue { $0 }
            let separator = Array("\r\n\r\n".utf8)
            let headEnd =
                received.count < separator.count
                ? nil
                : (0...received.count - separator.count).first { Array(received[$0..<$0 + separator.count]) == separator }
            let head = headEnd.map { String(decoding: received[..<$0], as: UTF8.self) } ?? ""
            #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")
            #expect(head.contains("Content-Length: \(8 << 20)"), "\(head)")
            let body = headEnd.map { received.count - $0 - separator.count } ?? 0
            #expect(body == 8 << 20, "\(body) bytes of the body")
            try? await channel.close()
        }
    }

    struct ActivityRecordSummary: Equatable {
        let bytesIn: Int64
        let bytesOut: Int64
    }

    @Test("A client that resets its tunnel (RST) frees its place under the cap at once, and the tunnel is recorded", arguments: relayModes)
    func resetTunnel(relay: Bool) async throws {
        let origin = try await EchoOrigin()
        try await ProxyIntegrationTests.withNode(
            tlsPort: origin.port, proxy: "idle-timeout: 60\nmax-connections-per-client: 1\ntunnel-relay: \(relay)"
        ) { node in
            let (channel, client, hello) = try await Self.openTunnel(proxyPort: node.port, originPort: origin.port)
            let echoed = try await client.wait(seconds: 5) { bytes, _ in bytes.count >= Self.established.count + hello.count }
            #expect(echoed)
            // A reset, not a close: linger on with a zero timeout.
            let options = try #require(channel as? any SocketOptionProvider)
            try await options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
            try? await channel.close()
            var next = ""
            for _ in 0..<20 {
                next = try await RawTCP.exchange(
                    port: node.port, "CONNECT 127.0.0.1:\(origin.port) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                    timeout: .seconds(1))
                if next.hasPrefix("HTTP/1.1 200") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(next.hasPrefix("HTTP/1.1 200"), "\(next)")
            var events = 0
            for _ in 0..<300 {
                events = try await node.node.activity.recent(name: "127.0.0.1").filter { $0.method == "CONNECT" && $0.bytesIn > 0 }.count
                if events > 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(events == 1)
            #expect(Self.relayedTunnels(node) == (relay ? 1 : nil))
        }
        await origin.stop()
    }

    @Test("An open tunnel counts under the per-client cap, and one idle for the idle timeout is closed", arguments: relayModes)
    func capsAndIdle(relay: Bool) async throws {
        let origin = try await EchoOrigin()
        try await ProxyIntegrationTests.withNode(
            tlsPort: origin.port, proxy: "idle-timeout: 5\nmax-connections-per-client: 1\ntunnel-relay: \(relay)"
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
            #expect(Self.relayedTunnels(node) == (relay ? 1 : nil))
        }
        await origin.stop()
    }
}
