import Foundation
import NIOCore
import NIOPosix
import StewardActivity
import StewardDNSWire
import Synchronization
import Testing

/// The real server on loopback, asked by the real `dig`, forwarding to a scripted upstream.
@Suite(.serialized) struct DNSIntegrationTests {
    static func records() throws -> [String: [DNSResourceRecord]] {
        func name(_ text: String) throws -> DNSName { try DNSName(text) }
        func a(_ owner: String, _ address: String) throws -> DNSResourceRecord {
            .a(try name(owner), ttl: 300, DNSIPv4Address(address)!)
        }
        var table: [String: [DNSResourceRecord]] = [
            "allowed.example": [try a("allowed.example", "192.0.2.10")],
            "signed.example": [try a("signed.example", "192.0.2.12")],
            // An upstream that adds a record for a name nobody asked about.
            "oob.example": [try a("oob.example", "192.0.2.13"), try a("victim.example", "203.0.113.66")],
            "victim.example": [try a("victim.example", "192.0.2.14")],
            // HTTPS data that does not read as RFC 9460 (a compressed target) hinting at a listed address.
            "badsvcb.example": [
                DNSResourceRecord(
                    name: try name("badsvcb.example"), type: .HTTPS, ttl: 300,
                    rdata: .opaque([0, 1, 0xC0, 0x0C, 0, 4, 0, 4, 192, 0, 2, 66])),
                try a("badsvcb.example", "192.0.2.15"),
            ],
            "www.allowed.example": [try a("www.allowed.example", "192.0.2.11")],
            "tracker.allowed.example": [.cname(try name("tracker.allowed.example"), ttl: 300, target: try name("cdn.casino.example"))],
            "cdn.casino.example": [try a("cdn.casino.example", "192.0.2.66")],
            "forcesafesearch.google.com": [try a("forcesafesearch.google.com", "216.239.38.120")],
            "restrict.youtube.com": [try a("restrict.youtube.com", "216.239.38.119")],
            "tcponly.example": [try a("tcponly.example", "192.0.2.99")],
        ]
        table["big.example"] = try (1...40).map { try a("big.example", "198.51.100.\($0)") }
        // Names records point to, and SVCB/HTTPS targets and hints (RFC 9460).
        table["mail.example"] = [
            DNSResourceRecord(name: try name("mail.example"), type: .MX, ttl: 300, rdata: .mx(preference: 10, exchange: try name("cdn.casino.example")))
        ]
        table["glue.example"] = [
            DNSResourceRecord(name: try name("glue.example"), type: .NS, ttl: 300, rdata: .ns(try name("ns1.allowed.example")))
        ]
        table["svc.example"] = [try https("svc.example", target: "cdn.casino.example", hint: nil)]
        table["hinted.example"] = [try https("hinted.example", target: ".", hint: "198.51.100.66")]
        table["fine.example"] = [try https("fine.example", target: ".", hint: "192.0.2.10")]
        return table
    }

    /// An HTTPS record (service form, priority 1) with `target` and one `ipv4hint`.
    static func https(_ owner: String, target: String, hint: String?) throws -> DNSResourceRecord {
        var data: [UInt8] = [0, 1] + (try DNSName(target)).wireBytes
        if let hint, let address = DNSIPv4Address(hint) {
            data += [0, 4, 0, 4] + withUnsafeBytes(of: address.value.bigEndian) { Array($0) }
        }
        return DNSResourceRecord(name: try DNSName(owner), type: .HTTPS, ttl: 300, rdata: .opaque(data))
    }

