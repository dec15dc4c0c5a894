import Testing

@testable import StewardDNSWire

/// SVCB/HTTPS data as the filter reads it (RFC 9460 §2.2): the target and the address hints, and
/// nothing from data that is not well formed.
@Suite struct ServiceBindingTests {
    static let target: [UInt8] = [3] + Array("cdn".utf8) + [7] + Array("example".utf8) + [0]

    @Test func theTargetAndBothKindsOfHintAreRead() throws {
        let data: [UInt8] = [0, 1] + Self.target + [0, 1, 0, 3, 2, 0x68, 0x32]  // alpn=h2
            + [0, 4, 0, 8, 192, 0, 2, 1, 198, 51, 100, 7]  // ipv4hint, two addresses
            + [0, 6, 0, 16] + [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]  // ipv6hint
        let binding = try #require(DNSServiceBinding(rdata: data))
        #expect(binding.targetWire == Self.target)
        #expect(!binding.targetIsRoot)
        #expect(binding.ipv4Hints == [0xC000_0201, 0xC633_6407])
        #expect(binding.ipv6Hints.count == 1 && binding.ipv6Hints[0].high == 0x2001_0db8_0000_0000 && binding.ipv6Hints[0].low == 1)
    }

    @Test func anAliasFormRecordToTheRootHasNoTarget() throws {
        let binding = try #require(DNSServiceBinding(rdata: [0, 0, 0]))
        #expect(binding.targetIsRoot && binding.ipv4Hints.isEmpty && binding.ipv6Hints.isEmpty)
    }

    @Test(arguments: [
        [0, 1] as [UInt8],  // no target
        [0, 1, 3, 0x61, 0x62],  // target cut short
        [0, 1, 0xC0, 0x0C],  // a compression pointer (the target is never compressed)
        [0, 1, 0, 0, 4, 0, 5, 192, 0, 2, 1, 9],  // ipv4hint not a whole number of addresses
        [0, 1, 0, 0, 6, 0, 4, 0, 0, 0, 0],  // ipv6hint of 4 octets
        [0, 1, 0, 0, 4, 0, 8, 192, 0, 2, 1],  // a value longer than the data
        [0, 1, 0, 0, 1],  // a key without its length
    ])
    func malformedDataIsRefused(_ data: [UInt8]) {
        #expect(DNSServiceBinding(rdata: data) == nil)
    }
}
