import NIOCore
import StewardDNSWire
import StewardPolicy

/// Answers Steward makes itself: blocks, bypass closers, RFC 8482 minimal ANY answers.
struct SyntheticAnswers {
    let blockAnswer: DNSBlockAnswer
    let blockPageIPv4: DNSIPv4Address?
    let blockPageIPv6: DNSIPv6Address?
    let ttl: UInt32

    /// The SOA placed in the authority section of synthesised negative answers, so that resolvers
    /// cache them for `ttl` seconds (RFC 2308 section 3).
    // The names are constants; `try!` cannot fail for them.
    static let soaServer = try! DNSName("steward.invalid")
    static let soaMailbox = try! DNSName("hostmaster.steward.invalid")

    func soa(for name: DNSName) -> DNSResourceRecord {
        .soa(
            name, ttl: ttl,
            DNSSOA(
                primaryServer: Self.soaServer, responsibleMailbox: Self.soaMailbox, serial: 1, refresh: 3600, retry: 600,
                expire: 86_400, minimum: ttl))
    }

    /// NXDOMAIN with a SOA.
    func nxdomain(for query: DNSMessage, question: DNSQuestion) -> DNSMessage {
        var response = query.makeResponse(rcode: .nxDomain)
        response.addAuthority(soa(for: question.name))
        return response
    }

    /// The answer for a blocked name, for any query type: real data never leaks.
    func blocked(for query: DNSMessage, question: DNSQuestion) -> DNSMessage {
        switch blockAnswer {
        case .nxdomain:
            return nxdomain(for: query, question: question)
        case .null:
            return addressAnswer(
                query, question, ipv4: DNSIPv4Address(0), ipv6: DNSIPv6Address(high: 0, low: 0))
        case .blockPage:
            return addressAnswer(query, question, ipv4: blockPageIPv4, ipv6: blockPageIPv6)
        }
    }

    private func addressAnswer(
        _ query: DNSMessage, _ question: DNSQuestion, ipv4: DNSIPv4Address?, ipv6: DNSIPv6Address?
    ) -> DNSMessage {
        var response = query.makeResponse()
        if question.type == .A, let ipv4 {
            response.addAnswer(.a(question.name, ttl: ttl, ipv4))
        } else if question.type == .AAAA, let ipv6 {
            response.addAnswer(.aaaa(question.name, ttl: ttl, ipv6))
        } else {
            // NODATA: the name exists (it answers A/AAAA) but has nothing of this type.
            response.addAuthority(soa(for: question.name))
        }
        return response
    }

    /// RFC 8482 section 4.2: answer ANY with one synthesised HINFO record.
    func minimalAny(for query: DNSMessage, question: DNSQuestion) -> DNSMessage {
        var response = query.makeResponse()
        // HINFO RDATA: two character-strings, "RFC8482" and "".
        let cpu = Array("RFC8482".utf8)
        let rdata = [UInt8(cpu.count)] + cpu + [0]
        response.addAnswer(
            DNSResourceRecord(name: question.name, type: .HINFO, class: .IN, ttl: 3600, rdata: .opaque(rdata)))
        return response
    }
}
