import NIOCore
import StewardDNSWire
import Testing

@testable import StewardDNS

/// The forwarded query is written directly; it must be exactly what encoding the message gives.
@Suite struct UpstreamQueryTests {
    @Test(arguments: [
        (DNSHeader(id: 7, rd: true), nil as EDNS?),
        (DNSHeader(id: 7, rd: true, ad: true, cd: true), EDNS(udpPayloadSize: 4096, dnssecOK: true)),
        (DNSHeader(id: 7, rd: false), EDNS(udpPayloadSize: 512, dnssecOK: false, options: [EDNSOption(code: .cookie, data: [1, 2, 3, 4, 5, 6, 7, 8])])),
    ])
    func theForwardedQueryIsByteForByteTheEncodedMessage(_ header: DNSHeader, _ edns: EDNS?) throws {
        let question = DNSQuestion(name: try DNSName("WwW.Example.ORG"), type: .AAAA)
        let client = DNSMessage(header: header, questions: [question], edns: edns)
        let upstream = try SocketAddress(ipAddress: "192.0.2.53", port: 53)
        let query = UpstreamQuery(forwarding: client, question: question, id: 0xABCD, to: upstream)

        var expectedHeader = header
        expectedHeader.id = 0xABCD
        let expected = DNSMessage(
            header: expectedHeader, questions: [question],
            edns: EDNS(udpPayloadSize: 1232, dnssecOK: edns?.dnssecOK ?? false))
        #expect(Array(query.wire.readableBytesView) == Array(expected.encoded().readableBytesView))
    }
}
