import Foundation
import NIOCore
import NIOPosix
import StewardConfig
import StewardDNSWire
import StewardPolicy
import Testing

@testable import StewardDNS

/// The fast path writes blocked answers straight from the query's bytes; they must parse and say
/// exactly what the general path says.
@Suite struct FastPathTests {
    struct NoUpstream: DNSUpstream {
        func forward(_ query: DNSMessage, on eventLoop: any EventLoop) -> EventLoopFuture<ForwardedAnswer> {
            eventLoop.makeFailedFuture(UpstreamError.timeout)
        }
    }

    static func snapshot(networks: [String] = ["127.0.0.0/8"]) throws -> PolicySnapshot {
        var definition = PolicyDefinition()
        definition.documents = [PolicyDocument(id: "aup", title: "AUP", text: "No gambling.")]
        definition.groups = [GroupDefinition(id: "everyone")]
        definition.zones = [
            ZoneDefinition(id: "lo", networks: networks.compactMap { IPNetwork($0) }, defaultGroup: "everyone")
        ]
        definition.rules = [
            RuleDefinition(
                id: "no-gambling", action: .block,
                match: { var match = RuleMatch(); match.categories = ["gambling"]; return match }(),
                clause: Clause(document: "aup", section: "S", text: "No gambling."))
        ]
        var compiler = ListCompiler()
        let category = try compiler.addCategory(name: "gambling", source: "test")
        _ = compiler.add(entry: "casino.example", category: category)
        return try PolicySnapshot.compile(definition, lists: compiler).get()
    }

    func answer(
        _ name: String, _ type: DNSRecordType, edns: EDNS? = nil, kind: DNSBlockAnswer, v4: String? = nil, v6: String? = nil
    ) throws -> DNSMessage {
        var configuration = DNSFilter.Configuration()
        configuration.blockAnswer = kind
        configuration.blockPageIPv4 = v4.flatMap { IPAddress($0) }
        configuration.blockPageIPv6 = v6.flatMap { IPAddress($0) }
        configuration.syntheticTTL = 42
        let filter = DNSFilter(
            configuration: configuration, identities: ClientIdentities(), cache: nil, upstream: NoUpstream(),
            recorder: nil)
        var query = DNSMessage(
            header: DNSHeader(id: 0xBEEF, rd: true), questions: [DNSQuestion(name: try DNSName(name), type: type)])
        query.edns = edns
        let packet = query.encoded()
        #expect(DNSQueryPreview(packet) != nil, "the query must qualify for the fast path")
        let outcome = filter.handle(
            packet, from: IPAddress("127.0.0.1")!, transport: .udp, snapshot: try Self.snapshot(),
            eventLoop: MultiThreadedEventLoopGroup.singleton.any())
        guard case .respond(var buffer) = outcome else {
            Issue.record("expected an immediate answer")
            throw CancellationError()
        }
        #expect(filter.metrics.blocked.load(ordering: .relaxed) == 1)
        return try DNSMessage(from: &buffer)
    }

    @Test("NXDOMAIN: header, question as asked, SOA with the blocked TTL")
    func nxdomain() throws {
        let response = try answer("WWW.Casino.example", .A, kind: .nxdomain)
        #expect(response.header.id == 0xBEEF)
        #expect(response.header.qr && response.header.rd && response.header.ra && !response.header.aa)
        #expect(response.rcode == .nxDomain)
        #expect(response.questions.first?.name.description == "WWW.Casino.example")
        #expect(response.answers.isEmpty)
        #expect(response.authorities.first?.type == .SOA)
        #expect(response.authorities.first?.ttl == 42)
        #expect(response.authorities.first?.name.description == "WWW.Casino.example")
        #expect(response.edns == nil)
    }

    @Test("null: A is 0.0.0.0, AAAA is ::, other types NODATA with a SOA")
    func null() throws {
        let a = try answer("casino.example", .A, kind: .null)
        #expect(a.rcode == .noError)
        #expect(a.answers.first?.ipv4 == DNSIPv4Address(0))
        #expect(a.answers.first?.ttl == 42)
        let aaaa = try answer("casino.example", .AAAA, kind: .null)
        #expect(aaaa.answers.first?.ipv6 == DNSIPv6Address(high: 0, low: 0))
        let txt = try answer("casino.example", .TXT, kind: .null)
        #expect(txt.rcode == .noError)
        #expect(txt.answers.isEmpty)
        #expect(txt.authorities.first?.type == .SOA)
    }

    @Test("block-page: the page's addresses, EDNS echoed with the DO bit")
    func blockPage() throws {
        let a = try answer(
            "casino.example", .A, edns: EDNS(udpPayloadSize: 4096, dnssecOK: true), kind: .blockPage, v4: "192.0.2.80",
            v6: "2001:db8::80")
        #expect(a.answers.first?.ipv4 == DNSIPv4Address("192.0.2.80"))
        #expect(a.edns?.dnssecOK == true)
        let aaaa = try answer("casino.example", .AAAA, kind: .blockPage, v4: "192.0.2.80", v6: "2001:db8::80")
        #expect(aaaa.answers.first?.ipv6?.description == "2001:db8::80")
    }

    @Test("The DoH canary is NXDOMAIN whatever the block answer is")
    func canary() throws {
        let response = try answer("Use-Application-DNS.net", .A, kind: .null)
        #expect(response.rcode == .nxDomain)
    }
}
