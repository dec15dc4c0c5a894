import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP origin on loopback for the proxy's tests: `/hello.txt`, `/setup.exe`
/// (an installer), `/movie` (video/mp4), `/big…` (1 MiB), `/huge` (8 MiB), `/stall` (never answers), `/then-close`
/// (answers with keep-alive, then closes the connection as an origin's idle timer would), anything
/// else echoes the request line and Host header. Counts the connections it accepts.
final class OriginServer: Sendable {
    let channel: any Channel
    let accepted: NIOLockedValueBox<Int>
    var port: Int { channel.localAddress?.port ?? 0 }
    var connections: Int { accepted.withLockedValue { $0 } }

    init() async throws {
        let accepted = NIOLockedValueBox(0)
        self.accepted = accepted
        channel = try await RawTCP.listen { channel in
            accepted.withLockedValue { $0 += 1 }
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(Responder())
        }
    }

    func stop() async {
        try? await channel.close()
    }

    final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        var head: HTTPRequestHead?

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                if head.uri == "/stall" { return }
                var type = "text/plain"
                var body = context.channel.allocator.buffer(capacity: 64)
                switch head.uri {
                case "/hello.txt": body.writeString("hello from the origin\n")
                case "/setup.exe":
                    type = "application/octet-stream"
                    body.writeRepeatingByte(0x4D, count: 512)
                case "/movie":
                    type = "video/mp4"
                    body.writeRepeatingByte(0, count: 1024)
                case let uri where uri.hasPrefix("/big"): body.writeRepeatingByte(0x61, count: 1 << 20)
                case "/huge": body.writeRepeatingByte(0x62, count: 8 << 20)
                default: body.writeString("\(head.method) \(head.uri) host=\(head.headers["Host"].first ?? "-")\n")
                }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: type)
                headers.add(name: "Content-Length", value: String(body.readableBytes))
                headers.add(name: "Connection", value: head.isKeepAlive ? "keep-alive" : "close")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                let keepAlive = head.isKeepAlive && head.uri != "/then-close"
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in
                    if !keepAlive {
                        // After the response, as an origin closing an idle connection would.
                        channel.eventLoop.scheduleTask(in: .milliseconds(50)) { channel.close(promise: nil) }
                    }
                }
            }
        }
    }
}

/// Sends raw bytes to a TCP port and returns everything read until the peer closes or `timeout`.
enum RawTCP {
    /// A server on a free loopback port whose connections `initialize` sets up.
    static func listen(_ initialize: @escaping @Sendable (any Channel) throws -> Void) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in channel.eventLoop.makeCompletedFuture { try initialize(channel) } }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// A loopback port nothing listens on now (bound and released).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }

    static func exchange(port: Int, _ text: String, timeout: TimeAmount = .seconds(5)) async throws -> String {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        // A peer that answers on connect and closes (a refusal) may be gone before this write:
        // what it sent is still the answer.
        try? await channel.writeAndFlush(ByteBuffer(string: text))
        let deadline = ContinuousClock.now + .seconds(Int64(timeout.nanoseconds / 1_000_000_000))
        while channel.isActive, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try? await channel.close()
        return collector.text.withLockedValue { $0 }
    }

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let text = NIOLockedValueBox("")

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            text.withLockedValue { $0 += String(buffer: buffer) }
        }
    }
}

/// A minimal TLS 1.2 ClientHello naming `serverName`, as TLS records (split in two at `splitAt`
/// bytes of the handshake message, when given): enough for the proxy's peek, not a real handshake.
enum ClientHelloBytes {
    static func records(serverName: String, splitAt: Int? = nil) -> [UInt8] {
        let name = Array(serverName.utf8)
        var serverNameExtension: [UInt8] = [0x00, 0x00]  // extension type server_name
        let list: [UInt8] = [0x00] + [UInt8(name.count >> 8), UInt8(name.count & 0xFF)] + name
        let body: [UInt8] = [UInt8(list.count >> 8), UInt8(list.count & 0xFF)] + list
        serverNameExtension += [UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
        var hello: [UInt8] = [0x03, 0x03] + Array(repeating: 7, count: 32) + [0x00]  // version, random, no session
        hello += [0x00, 0x02, 0x13, 0x01]  // one cipher suite
        hello += [0x01, 0x00]  // null compression
        hello += [UInt8(serverNameExtension.count >> 8), UInt8(serverNameExtension.count & 0xFF)] + serverNameExtension
        let message: [UInt8] = [0x01, 0x00, UInt8(hello.count >> 8), UInt8(hello.count & 0xFF)] + hello
        let parts = splitAt.map { [Array(message.prefix($0)), Array(message.dropFirst($0))] } ?? [message]
        return parts.flatMap { part in [0x16, 0x03, 0x01, UInt8(part.count >> 8), UInt8(part.count & 0xFF)] + part }
    }
}
