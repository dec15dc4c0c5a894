import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import StewardConfig
import StewardDNS
import StewardDNSWire
import StewardServer
import StewardTestSupport

/// A Steward node on loopback, configured from YAML, with a scripted upstream; queried with the
/// real `dig`.
struct Harness {
    let directory: URL
    let node: ServeNode
    let group: ServiceGroup
    let running: Task<Void, any Error>
    let port: Int

    static let document = "Harmful material is filtered. No gambling."

    static func config(
        upstreamPort: Int, dataDirectory: String, extraDNS: String, listen: [String] = ["127.0.0.1:0"],
        portal: Bool = false
    ) -> String {
        """
        district: {name: Test District, timezone: UTC}
        data-dir: \(dataDirectory)
        documents: [{id: aup, title: Test AUP, file: aup.txt}]
        lists:
          - {name: gambling, path: gambling.txt}
          - {name: adult, path: adult.txt}
        groups:
          - {id: students, roles: student, safe-search: true, youtube: strict}
          - {id: lab}
        zones:
          - {id: school, networks: [127.0.0.1/32, "::1/128"], default-group: students, portal: \(portal)}
          - {id: lab, networks: [127.0.0.3/32], default-group: lab}
        cipa:
          categories: [adult]
          clause: {document: aup, section: Scope, text: Harmful material is filtered.}
        policies:
          - rules:
              - id: no-gambling
                action: block
                match: {categories: [gambling]}
                clause: {document: aup, section: Rules, text: No gambling.}
        metrics: {listen: "127.0.0.1:0"}
        \(portal ? "web: {listen: [\"127.0.0.1:0\"], portal-address: [127.0.0.9, \"fd00::9\"], public-url: \"http://portal.test.example\", allow-before-sign-in: [www.allowed.example]}" : "")
        dns:
          listen: [\(listen.map { "\"\($0)\"" }.joined(separator: ", "))]
          upstreams: ["127.0.0.1:\(upstreamPort)"]
          timeout-ms: 300
          attempts: 2
        \(extraDNS.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    static func start(
        upstreamPort: Int, extraDNS: String = "", listen: [String] = ["127.0.0.1:0"], portal: Bool = false
    ) async throws -> Harness {
        let directory = TestDirectory.root.appendingPathComponent("steward-dns-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try document.write(to: directory.appendingPathComponent("aup.txt"), atomically: true, encoding: .utf8)
        try "casino.example\nbet.example\n198.51.100.66\n".write(
            to: directory.appendingPathComponent("gambling.txt"), atomically: true, encoding: .utf8)
        try "adult.example\n".write(to: directory.appendingPathComponent("adult.txt"), atomically: true, encoding: .utf8)
        let configFile = directory.appendingPathComponent("steward.yaml")
        try config(
            upstreamPort: upstreamPort, dataDirectory: directory.appendingPathComponent("data").path, extraDNS: extraDNS,
            listen: listen, portal: portal)
            .write(to: configFile, atomically: true, encoding: .utf8)
        let loaded = try PolicyLoader.load(configFile: configFile.path)
        var logger = Logger(label: "steward-test")
        logger.logLevel = .warning
        let node = try await ServeNode.make(loaded: loaded, logger: logger)
        let group = ServiceGroup(services: node.services, logger: logger)
        let running = Task { try await group.run() }
        let bound = await node.dnsServer!.boundAddresses()
        return Harness(directory: directory, node: node, group: group, running: running, port: bound.udp[0].port ?? 0)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
        try? FileManager.default.removeItem(at: directory)
    }

    /// GET a path of the metrics endpoint with curl.
    func http(_ path: String) async throws -> String {
        var bound = node.metricsServer?.boundAddress
        for _ in 0..<40 where bound == nil {
            try await Task.sleep(for: .milliseconds(50))
            bound = node.metricsServer?.boundAddress
        }
        guard let port = bound?.port else { return "" }
        return try await ChildProcess.run(
            "/usr/bin/curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(port)\(path)"]
        ).output
    }

    func metrics() async throws -> String { try await http("/metrics") }

    /// Runs dig against the node and returns what it printed.
    func dig(_ arguments: [String]) async throws -> DigResult {
        try await DigResult.run(["@127.0.0.1", "-p", "\(port)", "+time=3", "+tries=1"] + arguments)
    }
}

/// dig's output, taken apart.
struct DigResult {
    let output: String
    let status: Int32

    static func run(_ arguments: [String]) async throws -> DigResult {
        let result = try await ChildProcess.run("/usr/bin/dig", arguments)
        return DigResult(output: result.output, status: result.status)
    }

    /// `NOERROR`, `NXDOMAIN`, …
    var rcode: String? {
        guard let range = output.range(of: "status: ") else { return nil }
        return String(output[range.upperBound...].prefix { $0 != "," })
    }

    /// The header flags (`qr rd ra tc`).
    var flags: [String] {
        guard let line = output.split(separator: "\n").first(where: { $0.contains(";; flags:") }),
            let start = line.range(of: "flags: ")
        else { return [] }
        return line[start.upperBound...].prefix { $0 != ";" }.split(separator: " ").map(String.init)
    }

    /// Lines of a section (`ANSWER`, `AUTHORITY`, `QUESTION`).
    func section(_ name: String) -> [String] {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix(";; \(name) SECTION:") }) else { return [] }
        return Array(lines[(start + 1)...].prefix { !$0.isEmpty })
    }
}
