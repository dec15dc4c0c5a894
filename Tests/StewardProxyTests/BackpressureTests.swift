import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import StewardProxy

/// What a client or an origin that stops taking bytes does to the proxy: it must stop reading the
/// other side, not hold everything in memory. Each test lets one side write as fast as the proxy
/// takes bytes and checks that, once the buffers between them are full, it takes no more
/// (growth between the 5th and the 7th second under 64 KiB; each once grew without bound).
@Suite(.serialized) struct BackpressureTests {
    /// Writes `prefix`, then `chunk` again and again while the channel can take it, counting the
    /// bytes the kernel accepted. Reads nothing (its channel's reads are off).
    final class Pump: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let prefix: String
        let chunk: String
        let startOnRead: Bool
        let written = NIOLockedValueBox(0)

        init(prefix: String, chunk: String, startOnRead: Bool) {
            self.prefix = prefix
            self.chunk = chunk
            self.startOnRead = startOnRead
        }

        func channelActive(context: ChannelHandlerContext) {
            if !startOnRead { start(context) }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            // An origin: its request is in; from now on it only writes.
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            start(context)
        }

        private func start(_ context: ChannelHandlerContext) {
            if !prefix.isEmpty { write(context, prefix) }
            if chunk.isEmpty { context.flush() } else { pump(context) }
        }

        private func write(_ context: ChannelHandlerContext, _ text: String) {
            let count = text.utf8.count
            let written = self.written
            context.write(wrapOutboundOut(ByteBuffer(string: text))).whenSuccess { written.withLockedValue { $0 += count } }
        }

        private func pump(_ context: ChannelHandlerContext) {
            var rounds = 0
            while context.channel.isWritable, rounds < 64 {
                write(context, chunk)
                rounds += 1
            }
            context.flush()
            if context.channel.isWritable {
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.execute {
                    let (pump, context) = loopBound.value
                    if context.channel.isActive { pump.pump(context) }
                }
            }
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if context.channel.isWritable, !chunk.isEmpty { pump(context) }
            context.fireChannelWritabilityChanged()
        }
    }

    /// A client of the proxy that never reads, pumping as `Pump` does.
    static func client(port: Int, _ pump: Pump) async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 16_384)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(pump) } }
            .connect(host: "127.0.0.1", port: port).get()
    }

    /// The bytes `pump` wrote between the 5th and the 7th second (the buffers between the two
    /// sides take a few seconds to fill at a debug build's pace).
    static func lateGrowth(_ pump: Pump) async throws -> Int {
        try await Task.sleep(for: .seconds(5))
        let early = pump.written.withLockedValue { $0 }
        try await Task.sleep(for: .seconds(2))
        return pump.written.withLockedValue { $0 } - early
    }

    @Test("An upload to an origin that reads nothing is read no faster than the origin takes it")
    func uploadToStalledOrigin() async throws {
        let origin = try await RawTCP.listen { channel in
            try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        }
        let port = origin.localAddress?.port ?? 0
        try await ProxyIntegrationTests.withNode { node in
            let pump = Pump(
                prefix: "POST http://127.0.0.1:\(port)/up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000\r\n\r\n",
                chunk: String(repeating: "a", count: 65_536), startOnRead: false)
            let client = try await Self.client(port: node.port, pump)
            let growth = try await Self.lateGrowth(pump)
            #expect(growth < 64 << 10, "the proxy kept taking the upload: \(growth) bytes in 2 s")
            try? await client.close()
        }
        try? await origin.close()
    }

    @Test("An origin that sends interim (1xx) answers without end waits for a client that reads nothing")
    func endlessInterimAnswers() async throws {
        // Large interim answers, so that filling the buffers costs the (debug) proxy little work.
        let link = "</" + String(repeating: "s", count: 4000) + ".css>; rel=preload"
        let pump = Pump(prefix: "", chunk: "HTTP/1.1 103 Early Hints\r\nLink: \(link)\r\n\r\n", startOnRead: true)
        let origin = try await RawTCP.listen { channel in try channel.pipeline.syncOperations.addHandler(pump) }
        let port = origin.localAddress?.port ?? 0
        try await ProxyIntegrationTests.withNode { node in
            let quiet = Pump(prefix: "GET http://127.0.0.1:\(port)/ HTTP/1.1\r\nHost: x\r\n\r\n", chunk: "", startOnRead: false)
            let client = try await Self.client(port: node.port, quiet)
            let growth = try await Self.lateGrowth(pump)
            #expect(growth < 64 << 10, "the proxy kept taking interim answers: \(growth) bytes in 2 s")
            try? await client.close()
        }
        try? await origin.close()
    }

    @Test("A client that pipelines requests and reads none of its answers gets no more of them read")
    func pipelinedWithoutReading() async throws {
        try await ProxyIntegrationTests.withNode { node in
            let request = "GET http://www.casino.example/ HTTP/1.1\r\nHost: x\r\n\r\n"
            let pump = Pump(prefix: "", chunk: String(repeating: request, count: 200), startOnRead: false)
            let client = try await Self.client(port: node.port, pump)
            let growth = try await Self.lateGrowth(pump)
            #expect(growth < 64 << 10, "the proxy kept reading requests: \(growth) bytes in 2 s")
            try? await client.close()
        }
    }
}
