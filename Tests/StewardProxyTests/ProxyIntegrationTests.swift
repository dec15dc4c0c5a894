import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import StewardConfig
import StewardPolicy
import StewardServer
import StewardTestSupport
import Testing

/// The proxy on loopback, used by the real `curl` and `openssl s_client`, in front of a local HTTP
/// origin and a local TLS origin (`openssl s_server`).
@Suite(.serialized) struct ProxyIntegrationTests {
    struct Node {
        let directory: URL
        let node: ServeNode
        let group: ServiceGroup
        let running: Task<Void, any Error>
        let port: Int
        let origin: OriginServer

        func curl(_ arguments: [String]) async throws -> ChildProcess.Result {
            try await ChildProcess.run(
                "/usr/bin/curl", ["-s", "--max-time", "10", "--proxy", "http://127.0.0.1:\(port)"] + arguments)
        }

        func stop() async {
            await group.triggerGracefulShutdown()
            _ = await running.result
            await origin.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    static let document = "No gambling. Installers need permission. No video streaming in class."

    static func start(tlsPort: Int = 443) async throws -> Node {
        let origin = try await OriginServer()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-proxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func save(_ name: String, _ text: String) throws {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try save("aup.txt", document)
        try save("gambling.txt", "casino.example\n")
        try save("paths.txt", "127.0.0.1/forbidden\n")
        try save(
            "steward.yaml",
            """
            district: {name: Test District, timezone: UTC, contact: "help@district.example"}
            data-dir: \(directory.appendingPathComponent("data").path)
            documents: [{id: aup, title: Test AUP, file: aup.txt}]
            lists:
              - {name: gambling, path: gambling.txt}
              - {name: blocked-paths, path: paths.txt, format: urls}
            groups: [{id: students, roles: student}, {id: lab}]
            zones: [{id: school, networks: [127.0.0.1/32], default-group: students}]
            policies:
              - rules:
                  - {id: no-gambling, action: block, match: {categories: [gambling]}, clause: {document: aup, section: Rules, text: No gambling.}}
                  - {id: no-paths, action: block, match: {categories: [blocked-paths]}, clause: {document: aup, section: Rules, text: No gambling.}}
                  - {id: no-installers, action: block, match: {file-types: [exe, msi]}, clause: {document: aup, section: Downloads, text: Installers need permission.}}
                  - {id: no-video, action: block, match: {mime-types: ["video/*"]}, clause: {document: aup, section: Class, text: No video streaming in class.}}
            proxy:
              listen: ["127.0.0.1:0"]
              connect-ports: [443, \(tlsPort)]
            """)
        let loaded = try PolicyLoader.load(configFile: directory.appendingPathComponent("steward.yaml").path)
        var logger = Logger(label: "steward-proxy-test")
        logger.logLevel = .warning
        let node = try await ServeNode.make(loaded: loaded, logger: logger)
        let group = ServiceGroup(services: node.services, logger: logger)
        let running = Task { try await group.run() }
        let bound = await node.proxyServer!.boundAddresses()
        return Node(directory: directory, node: node, group: group, running: running, port: bound.first?.port ?? 0, origin: origin)
    }

    static func withNode(tlsPort: Int = 443, _ body: (Node) async throws -> Void) async throws {
        let node = try await start(tlsPort: tlsPort)
        do {
            try await body(node)
        } catch {
            await node.stop()
            throw error
        }
        await node.stop()
    }

    @Test("Allowed, blocked host, blocked path, blocked installer and blocked video MIME type")
    func decisions() async throws {
        try await Self.withNode { node in
            let origin = "http://127.0.0.1:\(node.origin.port)"
            let allowed = try await node.curl(["-i", "\(origin)/hello.txt"])
            #expect(allowed.output.contains("HTTP/1.1 200"), "\(allowed.output)")
            #expect(allowed.output.contains("hello from the origin"))

            let host = try await node.curl(["-i", "http://www.casino.example/"])
            #expect(host.output.contains("HTTP/1.1 403"), "\(host.output)")
            #expect(host.output.contains("No gambling."))
            #expect(host.output.contains("Test AUP"))
            #expect(host.output.contains("help@district.example"))

            let path = try await node.curl(["-i", "\(origin)/forbidden/page.html"])
            #expect(path.output.contains("HTTP/1.1 403"), "\(path.output)")
            let other = try await node.curl(["-i", "\(origin)/fine/page.html"])
            #expect(other.output.contains("HTTP/1.1 200"), "\(other.output)")

            let installer = try await node.curl(["-i", "\(origin)/setup.exe"])
            #expect(installer.output.contains("HTTP/1.1 403"), "\(installer.output)")
            #expect(installer.output.contains("Installers need permission."))

            let video = try await node.curl(["-i", "\(origin)/movie"])
            #expect(video.output.contains("HTTP/1.1 403"), "\(video.output)")
            #expect(video.output.contains("No video streaming in class."))

            let big = try await node.curl(["-o", "/dev/null", "-w", "%{http_code} %{size_download}", "\(origin)/big"])
            #expect(big.output == "200 1048576", "\(big.output)")
        }
    }

    @Test("The host decided is the one connected to: user-info, a mismatched Host header, case and a trailing dot")
    func hostTricks() async throws {
        try await Self.withNode { node in
            let userInfo = try await node.curl(["-i", "http://127.0.0.1@www.casino.example/"])
            #expect(userInfo.output.contains("HTTP/1.1 403"), "\(userInfo.output)")
            let trailingDot = try await node.curl(["-i", "http://WWW.Casino.Example./"])
            #expect(trailingDot.output.contains("HTTP/1.1 403"), "\(trailingDot.output)")
            // A Host header naming a blocked site on an allowed connection: the origin sees the
            // host connected to, never the header's.
            let host = try await node.curl(["-i", "-H", "Host: www.casino.example", "http://127.0.0.1:\(node.origin.port)/echo"])
            #expect(host.output.contains("host=127.0.0.1:\(node.origin.port)"), "\(host.output)")
        }
    }

    @Test("Keep-alive: several requests on one client connection")
    func keepAlive() async throws {
        try await Self.withNode { node in
            let origin = "http://127.0.0.1:\(node.origin.port)"
            let result = try await node.curl(["-v", "\(origin)/hello.txt", "\(origin)/a", "\(origin)/b"])
            #expect(result.output.components(separatedBy: "hello from the origin").count == 2, "\(result.output)")
            #expect(result.output.contains("GET /a host=") && result.output.contains("GET /b host="))
            #expect(result.output.contains("Re-using existing connection") || result.output.contains("Reusing existing"), "\(result.output)")
        }
    }

    @Test("Smuggling framings, oversized headers, a bad CONNECT port, and a non-proxy request are refused")
    func refusals() async throws {
        try await Self.withNode { node in
            let both = try await RawTCP.exchange(
                port: node.port,
                "POST http://127.0.0.1:\(node.origin.port)/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            #expect(both.hasPrefix("HTTP/1.1 400"), "\(both)")
            let twice = try await RawTCP.exchange(
                port: node.port,
                "POST http://127.0.0.1:\(node.origin.port)/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello")
            #expect(twice.hasPrefix("HTTP/1.1 400"), "\(twice)")
            let folded = try await RawTCP.exchange(
                port: node.port,
                "GET http://127.0.0.1:\(node.origin.port)/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Note: one\r\n two\r\n\r\n")
            #expect(folded.hasPrefix("HTTP/1.1 400"), "\(folded)")
            let huge = try await RawTCP.exchange(
                port: node.port,
                "GET http://127.0.0.1:\(node.origin.port)/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: \(String(repeating: "a", count: 200_000))\r\n\r\n")
            #expect(huge.hasPrefix("HTTP/1.1 4"), "\(huge.prefix(200))")
            let ssh = try await RawTCP.exchange(port: node.port, "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n")
            #expect(ssh.hasPrefix("HTTP/1.1 403"), "\(ssh)")
            let plain = try await RawTCP.exchange(port: node.port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(plain.hasPrefix("HTTP/1.1 400"), "\(plain)")
            let pac = try await RawTCP.exchange(port: node.port, "GET /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            #expect(pac.contains("application/x-ns-proxy-autoconfig"), "\(pac)")
            #expect(pac.contains("PROXY 127.0.0.1:\(node.port)"))
            #expect(pac.contains("isInNet(host, \"127.0.0.1\", \"255.255.255.255\")"))
        }
    }

    @Test("A client outside the district's networks is refused: never an open proxy")
    func outsideClient() async throws {
        try await Self.withNode { node in
            let result = try await node.curl(["-i", "--interface", "127.0.0.2", "http://127.0.0.1:\(node.origin.port)/hello.txt"])
            #expect(result.output.contains("HTTP/1.1 403"), "\(result.output)")
            #expect(!result.output.contains("hello from the origin"))
        }
    }

    @Test("Every request becomes an activity event with method, host, path, bytes and clause")
    func activity() async throws {
        try await Self.withNode { node in
            _ = try await node.curl(["http://www.casino.example/roulette"])
            _ = try await node.curl(["http://127.0.0.1:\(node.origin.port)/hello.txt"])
            var blocked: [String] = []
            for _ in 0..<40 where blocked.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                blocked = try await node.node.activity.recent(name: "www.casino.example").map { "\($0.source) \($0.method ?? "") \($0.path ?? "") \($0.action) \($0.rule ?? "") \($0.responseCode)" }
            }
            #expect(blocked.first == "proxy GET /roulette block no-gambling 403", "\(blocked)")
            var allowed: [Int64] = []
            for _ in 0..<40 where allowed.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                allowed = try await node.node.activity.recent(name: "127.0.0.1").map(\.bytesOut)
            }
            #expect(allowed.first == 22)
        }
    }
}
