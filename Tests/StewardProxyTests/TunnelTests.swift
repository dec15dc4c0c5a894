import Foundation
import NIOCore
import StewardTestSupport
import Testing

/// CONNECT tunnels to a real TLS origin (`openssl s_server`), through the proxy, with `curl` and
/// `openssl s_client`: the ClientHello's server name is checked before any byte reaches the origin.
@Suite(.serialized) struct TunnelTests {
    struct OriginFailed: Error, CustomStringConvertible {
        let description: String
    }

    struct TLSOrigin {
        let port: Int
        let server: BackgroundProcess
        let directory: URL

        static func start() async throws -> TLSOrigin {
            let directory = TestDirectory.root.appendingPathComponent("steward-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let made = try await ChildProcess.run(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", directory.appendingPathComponent("key.pem").path,
                    "-out", directory.appendingPathComponent("cert.pem").path,
                ])
            #expect(made.status == 0, "\(made.output)")
            var lastError = ""
            for _ in 0..<5 {
                let port = Int.random(in: 20_000...40_000)
                let server = try BackgroundProcess(
                    "/usr/bin/openssl",
                    ["s_server", "-accept", "127.0.0.1:\(port)", "-www", "-cert", "cert.pem", "-key", "key.pem"],
                    directory: directory)
                for _ in 0..<50 {
                    if (try? await RawTCP.exchange(port: port, "", timeout: .milliseconds(50))) != nil {
                        return TLSOrigin(port: port, server: server, directory: directory)
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                lastError = (try? String(contentsOf: server.log, encoding: .utf8)) ?? ""
                server.stop()
            }
            throw OriginFailed(description: "openssl s_server never listened: \(lastError)")
        }

        func stop() {
            server.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test("An allowed tunnel carries TLS end to end; a blocked SNI, an SNI other than the CONNECT host, and non-TLS bytes are cut off")
    func tunnels() async throws {
        let origin = try await TLSOrigin.start()
        defer { origin.stop() }
        try await ProxyIntegrationTests.withNode(tlsPort: origin.port) { node in
            let allowed = try await node.curl(["-k", "-o", "/dev/null", "-w", "%{http_code}", "https://localhost:\(origin.port)/"])
            #expect(allowed.output == "200", "\(allowed.output)")

            let blocked = try await ChildProcess.run(
                "/usr/bin/openssl",
                ["s_client", "-proxy", "127.0.0.1:\(node.port)", "-connect", "localhost:\(origin.port)", "-servername", "www.casino.example"],
                input: "")
            #expect(!blocked.output.contains("BEGIN CERTIFICATE"), "\(blocked.output)")
            let fronted = try await ChildProcess.run(
                "/usr/bin/openssl",
                ["s_client", "-proxy", "127.0.0.1:\(node.port)", "-connect", "localhost:\(origin.port)", "-servername", "other.example"],
                input: "")
            #expect(!fronted.output.contains("BEGIN CERTIFICATE"), "\(fronted.output)")
            let matching = try await ChildProcess.run(
                "/usr/bin/openssl",
                ["s_client", "-proxy", "127.0.0.1:\(node.port)", "-connect", "localhost:\(origin.port)", "-servername", "localhost"],
                input: "")
            #expect(matching.output.contains("BEGIN CERTIFICATE"), "\(matching.output)")

            let ssh = try await RawTCP.exchange(
                port: node.port, "CONNECT localhost:\(origin.port) HTTP/1.1\r\nHost: localhost\r\n\r\nSSH-2.0-OpenSSH_9.2\r\n")
            #expect(ssh.hasPrefix("HTTP/1.1 200"), "\(ssh)")
            #expect(!ssh.contains("SSH-2.0"))

            var reasons: [String] = []
            for _ in 0..<300 {  // the activity writer runs at nice 19: under load it may lag for seconds
                try await Task.sleep(for: .milliseconds(100))
                reasons = try await node.node.activity.recent(name: "www.casino.example").compactMap(\.path)
                    + node.node.activity.recent(name: "localhost").compactMap(\.path)
                if reasons.count >= 3 { break }
            }
            #expect(reasons.contains("blocked server name www.casino.example"), "\(reasons)")
            #expect(reasons.contains("server name other.example is not the CONNECT host localhost"), "\(reasons)")
            #expect(reasons.contains("not TLS"), "\(reasons)")
        }
    }
}