    /// Glue a careless or hostile upstream adds: a blocked name's address beside an allowed answer.
    static func extraSections() throws -> [String: (authority: [DNSResourceRecord], additional: [DNSResourceRecord])] {
        let glue: [DNSResourceRecord] = [
            .a(try DNSName("cdn.casino.example"), ttl: 300, DNSIPv4Address("192.0.2.66")!),
            .a(try DNSName("ns1.allowed.example"), ttl: 300, DNSIPv4Address("192.0.2.53")!),
        ]
        let delegation = DNSResourceRecord(
            name: try DNSName("allowed.example"), type: .NS, ttl: 300, rdata: .ns(try DNSName("cdn.casino.example")))
        // DNSSEC records an upstream sends whether or not they were asked for.
        let signer = try DNSName("signed.example").wireBytes
        // RRSIG (RFC 4034 3.1): covers A, algorithm 8, 2 labels, TTL 300, expiration, inception,
        // key tag, signer, signature; NSEC (4.1): next name, then window 0 with A.
        let rrsig: [UInt8] = [0, 1, 8, 2, 0, 0, 1, 44, 0x70, 0, 0, 0, 0x60, 0, 0, 0, 0x12, 0x34] + signer
            + Array(repeating: 7, count: 16)
        let signatures: [DNSResourceRecord] = [
            DNSResourceRecord(name: try DNSName("signed.example"), type: .RRSIG, ttl: 300, rdata: .opaque(rrsig)),
            DNSResourceRecord(name: try DNSName("signed.example"), type: .NSEC, ttl: 300, rdata: .opaque(signer + [0, 1, 0x40])),
        ]
        return [
            "glue.example": ([delegation], glue), "www.allowed.example": ([delegation], glue),
            "signed.example": (signatures, []),
        ]
    }

    func withNode(
        upstreamDown: Bool = false, extraDNS: String = "", _ body: (Harness, IntegrationUpstream) async throws -> Void
    ) async throws {
        let upstream = IntegrationUpstream(
            records: try Self.records(), truncateOverUDP: ["tcponly.example"], extraSections: try Self.extraSections())
        try await upstream.start()
        var port = upstream.port
        if upstreamDown {
            await upstream.stop()  // nothing listens there any more
            port = upstream.port
        }
        let harness = try await Harness.start(upstreamPort: port, extraDNS: extraDNS)
        do {
            try await body(harness, upstream)
        } catch {
            await harness.stop()
            await upstream.stop()
            throw error
        }
        await harness.stop()
        await upstream.stop()
    }

    @Test("An allowed name is forwarded and answered; a second ask comes from the cache")
    func allowed() async throws {
        try await withNode { node, upstream in
            let first = try await node.dig(["allowed.example", "A"])
            #expect(first.rcode == "NOERROR", "\(first.output)")
            #expect(first.section("ANSWER").contains { $0.contains("192.0.2.10") })
            let second = try await node.dig(["allowed.example", "A"])
            #expect(second.section("ANSWER").contains { $0.contains("192.0.2.10") })
            #expect(upstream.received.withLock { $0.filter { $0 == "allowed.example" }.count } == 1)
        }
    }

    @Test("A listed name and its subdomains are NXDOMAIN for every type, with a SOA", arguments: [
        ("casino.example", "A"), ("www.casino.example", "AAAA"), ("a.b.c.casino.example", "HTTPS"), ("bet.example", "TXT"),
        ("casino.example", "ANY"),
    ])
    func blocked(name: String, type: String) async throws {
        try await withNode { node, upstream in
            let result = try await node.dig([name, type])
            #expect(result.rcode == "NXDOMAIN", "\(result.output)")
            #expect(result.section("AUTHORITY").contains { $0.contains("SOA") })
            #expect(result.section("ANSWER").isEmpty)
            #expect(upstream.received.withLock { $0.isEmpty }, "a blocked name must never be forwarded")
        }
    }

    @Test("Long names (queries over a few hundred bytes) arrive whole over UDP")
    func longNames() async throws {
        try await withNode { node, _ in
            let label = String(repeating: "a", count: 60)
            let blocked = try await node.dig(["\(label).\(label).\(label).casino.example", "A"])
            #expect(blocked.rcode == "NXDOMAIN", "\(blocked.output)")
            let unknown = try await node.dig(["\(label).\(label).\(label).allowed.example", "AAAA"])
            #expect(unknown.rcode == "NXDOMAIN", "\(unknown.output)")  // the upstream's answer, not FORMERR
        }
    }

