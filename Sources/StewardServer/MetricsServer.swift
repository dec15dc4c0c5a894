import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// `/metrics` (Prometheus text format) and `/healthz` on the configured address, until the web
/// service (Hummingbird) takes them over.
public final class MetricsServer: Service, Sendable {
    let address: SocketAddress
    let render: @Sendable () -> String
    let group: any EventLoopGroup
    let logger: Logger
    private let channel = Mutex<(any Channel)?>(nil)

    public init(address: SocketAddress, group: any EventLoopGroup, logger: Logger, render: @escaping @Sendable () -> String) {
        self.address = address
        self.group = group
        self.logger = logger
        self.render = render
    }

    public var boundAddress: SocketAddress? { channel.withLock { $0?.localAddress } }

    public func run() async throws {
        let render = self.render
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(render: render))
                }
            }
            .bind(to: address).get()
        channel.withLock { $0 = server }
        logger.info("metrics listening", metadata: ["address": "\(server.localAddress.map { "\($0)" } ?? "?")"])
        try await withGracefulShutdownHandler {
            try await server.closeFuture.get()
        } onGracefulShutdown: {
            server.close(promise: nil)
        }
    }
}

/// Answers GET /metrics and GET /healthz; everything else 404, other methods 405.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let render: @Sendable () -> String
    private var head: HTTPRequestHead?

    init(render: @escaping @Sendable () -> String) { self.render = render }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request): head = request
        case .body: break
        case .end:
            guard let request = head else { return }
            let (status, body, type): (HTTPResponseStatus, String, String)
            let path = request.uri.split(separator: "?").first.map(String.init) ?? request.uri
            if request.method != .GET && request.method != .HEAD {
                (status, body, type) = (.methodNotAllowed, "method not allowed\n", "text/plain")
            } else if path == "/metrics" {
                (status, body, type) = (.ok, render(), "text/plain; version=0.0.4")
            } else if path == "/healthz" {
                (status, body, type) = (.ok, "ok\n", "text/plain")
            } else {
                (status, body, type) = (.notFound, "not found\n", "text/plain")
            }
            var headers = HTTPHeaders([("content-type", type), ("content-length", "\(body.utf8.count)")])
            if !request.isKeepAlive { headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
            if request.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            }
            let keepAlive = request.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in
                if !keepAlive { channel.close(promise: nil) }
            }
            head = nil
        }
    }
}

@available(*, unavailable)
extension MetricsHTTPHandler: Sendable {}
