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

    /// `listedAddresses`: entries of a list whose addresses the first rule blocks.
    static func start(
        tlsPort: Int = 443, proxy extra: String = "", roster: String? = nil, top: String = "", listedAddresses: String = ""
    ) async throws -> Node {
        let origin = try await OriginServer()
        let directory = TestDirectory.root.appendingPathComponent("steward-proxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func save(_ name: String, _ text: String) throws {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try save("aup.txt", document)
        try save("gambling.txt", "casino.example\n")
        try save("paths.txt", "127.0.0.1/forbidden\n")
        try save("streaming.txt", "127.0.0.1/big/stream\n127.0.0.1/big/lesson\n")
        try save("lessons.txt", "127.0.0.1/big/lesson\n")
        try save("trusted.txt", "127.0.0.1\n")
        try save("listed.txt", listedAddresses + "\n")
        if let roster { try save("roster.csv", roster) }
        let proxyKeys = extra.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        try save(
            "steward.yaml",
            """
            district: {name: Test District, timezone: UTC, contact: "help@district.example"}
            data-dir: \(directory.appendingPathComponent("data").path)
            documents: [{id: aup, title: Test AUP, file: aup.txt}]
            lists:
              - {name: gambling, path: gambling.txt}
              - {name: blocked-paths, path: paths.txt, format: urls}
              - {name: streaming, path: streaming.txt, format: urls}
              - {name: lessons, path: lessons.txt, format: urls}
              - {name: trusted-addresses, path: trusted.txt, format: domains}
              - {name: listed-addresses, path: listed.txt, format: domains}
            \(top)
            \(roster == nil ? "" : "roster: roster.csv")
            groups: [{id: students, roles: student}, {id: staff, roles: [teacher, staff]}, {id: lab}]
            zones: [{id: school, networks: [127.0.0.1/32], default-group: students}]
            policies:
              - rules:
                  - {id: no-listed-addresses, action: block, match: {categories: [listed-addresses]}, clause: {document: aup, section: Rules, text: No gambling.}}
                  - {id: no-gambling, action: block, match: {categories: [gambling]}, clause: {document: aup, section: Rules, text: No gambling.}}
                  - {id: students-no-games, action: block, match: {groups: [students], domains: [games.example]}, clause: {document: aup, section: Rules, text: No gambling.}}
                  - {id: no-paths, action: block, match: {categories: [blocked-paths]}, clause: {document: aup, section: Rules, text: No gambling.}}
                  - {id: no-installers, action: block, match: {file-types: [exe, msi]}, clause: {document: aup, section: Downloads, text: Installers need permission.}}
                  - {id: no-video, action: block, match: {mime-types: ["video/*"]}, clause: {document: aup, section: Class, text: No video streaming in class.}}
                  - {id: trusted-addresses, action: allow, match: {categories: [trusted-addresses]}}
                  - {id: students-no-ip-literals, action: block, match: {groups: [students], categories: [ip-address]}, clause: {document: aup, section: Rules, text: No gambling.}}
            proxy:
              listen: ["127.0.0.1:0"]
              connect-ports: [443, \(tlsPort)]
            \(proxyKeys)
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

    static func withNode(
        tlsPort: Int = 443, proxy extra: String = "", roster: String? = nil, top: String = "", listedAddresses: String = "",
        _ body: (Node) async throws -> Void
    ) async throws {
        let node = try await start(tlsPort: tlsPort, proxy: extra, roster: roster, top: top, listedAddresses: listedAddresses)
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
            for _ in 0..<300 where blocked.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                blocked = try await node.node.activity.recent(name: "www.casino.example").map { "\($0.source) \($0.method ?? "") \($0.path ?? "") \($0.action) \($0.rule ?? "") \($0.responseCode)" }
            }
            #expect(blocked.first == "proxy GET /roulette block no-gambling 403", "\(blocked)")
            var allowed: [Int64] = []
            for _ in 0..<300 where allowed.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                allowed = try await node.node.activity.recent(name: "127.0.0.1").map(\.bytesOut)
            }
            #expect(allowed.first == 22)
        }
    }

    @Test("Origin connections are kept alive and reused across client connections; one the origin closed is not")
    func originPool() async throws {
        try await Self.withNode { node in
            let origin = "http://127.0.0.1:\(node.origin.port)"
            // Each event loop keeps its own pool (a client's origin connection lives on the client's
            // loop), so six client connections need at most one origin connection per loop.
            for path in ["/a", "/b", "/c", "/d", "/e", "/f"] {
                let result = try await node.curl(["-i", origin + path])
                #expect(result.output.contains("GET \(path) host="), "\(result.output)")
            }
            let loops = System.coreCount
            #expect(node.origin.connections <= min(loops, 5), "six requests took \(node.origin.connections) origin connections")
            // The origin closes this connection after answering: it is not used again, and the
            // requests after it are answered.
            let closing = try await node.curl(["-i", origin + "/then-close"])
            #expect(closing.output.contains("HTTP/1.1 200"), "\(closing.output)")
            try await Task.sleep(for: .milliseconds(300))
            for path in ["/g", "/h", "/i"] {
                let after = try await node.curl(["-i", origin + path])
                #expect(after.output.contains("GET \(path) host="), "\(after.output)")
            }
            #expect(node.origin.connections <= min(loops, 5) + 1)
        }
    }

    @Test("Timeouts: a request head trickled too slowly is cut off; an origin that never answers gets 504")
    func timeouts() async throws {
        try await Self.withNode(proxy: "request-head-timeout: 1\nresponse-timeout: 1") { node in
            let started = ContinuousClock.now
            let partial = try await RawTCP.exchange(
                port: node.port, "GET http://127.0.0.1:\(node.origin.port)/hello.txt HTTP/1.1\r\nHost: 127.0", timeout: .seconds(8))
            #expect(partial.isEmpty, "\(partial)")
            #expect(ContinuousClock.now - started < .seconds(6), "the half-sent head held the connection for \(ContinuousClock.now - started)")
            let stalled = try await node.curl(["-i", "http://127.0.0.1:\(node.origin.port)/stall"])
            #expect(stalled.output.contains("HTTP/1.1 504"), "\(stalled.output)")
            let fine = try await node.curl(["-i", "http://127.0.0.1:\(node.origin.port)/hello.txt"])
            #expect(fine.output.contains("hello from the origin"), "\(fine.output)")
        }
    }

    static let roster = """
        id,name,role,building,grade,email,status
        S1,Sam Student,student,hs,10,sam@students.example,active
        T1,Tia Teacher,teacher,hs,,tia@district.example,active
        T2,Una Locked,teacher,hs,,una@district.example,active
        """

    @Test("Proxy login: 407 without or with wrong credentials, the person's own policy with the right ones, lockout after repeated failures")
    func proxyLogin() async throws {
        try await Self.withNode(proxy: "authentication: {mode: required, realm: Test District}", roster: Self.roster) { node in
            try await node.node.store.credentials.setPassword(personID: "T1", password: "correct horse", actor: "test")
            try await node.node.store.credentials.setPassword(personID: "S1", password: "battery staple", actor: "test")
            try await node.node.store.credentials.setPassword(personID: "T2", password: "open sesame", actor: "test")
            let url = "http://games.example:\(node.origin.port)/"
            let none = try await node.curl(["-i", "http://127.0.0.1:\(node.origin.port)/hello.txt"])
            #expect(none.output.contains("HTTP/1.1 407"), "\(none.output)")
            #expect(none.output.contains("Proxy-Authenticate: Basic realm=\"Test District\""), "\(none.output)")
            #expect(!none.output.contains("hello from the origin"))
            let wrong = try await node.curl(["-i", "--proxy-user", "T1:wrong", "http://127.0.0.1:\(node.origin.port)/hello.txt"])
            #expect(wrong.output.contains("HTTP/1.1 407"), "\(wrong.output)")

            // games.example is blocked for students only; the address's zone says "students".
            // (The name does not resolve: allowed, the teacher gets 503 from the proxy, as from squid.)
            let teacher = try await node.curl(["-i", "--proxy-user", "T1:correct horse", url])
            #expect(teacher.output.contains("HTTP/1.1 503"), "\(teacher.output)")
            let student = try await node.curl(["-i", "--proxy-user", "sam@students.example:battery staple", url])
            #expect(student.output.contains("HTTP/1.1 403"), "\(student.output)")
            let allowed = try await node.curl(["-i", "--proxy-user", "sam@students.example:battery staple", "http://127.0.0.1:\(node.origin.port)/hello.txt"])
            #expect(allowed.output.contains("hello from the origin"), "\(allowed.output)")
            var people: [String?] = []
            for _ in 0..<300 where Set(people).count < 2 {
                try await Task.sleep(for: .milliseconds(100))
                people = try await node.node.activity.recent(name: "games.example").map(\.personID)
            }
            #expect(Set(people) == ["T1", "S1"], "\(people)")

            // A tunnel asks for the login too.
            let tunnel = try await RawTCP.exchange(port: node.port, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n", timeout: .seconds(2))
            #expect(tunnel.hasPrefix("HTTP/1.1 407"), "\(tunnel)")

            // Five failures lock the account, even for the right password.
            for _ in 0..<5 {
                _ = try await node.curl(["-i", "--proxy-user", "una@district.example:guess", "http://127.0.0.1:\(node.origin.port)/hello.txt"])
            }
            let locked = try await node.curl(["-i", "--proxy-user", "una@district.example:open sesame", "http://127.0.0.1:\(node.origin.port)/x"])
            #expect(locked.output.contains("HTTP/1.1 429"), "\(locked.output)")
        }
    }

    @Test("Priorities (R6): non-priority traffic is paced to the per-person rate; priority categories and other traffic are not")
    func priorities() async throws {
        try await Self.withNode(
            proxy: "bandwidth: {non-priority-kib-per-second: 256}",
            top: "priorities: {non-priority: [streaming], priority: [lessons]}"
        ) { node in
            let metrics = node.node.proxyServer!.metrics
            func limited() -> Int {
                metrics.prometheusText().split(separator: "\n")
                    .first { $0.hasPrefix("steward_proxy_rate_limited_total ") }
                    .flatMap { Int($0.split(separator: " ")[1]) } ?? -1
            }
            let origin = "http://127.0.0.1:\(node.origin.port)"
            #expect(limited() == 0)
            let plain = try await node.curl(["-o", "/dev/null", "-w", "%{http_code} %{size_download}", origin + "/big"])
            #expect(plain.output == "200 1048576", "\(plain.output)")
            // In both lists: priority wins.
            let lesson = try await node.curl(["-o", "/dev/null", "-w", "%{http_code} %{size_download}", origin + "/big/lesson"])
            #expect(lesson.output == "200 1048576", "\(lesson.output)")
            #expect(limited() == 0)
            // 1 MiB at 256 KiB/s after a one-second burst: at least three seconds.
            let started = ContinuousClock.now
            let stream = try await node.curl(["-o", "/dev/null", "-w", "%{http_code} %{size_download}", origin + "/big/stream"])
            let took = ContinuousClock.now - started
            #expect(stream.output == "200 1048576", "\(stream.output)")
            #expect(took >= .milliseconds(2_500), "a limited 1 MiB download took \(took)")
            #expect(limited() > 0)
        }
    }

    @Test("IP-literal destinations follow the policy: students are refused an address unless it is allow-listed, for HTTP and CONNECT, IPv4 and IPv6")
    func ipLiterals() async throws {
        try await Self.withNode { node in
            let listed = try await node.curl(["-i", "http://127.0.0.1:\(node.origin.port)/hello.txt"])
            #expect(listed.output.contains("hello from the origin"), "\(listed.output)")
            for url in ["http://127.0.0.2:\(node.origin.port)/hello.txt", "http://[::1]:\(node.origin.port)/", "http://2130706434/"] {
                let result = try await node.curl(["-i", url])
                #expect(result.output.contains("HTTP/1.1 403"), "\(url): \(result.output)")
                #expect(result.output.contains("students-no-ip-literals") || result.output.contains("ip-address"), "\(result.output)")
            }
            let tunnel = try await RawTCP.exchange(port: node.port, "CONNECT 127.0.0.2:443 HTTP/1.1\r\nHost: 127.0.0.2:443\r\n\r\n", timeout: .seconds(2))
            #expect(tunnel.hasPrefix("HTTP/1.1 403"), "\(tunnel)")
            let tunnel6 = try await RawTCP.exchange(port: node.port, "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", timeout: .seconds(2))
            #expect(tunnel6.hasPrefix("HTTP/1.1 403"), "\(tunnel6)")
        }
    }

    @Test("A name that resolves to a listed address is blocked like the address, for HTTP and CONNECT (squid's dst ACL; wildcard-DNS names like 127.0.0.1.nip.io)")
    func namesResolvingToListedAddresses() async throws {
        // Something to tunnel to; the connection is refused before any byte reaches it.
        let endpoint = try await RawTCP.listen { _ in }
        let tunnelPort = endpoint.localAddress?.port ?? 0
        do {
            try await Self.withNode(tlsPort: tunnelPort, listedAddresses: "127.0.0.1") { node in
                let named = try await node.curl(["-i", "http://localhost:\(node.origin.port)/hello.txt"])
                #expect(named.output.contains("HTTP/1.1 403"), "\(named.output)")
                #expect(named.output.contains("no-listed-addresses") || named.output.contains("listed-addresses"), "\(named.output)")
                #expect(!named.output.contains("hello from the origin"), "\(named.output)")
                let tunnel = try await RawTCP.exchange(
                    port: node.port, "CONNECT localhost:\(tunnelPort) HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout: .seconds(2))
                #expect(tunnel.hasPrefix("HTTP/1.1 403"), "\(tunnel)")
            }
            // Without the listing the same name is served.
            try await Self.withNode { node in
                let named = try await node.curl(["-i", "http://localhost:\(node.origin.port)/hello.txt"])
                #expect(named.output.contains("hello from the origin"), "\(named.output)")
            }
        } catch {
            try? await endpoint.close()
            throw error
        }
        try? await endpoint.close()
    }

    @Test("Steward's own services (at a loopback address, by name or by address), link-local addresses and other protocols' low ports are not reached through the proxy; other loopback origins are (squid's to_localhost, to_linklocal and Safe_ports)")
    func destinationsNotReached() async throws {
        let webPort = try await RawTCP.freePort()
        try await Self.withNode(tlsPort: webPort, top: "web: {listen: [\"127.0.0.1:\(webPort)\"]}") { node in
            // The web service answers on its own (the console is there)...
            var direct = ""
            for _ in 0..<50 where !direct.contains("HTTP/1.1") {
                direct = (try? await RawTCP.exchange(port: webPort, "GET /wpad.dat HTTP/1.1\r\nHost: wpad\r\nConnection: close\r\n\r\n", timeout: .seconds(2))) ?? ""
                if !direct.contains("HTTP/1.1") { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(direct.hasPrefix("HTTP/1.1 "), "\(direct)")
            // ...but not through the proxy, whose address it would come from: by address, by a
            // name for it, through 0.0.0.0, or in a tunnel.
            for url in [
                "http://127.0.0.1:\(webPort)/wpad.dat", "http://localhost:\(webPort)/wpad.dat",
                "http://0.0.0.0:\(webPort)/wpad.dat", "http://127.0.0.1:\(node.port)/proxy.pac",
            ] {
                let answer = try await node.curl(["-i", url])
                #expect(answer.output.hasPrefix("HTTP/1.1 403"), "\(url): \(answer.output)")
                #expect(answer.output.contains("own services"), "\(url): \(answer.output)")
                #expect(!answer.output.contains("FindProxyForURL"), "\(url): \(answer.output)")
            }
            let tunnel = try await RawTCP.exchange(
                port: node.port, "CONNECT localhost:\(webPort) HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout: .seconds(2))
            #expect(tunnel.hasPrefix("HTTP/1.1 403"), "\(tunnel)")
            // Cloud servers' metadata address, and another link-local one, refused before any connection.
            for url in ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/"] {
                let answer = try await node.curl(["-i", url])
                #expect(answer.output.hasPrefix("HTTP/1.1 403"), "\(url): \(answer.output)")
                #expect(answer.output.contains("link-local"), "\(url): \(answer.output)")
            }
            // Ports of other protocols (mail, ssh) are not spoken HTTP to; the registered HTTP
            // ports and unprivileged ones are.
            for port in [25, 22, 110, 1024] {
                let answer = try await node.curl(["-i", "http://127.0.0.1:\(port)/"])
                #expect(answer.output.hasPrefix("HTTP/1.1 403"), "port \(port): \(answer.output)")
                #expect(answer.output.contains("ports 80, 443 and 1025"), "port \(port): \(answer.output)")
            }
            // Port 80 is not refused (whatever answers there, or 503 if nothing does).
            let eighty = try await node.curl(["-i", "http://127.0.0.1:80/"])
            #expect(eighty.output.hasPrefix("HTTP/1.1 "), "\(eighty.output)")
            #expect(!eighty.output.hasPrefix("HTTP/1.1 403"), "\(eighty.output)")
            // Nothing listens: 503, as from squid (ERR_CONNECT_FAIL), for HTTP and CONNECT alike.
            let closedPort = try await RawTCP.freePort()
            let refused = try await node.curl(["-i", "http://127.0.0.1:\(closedPort)/"])
            #expect(refused.output.hasPrefix("HTTP/1.1 503"), "\(refused.output)")
            // A loopback origin that is not Steward is reached.
            let origin = try await node.curl(["-i", "http://localhost:\(node.origin.port)/hello.txt"])
            #expect(origin.output.contains("hello from the origin"), "\(origin.output)")
        }
    }

    @Test("PAC and WPAD from the proxy and the web service, both naming the proxy; the proxy's block page links to the web's review form")
    func autoConfiguration() async throws {
        let webPort = try await RawTCP.freePort()
        try await Self.withNode(proxy: "pac-proxy: \"proxy.district.example:3128\"", top: "web: {listen: [\"127.0.0.1:\(webPort)\"]}") { node in
            let fromProxy = try await RawTCP.exchange(port: node.port, "GET /wpad.dat HTTP/1.1\r\nHost: wpad\r\nConnection: close\r\n\r\n")
            #expect(fromProxy.contains("PROXY proxy.district.example:3128"), "\(fromProxy)")
            var fromWeb = ""
            for _ in 0..<50 where !fromWeb.contains("HTTP/1.1") {
                fromWeb = (try? await RawTCP.exchange(port: webPort, "GET /wpad.dat HTTP/1.1\r\nHost: wpad.district.example\r\nConnection: close\r\n\r\n", timeout: .seconds(2))) ?? ""
                if !fromWeb.contains("HTTP/1.1") { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(fromWeb.hasPrefix("HTTP/1.1 200"), "\(fromWeb)")
            #expect(fromWeb.lowercased().contains("content-type: application/x-ns-proxy-autoconfig"), "\(fromWeb)")
            #expect(fromWeb.contains("function FindProxyForURL"))
            #expect(fromWeb.contains("PROXY proxy.district.example:3128"))
            #expect(fromWeb.contains("isInNet(host, \"127.0.0.1\", \"255.255.255.255\")"))
            // With the web service running, the proxy's block page links to its review form.
            let blocked = try await node.curl(["-i", "http://www.casino.example/"])
            #expect(blocked.output.contains("HTTP/1.1 403"), "\(blocked.output)")
            #expect(blocked.output.contains("href=\"http://127.0.0.1:\(webPort)/blocked?host=www.casino.example\""), "\(blocked.output)")
        }
    }
}