    @Test("Mixed case is matched, and the question's case comes back as asked")
    func mixedCase() async throws {
        try await withNode { node, _ in
            let blocked = try await node.dig(["WwW.CaSiNo.ExAmPlE", "A"])
            #expect(blocked.rcode == "NXDOMAIN")
            #expect(blocked.section("QUESTION").contains { $0.contains("WwW.CaSiNo.ExAmPlE.") })
            let allowed = try await node.dig(["ALLOWED.Example", "A"])
            #expect(allowed.rcode == "NOERROR")
            #expect(allowed.section("QUESTION").contains { $0.contains("ALLOWED.Example.") })
        }
    }

    @Test("An allowed name that aliases a blocked one is blocked (CNAME cloaking)")
    func cnameCloaking() async throws {
        try await withNode { node, _ in
            let result = try await node.dig(["tracker.allowed.example", "A"])
            #expect(result.rcode == "NXDOMAIN", "\(result.output)")
            #expect(!result.output.contains("192.0.2.66"))
        }
    }

    @Test("SafeSearch and YouTube restricted mode are enforced by CNAME rewrite for the group")
    func safeSearch() async throws {
        try await withNode { node, _ in
            let google = try await node.dig(["www.google.com", "A"])
            #expect(google.rcode == "NOERROR", "\(google.output)")
            #expect(google.section("ANSWER").contains { $0.contains("CNAME") && $0.contains("forcesafesearch.google.com.") })
            #expect(google.section("ANSWER").contains { $0.contains("216.239.38.120") })
            let youtube = try await node.dig(["www.youtube.com", "A"])
            #expect(youtube.section("ANSWER").contains { $0.contains("restrict.youtube.com.") })
        }
    }

    @Test("Firefox's DNS-over-HTTPS canary is NXDOMAIN so browsers stay on the filter")
    func dohCanary() async throws {
        try await withNode { node, upstream in
            let result = try await node.dig(["use-application-dns.net", "A"])
            #expect(result.rcode == "NXDOMAIN")
            let relay = try await node.dig(["mask.icloud.com", "A"])
            #expect(relay.rcode == "NXDOMAIN")
            #expect(upstream.received.withLock { $0.isEmpty })
        }
    }

    @Test("A response too large for the client's UDP size is truncated; over TCP it is whole")
    func truncation() async throws {
        try await withNode { node, _ in
            let udp = try await node.dig(["big.example", "A", "+noedns", "+ignore"])
            #expect(udp.flags.contains("tc"), "\(udp.output)")
            #expect(udp.section("ANSWER").count < 40)
            let tcp = try await node.dig(["big.example", "A", "+tcp"])
            #expect(tcp.rcode == "NOERROR")
            #expect(tcp.section("ANSWER").count == 40)
            let retried = try await node.dig(["big.example", "A", "+noedns"])  // dig retries over TCP itself
            #expect(retried.section("ANSWER").count == 40)
        }
    }

    @Test("A truncated upstream answer is retried over TCP; the client's answer is a recursive resolver's (RA, no AA)")
    func upstreamTCPRetry() async throws {
        try await withNode { node, _ in
            let result = try await node.dig(["tcponly.example", "A"])
            #expect(result.rcode == "NOERROR", "\(result.output)")
            #expect(result.section("ANSWER").contains { $0.contains("192.0.2.99") })
            // The upstream answered authoritatively and without recursion; Steward is neither.
            #expect(result.flags.contains("ra") && !result.flags.contains("aa"), "\(result.flags)")
        }
    }

