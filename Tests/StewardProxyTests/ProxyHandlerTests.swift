import Foundation
import Logging
import NIOCore
import NIOEmbedded
import StewardActivity
import StewardConfig
import StewardPolicy
import StewardTestSupport
import Testing

@testable import StewardProxy

/// The client side of the proxy on an `EmbeddedChannel`: the whole pipeline `ProxyConnection`
/// builds, fed bytes by hand, with time advanced by hand. Everything here is decided without an
/// origin: refusals, blocks, sign-in challenges, timeouts and caps.
@Suite struct ProxyHandlerTests {
    struct Harness {
        let shared: ProxyShared
        let recorder: ActivityRecorder
        let directory: URL

        func connect(from address: String = "127.0.0.1") throws -> EmbeddedChannel {
            let channel = EmbeddedChannel()
            let remote = try SocketAddress(ipAddress: address, port: 40_000)
            channel.remoteAddress = remote
            try ProxyConnection.setUp(channel, shared: shared)
            try channel.connect(to: remote).wait()
            return channel
        }
    }

    static func harness(_ configure: (inout ProxyServer.Configuration) -> Void = { _ in }) throws -> Harness {
        let directory = TestDirectory.root.appendingPathComponent("steward-handler-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "No gambling. Installers need permission.".write(to: directory.appendingPathComponent("aup.txt"), atomically: true, encoding: .utf8)
        try "casino.example\n".write(to: directory.appendingPathComponent("gambling.txt"), atomically: true, encoding: .utf8)
        try """
            district: {name: Test, timezone: UTC, contact: "help@district.example"}
            data-dir: data
            documents: [{id: aup, title: Test AUP, file: aup.txt}]
            lists: [{name: gambling, path: gambling.txt}]
            groups: [{id: students, roles: student}]
            zones: [{id: school, networks: [127.0.0.0/8], default-group: students}]
            policies:
              - rules:
                  - {id: no-gambling, action: block, match: {categories: [gambling]}, clause: {document: aup, section: Rules, text: No gambling.}}
            """.write(to: directory.appendingPathComponent("steward.yaml"), atomically: true, encoding: .utf8)
        let loaded = try PolicyLoader.load(configFile: directory.appendingPathComponent("steward.yaml").path)
        var configuration = ProxyServer.Configuration(listen: [])
        configuration.contact = loaded.configuration.policy.contact
        configure(&configuration)
        let recorder = ActivityRecorder(capacity: 100)
        let shared = ProxyShared(
            configuration: configuration, snapshots: SnapshotHolder(loaded.snapshot), identities: ClientIdentities(),
            recorder: recorder, logger: Logger(label: "test"))
        return Harness(shared: shared, recorder: recorder, directory: directory)
    }

    /// Everything the proxy wrote so far, as text.
    static func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { text += String(buffer: buffer) }
        }
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    static func send(_ channel: EmbeddedChannel, _ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    @Test("A blocked URL gets the block page with the clause, is never forwarded, and the connection stays open")
    func blocked() throws {
        let harness = try Self.harness()
        let channel = try harness.connect()
        try Self.send(channel, "GET http://www.casino.example/roulette HTTP/1.1\r\nHost: www.casino.example\r\n\r\n")
        let response = try Self.written(channel)
        #expect(response.hasPrefix("HTTP/1.1 403"), "\(response)")
        #expect(response.contains("No gambling."))
        #expect(response.contains("Test AUP"))
        #expect(response.contains("help@district.example"))
        #expect(channel.isActive)
        let events = harness.recorder.drain()
        #expect(events.count == 1)
        #expect(events.first?.path == "/roulette")
        #expect(events.first?.decision.action == .block)
        #expect(harness.shared.pool(for: channel.eventLoop).count == 0)
        // The next request on the same connection is served too.
        try Self.send(channel, "GET http://casino.example/ HTTP/1.1\r\nHost: casino.example\r\nConnection: close\r\n\r\n")
        let second = try Self.written(channel)
        #expect(second.hasPrefix("HTTP/1.1 403"), "\(second)")
        #expect(second.contains("Connection: close"))
        _ = try? channel.finish()
    }

    @Test(
        "Framings that could smuggle a second request are refused with 400 and the connection closed",
        arguments: [
            "POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\nX-Folded: one\r\n two\r\n\r\n",
            "POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        ])
    func smuggling(_ request: String) throws {
        let harness = try Self.harness()
        let channel = try harness.connect()
        try? Self.send(channel, request)
        let response = try Self.written(channel)
        #expect(response.hasPrefix("HTTP/1.1 400") || response.hasPrefix("HTTP/1.1 501"), "\(response)")
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    @Test("A client outside the served networks is refused before reading anything")
    func outside() throws {
        let harness = try Self.harness()
        let channel = try harness.connect(from: "192.0.2.7")
        let response = try Self.written(channel)
        #expect(response.hasPrefix("HTTP/1.1 403"), "\(response)")
        #expect(response.contains("networks only"))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    @Test("A blocked CONNECT gets 403 and no tunnel")
    func blockedTunnel() throws {
        let harness = try Self.harness()
        let channel = try harness.connect()
        try Self.send(channel, "CONNECT www.casino.example:443 HTTP/1.1\r\nHost: www.casino.example:443\r\n\r\n")
        let response = try Self.written(channel)
        #expect(response.hasPrefix("HTTP/1.1 403"), "\(response)")
        #expect(response.contains("No gambling."))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    @Test("With proxy login required, a request without a valid Basic login gets 407 and a challenge")
    func challenge() throws {
        let harness = try Self.harness { configuration in
            configuration.authentication = ProxyAuthentication(mode: .required, realm: "Test District") { _, _, _ in .rejected }
        }
        let channel = try harness.connect()
        try Self.send(channel, "GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n")
        let response = try Self.written(channel)
        #expect(response.hasPrefix("HTTP/1.1 407"), "\(response)")
        #expect(response.contains("Proxy-Authenticate: Basic realm=\"Test District\""))
        #expect(channel.isActive)
        try Self.send(channel, "GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\nProxy-Authorization: Bearer abc\r\n\r\n")
        let second = try Self.written(channel)
        #expect(second.hasPrefix("HTTP/1.1 407"), "\(second)")
        // The PAC file needs no login.
        try Self.send(channel, "GET /proxy.pac HTTP/1.1\r\nHost: proxy\r\n\r\n")
        #expect(try Self.written(channel).contains("FindProxyForURL"))
        _ = try? channel.finish()
    }

    @Test("Basic credentials are read as RFC 7617 has them")
    func basicCredentials() {
        #expect(ProxyLogins.basicCredentials("Basic " + Data("T1:correct horse".utf8).base64EncodedString()) ?? ("", "") == ("T1", "correct horse"))
        #expect(ProxyLogins.basicCredentials("basic " + Data("a:b:c".utf8).base64EncodedString()) ?? ("", "") == ("a", "b:c"))
        #expect(ProxyLogins.basicCredentials("Basic !!!") == nil)
        #expect(ProxyLogins.basicCredentials("Basic " + Data("nocolon".utf8).base64EncodedString()) == nil)
        #expect(ProxyLogins.basicCredentials("Basic " + Data(":empty-user".utf8).base64EncodedString()) == nil)
        #expect(ProxyLogins.basicCredentials("Digest abc") == nil)
    }

    @Test("A request head not complete within the timeout closes the connection (slowloris)")
    func headTimeout() throws {
        let harness = try Self.harness { $0.requestHeadTimeout = .seconds(5) }
        let channel = try harness.connect()
        try Self.send(channel, "GET http://a.example/ HTTP/1.1\r\nHost: a.")
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        try Self.send(channel, "ex")
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
        // Nothing was forwarded; the incomplete head is answered 400 as the connection closes.
        let written = try Self.written(channel)
        #expect(written.isEmpty || written.hasPrefix("HTTP/1.1 400 Bad Request\r\nConnection: close"), "\(written)")
    }

    @Test("Connections per client are capped")
    func caps() throws {
        let harness = try Self.harness { $0.maxConnectionsPerClient = 2 }
        let first = try harness.connect()
        let second = try harness.connect()
        let third = try harness.connect()
        #expect(try Self.written(third).hasPrefix("HTTP/1.1 503"))
        #expect(try Self.written(first).isEmpty && Self.written(second).isEmpty)
        _ = try? first.finish()
        first.embeddedEventLoop.run()
        let fourth = try harness.connect()
        #expect(try Self.written(fourth).isEmpty)
        _ = try? second.finish()
        _ = try? fourth.finish()
    }

    @Test("The bandwidth limiter lets a second's worth through, then paces to the rate")
    func limiter() {
        let limiter = BandwidthLimiter(configuration: .init(bytesPerSecond: 1_000_000))
        #expect(limiter.active)
        let start: UInt64 = 1_000_000_000
        #expect(limiter.take(600_000, for: "p", now: start) == .zero)
        #expect(limiter.take(400_000, for: "p", now: start) == .zero)
        // One more 100 kB needs 0.1 s of refill; another person is not affected.
        #expect(limiter.take(100_000, for: "p", now: start) == .milliseconds(100))
        #expect(limiter.take(100_000, for: "q", now: start) == .zero)
        // After a second the bucket is full again (never more than a second's worth).
        #expect(limiter.take(1_000_000, for: "p", now: start + 3_000_000_000) == .zero)

        let busy = BandwidthLimiter(configuration: .init(bytesPerSecond: 1_000, busyAbove: 10_000))
        busy.sent(5_000, now: start)
        busy.sent(1, now: start + 1_000_000_000)
        #expect(!busy.active)
        busy.sent(50_000, now: start + 1_500_000_000)
        busy.sent(1, now: start + 2_000_000_000)
        #expect(busy.active)
    }
}