    @Test("Names records point to (MX, SVCB/HTTPS targets) and HTTPS address hints are decided, from the upstream and from the cache")
    func pointedNamesAndHints() async throws {
        try await withNode { node, _ in
            for (name, type) in [("mail.example", "MX"), ("svc.example", "HTTPS"), ("hinted.example", "HTTPS")] {
                for ask in ["first", "cached"] {
                    let result = try await node.dig([name, type])
                    #expect(result.rcode == "NXDOMAIN", "\(name) \(type) (\(ask)): \(result.output)")
                    #expect(!result.output.contains("casino") && !result.output.contains("198.51.100.66"), "\(result.output)")
                }
            }
            for ask in ["first", "cached"] {
                let fine = try await node.dig(["fine.example", "HTTPS"])
                #expect(fine.rcode == "NOERROR" && fine.output.contains("ipv4hint=192.0.2.10"), "\(ask): \(fine.output)")
            }
        }
    }

    @Test("Glue and other records outside the answer never reach the client: a blocked name's address cannot ride along")
    func minimalSections() async throws {
        try await withNode { node, _ in
            for (name, type) in [("glue.example", "NS"), ("www.allowed.example", "A")] {
                for ask in ["first", "cached"] {
                    let result = try await node.dig([name, type])
                    #expect(result.rcode == "NOERROR", "\(name) (\(ask)): \(result.output)")
                    #expect(result.section("ANSWER").count == 1, "\(result.output)")
                    #expect(result.section("AUTHORITY").isEmpty && result.section("ADDITIONAL").isEmpty, "\(name) (\(ask)): \(result.output)")
                    #expect(!result.output.contains("192.0.2.66") && !result.output.contains("casino"), "\(result.output)")
                }
            }
            // A negative answer keeps its SOA (RFC 2308).
            let missing = try await node.dig(["nothing-here.example", "A"])
            #expect(missing.rcode == "NXDOMAIN" && missing.section("AUTHORITY").contains { $0.contains("SOA") }, "\(missing.output)")
        }
    }

    @Test("Answers asked with checking disabled (CD) or with DNSSEC records (DO) are cached apart from plain ones (RFC 4035 3.2.2, RFC 3225)")
    func cacheKeepsCDAndDOApart() async throws {
        try await withNode { node, upstream in
            func asked() -> Int { upstream.received.withLock { $0.filter { $0 == "allowed.example" }.count } }
            var expected = 0
            for flags in [["+cd"], [], ["+dnssec"], ["+cd", "+dnssec"]] {
                let first = try await node.dig(["allowed.example", "A"] + flags)
                #expect(first.rcode == "NOERROR", "\(flags): \(first.output)")
                expected += 1
                #expect(asked() == expected, "\(flags): a kind of query not asked before must go upstream")
                let again = try await node.dig(["allowed.example", "A"] + flags)
                #expect(again.section("ANSWER").contains { $0.contains("192.0.2.10") }, "\(flags)")
                #expect(asked() == expected, "\(flags): the same kind of query again comes from the cache")
            }
        }
    }

    /// Sends `bytes` on a new TCP connection to the server, half-closes at once when asked, and
    /// returns what came back until the server closed (or `timeout`), and how long that took.
    static func tcpExchange(
        port: Int, _ parts: [[UInt8]], pause: Duration = .zero, halfClose: Bool, timeout: Duration = .seconds(8)
    ) async throws -> (received: [UInt8], elapsed: Duration) {
        let collector = ByteCollector()
        let started = ContinuousClock.now
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        for (index, part) in parts.enumerated() {
            if index > 0 { try await Task.sleep(for: pause) }
            guard channel.isActive else { break }
            try? await channel.writeAndFlush(ByteBuffer(bytes: part))
        }
        if halfClose { channel.close(mode: .output, promise: nil) }
        while channel.isActive, ContinuousClock.now - started < timeout { try await Task.sleep(for: .milliseconds(20)) }
        let open = channel.isActive
        try? await channel.close()
        return (collector.bytes.withLock { $0 }, open ? timeout + .seconds(1) : ContinuousClock.now - started)
    }

    final class ByteCollector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let bytes = Mutex<[UInt8]>([])
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            bytes.withLock { $0 += buffer.readableBytesView }
        }
    }

    /// The length-prefixed messages of a TCP stream, parsed.
    static func messages(inTCPStream bytes: [UInt8]) throws -> [DNSMessage] {
        var buffer = ByteBuffer(bytes: bytes)
        var messages: [DNSMessage] = []
        while let length = buffer.readInteger(as: UInt16.self), var message = buffer.readSlice(length: Int(length)) {
            messages.append(try DNSMessage(from: &message))
        }
        return messages
    }

    static func framed(_ name: String, id: UInt16) throws -> [UInt8] {
        let query = DNSMessage(header: DNSHeader(id: id, rd: true), questions: [DNSQuestion(name: try DNSName(name), type: .A)])
        let bytes = Array(query.encoded().readableBytesView)
        return [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }

    @Test("Queries a TCP client sends just before half-closing are all answered before the connection closes (RFC 7766)")
    func tcpHalfClose() async throws {
        try await withNode { node, _ in
            let queries = try Self.framed("allowed.example", id: 1) + Self.framed("casino.example", id: 2)
                + Self.framed("www.allowed.example", id: 3)
            let (received, elapsed) = try await Self.tcpExchange(port: node.port, [queries], halfClose: true)
            let ids = try Self.messages(inTCPStream: received).map(\.header.id)
            #expect(ids.sorted() == [1, 2, 3], "\(received.count) octets back")
            #expect(elapsed < .seconds(5), "the server closed after answering, not at its idle timeout")
        }
    }

    @Test("DNSSEC records reach only clients that set DO (RFC 3225 3), from the upstream and from the cache")
    func dnssecRecordsOnlyWithDO() async throws {
        try await withNode { node, _ in
            for _ in 0..<2 {
                let plain = try await node.dig(["+noedns", "signed.example", "A"])
                #expect(plain.rcode == "NOERROR", "\(plain.output)")
                #expect(plain.section("ANSWER").contains { $0.contains("192.0.2.12") }, "\(plain.output)")
                #expect(!plain.output.contains("RRSIG") && !plain.output.contains("NSEC"), "\(plain.output)")
                let edns = try await node.dig(["signed.example", "A"])
                #expect(!edns.output.contains("RRSIG") && !edns.output.contains("NSEC"), "EDNS without DO: \(edns.output)")
                let secure = try await node.dig(["+dnssec", "signed.example", "A"])
                #expect(secure.output.contains("RRSIG") && secure.output.contains("NSEC"), "\(secure.output)")
            }
        }
    }

    @Test("Only the question's name and its CNAME chain are answered: a record for another name is scrubbed, and is not cached for that name")
    func outOfChainRecordsScrubbed() async throws {
        try await withNode { node, _ in
            for _ in 0..<2 {
                let result = try await node.dig(["oob.example", "A"])
                #expect(result.section("ANSWER").contains { $0.contains("192.0.2.13") }, "\(result.output)")
                #expect(!result.output.contains("203.0.113.66") && !result.output.contains("victim"), "\(result.output)")
            }
            let victim = try await node.dig(["victim.example", "A"])
            #expect(victim.section("ANSWER").contains { $0.contains("192.0.2.14") }, "\(victim.output)")
            #expect(!victim.output.contains("203.0.113.66"), "\(victim.output)")
        }
    }

    @Test("An HTTPS record whose data cannot be read is not passed on undecided")
    func unreadableServiceBindingDropped() async throws {
        try await withNode { node, _ in
            let result = try await node.dig(["badsvcb.example", "HTTPS"])
            #expect(result.rcode == "NOERROR", "\(result.output)")
            #expect(!result.output.contains("192.0.2.66") && !result.section("ANSWER").contains { $0.contains("HTTPS") }, "\(result.output)")
        }
    }

    @Test("A truncated answer whose TCP retry hangs ends in SERVFAIL within timeout x attempts, not after the TCP timeout")
    func hungTCPRetryBounded() async throws {
        try await withNode { node, _ in
            let started = ContinuousClock.now
            let result = try await node.dig(["tcphang.example", "A"])
            let elapsed = ContinuousClock.now - started
            #expect(result.rcode == "SERVFAIL", "\(result.output)")
            // 300 ms x 2 attempts in the harness; before, each TCP retry waited 3 s.
            #expect(elapsed < .seconds(1.5), "\(elapsed)")
        }
    }

    @Test("Pipelined TCP queries are answered as each is ready: a lookup the upstream never answers holds up nothing behind it (RFC 7766 6.2.1.1)")
    func tcpOutOfOrder() async throws {
        try await withNode { node, _ in
            let queries = try Self.framed("never.silent.example", id: 1) + Self.framed("casino.example", id: 2)
                + Self.framed("allowed.example", id: 3)
            let (received, _) = try await Self.tcpExchange(port: node.port, [queries], halfClose: true)
            let answers = try Self.messages(inTCPStream: received).map { (id: $0.header.id, rcode: $0.rcode) }
            // The blocked name and the forwarded one come back first; the silent one last, as
            // SERVFAIL once its attempts timed out, before the connection closed.
            #expect(answers.map(\.id) == [2, 3, 1] || answers.map(\.id) == [3, 2, 1], "\(answers)")
            #expect(answers.first { $0.id == 1 }?.rcode == .servFail)
            #expect(answers.first { $0.id == 2 }?.rcode == .nxDomain)
        }
    }

    @Test("One client address may hold at most tcp-max-per-client TCP connections; over it they are closed at once, and served again once some close")
    func tcpPerClientCap() async throws {
        try await withNode(extraDNS: "tcp-max-per-client: 3") { node, _ in
            var held: [any Channel] = []
            for _ in 0..<3 {
                held.append(
                    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .connect(host: "127.0.0.1", port: node.port).get())
            }
            // Give the server time to take the three in.
            try await Task.sleep(for: .milliseconds(200))
            // A fourth connection from 127.0.0.1 is closed by the server at once, unanswered.
            let collector = ByteCollector()
            let fourth = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
                }
                .connect(host: "127.0.0.1", port: node.port).get()
            try? await fourth.writeAndFlush(ByteBuffer(bytes: try Self.framed("allowed.example", id: 7)))
            let started = ContinuousClock.now
            while fourth.isActive, ContinuousClock.now - started < .seconds(3) { try await Task.sleep(for: .milliseconds(20)) }
            #expect(!fourth.isActive, "the server closed the fourth connection")
            #expect(collector.bytes.withLock { $0 }.isEmpty, "without answering it")
            try? await fourth.close()
            // UDP from the same address is not affected.
            let udp = try await node.dig(["allowed.example", "A"])
            #expect(udp.rcode == "NOERROR", "\(udp.output)")
            for channel in held { try await channel.close() }
            try await Task.sleep(for: .milliseconds(200))
            let again = try await node.dig(["+tcp", "allowed.example", "A"])
            #expect(again.rcode == "NOERROR", "once they close, the client is served again: \(again.output)")
        }
    }

    @Test("A TCP message trickled in byte by byte is cut off after the idle timeout, though every byte came in time")
    func tcpTrickle() async throws {
        try await withNode(extraDNS: "tcp-idle-timeout: 1") { node, _ in
            let query = try Self.framed("allowed.example", id: 9)
            let (received, elapsed) = try await Self.tcpExchange(
                port: node.port, query.map { [$0] }, pause: .milliseconds(300), halfClose: false, timeout: .seconds(8))
            #expect(received.isEmpty, "a message that took \(query.count * 300) ms was answered")
            #expect(elapsed < .seconds(3), "the connection stayed open for \(elapsed)")
        }
    }

    @Test("Several queries on one TCP connection are all answered")
    func tcpKeepOpen() async throws {
        try await withNode { node, _ in
            let result = try await node.dig(["+tcp", "+keepopen", "allowed.example", "A", "casino.example", "A", "www.allowed.example", "A"])
            #expect(result.output.components(separatedBy: "status: ").count - 1 == 3, "\(result.output)")
            #expect(result.output.contains("192.0.2.10"))
            #expect(result.output.contains("NXDOMAIN"))
            #expect(result.output.contains("192.0.2.11"))
        }
    }

    @Test("A client outside every configured network is REFUSED: never an open resolver")
    func refusedOutside() async throws {
        try await withNode { node, upstream in
            let result = try await node.dig(["-b", "127.0.0.2", "allowed.example", "A"])
            #expect(result.rcode == "REFUSED", "\(result.output)")
            #expect(upstream.received.withLock { $0.isEmpty })
            let lab = try await node.dig(["-b", "127.0.0.3", "allowed.example", "A"])
            #expect(lab.rcode == "NOERROR")
        }
    }

    @Test("A client over its rate limit is not answered; others still are")
    func rateLimit() async throws {
        try await withNode(extraDNS: "rate-limit: {queries-per-second: 1, burst: 3}") { node, _ in
            // Six queries back to back: the burst of three is answered, the rest are not.
            let queries = try (0..<6).map { index -> [UInt8] in
                let query = DNSMessage(
                    header: DNSHeader(id: UInt16(100 + index), rd: true),
                    questions: [DNSQuestion(name: try DNSName("casino.example"), type: .A)])
                return Array(query.encoded().readableBytesView)
            }
            let replies = try await udpBurst(port: node.port, packets: queries, wait: .milliseconds(500))
            #expect(replies.count == 3)
            #expect(try await node.dig(["-b", "127.0.0.3", "allowed.example", "A"]).rcode == "NOERROR")
            let metrics = try await node.metrics()
            #expect(metrics.contains("steward_dns_dropped_total{reason=\"rate-limit\"} 3"), "\(metrics)")
        }
    }

    @Test("Metrics count decisions, and the health endpoint answers")
    func metrics() async throws {
        try await withNode { node, _ in
            _ = try await node.dig(["casino.example", "A"])
            _ = try await node.dig(["allowed.example", "A"])
            _ = try await node.dig(["allowed.example", "A"])
            let text = try await node.metrics()
            #expect(text.contains("steward_dns_queries_total{decision=\"block\"} 1"), "\(text)")
            #expect(text.contains("steward_dns_queries_total{decision=\"allow\"} 2"))
            #expect(text.contains("steward_dns_cache_hits_total 1"))
            #expect(text.contains("steward_activity_dropped_total 0"))
            #expect(try await node.http("/healthz") == "ok\n")
        }
    }

    @Test("ANY is answered minimally (RFC 8482)")
    func anyQuery() async throws {
        try await withNode { node, _ in
            let result = try await node.dig(["allowed.example", "ANY"])
            #expect(result.rcode == "NOERROR")
            #expect(result.section("ANSWER").contains { $0.contains("HINFO") && $0.contains("RFC8482") })
        }
    }

    @Test("Opcodes other than QUERY get NOTIMP, with or without a question (RFC 8906 3.1.5); classes other than IN, ANY included, get REFUSED")
    func opcodesAndClasses() async throws {
        try await withNode { node, _ in
            // Bare headers: ID = the opcode, the opcode, no sections.
            let opcodes: [UInt8] = [1, 2, 4, 5, 6, 15]
            let replies = try await udpBurst(
                port: node.port, packets: opcodes.map { [0x00, $0, $0 << 3, 0x00, 0, 0, 0, 0, 0, 0, 0, 0] },
                wait: .seconds(1))
            #expect(replies.count == opcodes.count, "every opcode answered: \(replies)")
            for reply in replies where reply.count >= 12 {
                let opcode = reply[1]
                #expect(reply[2] & 0x80 != 0 && (reply[2] >> 3) & 0x0F == opcode, "opcode \(opcode) echoed")
                #expect(reply[3] & 0x0F == 4, "opcode \(opcode): NOTIMP")
            }
            let header = try await node.dig(["+opcode=15", "+header-only", "+noedns"])
            #expect(header.rcode == "NOTIMP", "\(header.output)")
            for qclass in ["CH", "HS", "CLASS255", "CLASS0"] {
                let started = ContinuousClock.now
                let result = try await node.dig(["-c", qclass, "allowed.example", "A"])
                #expect(result.rcode == "REFUSED", "class \(qclass): \(result.output)")
                #expect(ContinuousClock.now - started < .seconds(1), "class \(qclass) refused at once")
            }
        }
    }

    @Test("When no upstream answers, the client gets SERVFAIL within the bounded time")
    func upstreamDown() async throws {
        try await withNode(upstreamDown: true) { node, _ in
            let started = ContinuousClock.now
            let result = try await node.dig(["allowed.example", "A"])
            let elapsed = ContinuousClock.now - started
            #expect(result.rcode == "SERVFAIL", "\(result.output)")
            #expect(elapsed < .seconds(2.5))
            // Blocked names are still answered at once.
            #expect(try await node.dig(["casino.example", "A"]).rcode == "NXDOMAIN")
        }
    }

    @Test("A malformed query with an ID gets FORMERR; one without is dropped; the server keeps serving")
    func malformed() async throws {
        try await withNode { node, _ in
            // Header claiming one question, then a label length of 64 (reserved bits): malformed.
            let reply = try await udpExchange(port: node.port, bytes: [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0x40])
            #expect(reply.count >= 12)
            #expect(reply.prefix(2) == [0x12, 0x34])
            #expect(reply[3] & 0x0F == 1)  // FORMERR
            let none = try await udpExchange(port: node.port, bytes: [0x12], wait: .milliseconds(300))
            #expect(none.isEmpty)
            #expect(try await node.dig(["allowed.example", "A"]).rcode == "NOERROR")
        }
    }

    @Test("Every query becomes an activity event in the store, with the rule for blocks")
    func activity() async throws {
        try await withNode { node, _ in
            _ = try await node.dig(["casino.example", "A"])
            _ = try await node.dig(["allowed.example", "A"])
            var events: [ActivityRecord] = []
            for _ in 0..<300 where events.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                events = try await node.node.activity.recent(name: "casino.example")
            }
            #expect(events.first?.action == "block")
            #expect(events.first?.rule == "no-gambling")
            #expect(events.first?.client == "127.0.0.1")
            #expect(try await node.node.activity.count() >= 2)
        }
    }
}

/// Sends packets back to back from one socket; returns the replies that came within `wait`.
func udpBurst(port: Int, packets: [[UInt8]], wait: Duration) async throws -> [[UInt8]] {
    let socket = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                    wrappingChannelSynchronously: channel)
            }
        }
    return try await socket.executeThenClose { inbound, outbound in
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        for packet in packets {
            try await outbound.write(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: packet)))
        }
        let collected = Collected()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await envelope in inbound { collected.append(Array(envelope.data.readableBytesView)) }
                } catch {}
            }
            try? await Task.sleep(for: wait)
            group.cancelAll()
        }
        return collected.all
    }
}

/// Replies gathered by a reading task.
final class Collected: Sendable {
    private let items = Mutex<[[UInt8]]>([])
    func append(_ item: [UInt8]) { items.withLock { $0.append(item) } }
    var all: [[UInt8]] { items.withLock { $0 } }
}

/// Sends raw bytes over UDP to the node and returns the reply (empty when none comes in time).
func udpExchange(port: Int, bytes: [UInt8], wait: Duration = .seconds(2)) async throws -> [UInt8] {
    try await udpBurst(port: port, packets: [bytes], wait: wait).first ?? []
}
