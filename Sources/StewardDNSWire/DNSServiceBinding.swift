/// What a filter must see in SVCB and HTTPS record data (RFC 9460 §2.2): the target name and the
/// address hints. A client may connect to a hint address without asking for it (§7.3), and follows
/// the target name, so both are decided like the addresses and aliases of other records.
public struct DNSServiceBinding: Sendable {
    /// The TargetName's wire form (uncompressed, §2.2); `[0]` (the root) means the owner itself.
    public let targetWire: [UInt8]
    /// `ipv4hint` (key 4) addresses, network order.
    public let ipv4Hints: [UInt32]
    /// `ipv6hint` (key 6) addresses, high and low 64 bits.
    public let ipv6Hints: [(high: UInt64, low: UInt64)]

    /// Whether the target is the root (".": the owner name itself, or no service in alias form).
    public var targetIsRoot: Bool { targetWire == [0] }

    /// Reads SVCB/HTTPS RDATA; nil when it is not well formed (a priority, an uncompressed target
    /// name of at most 255 octets, then key/length/value triples that fill the data exactly, with
    /// hints whose length is a whole number of addresses).
    public init?<Bytes: RandomAccessCollection>(rdata: Bytes) where Bytes.Element == UInt8, Bytes.Index == Int {
        let start = rdata.startIndex
        let end = rdata.endIndex
        guard end - start >= 3 else { return nil }
        var cursor = start + 2
        var target: [UInt8] = []
        while true {
            guard cursor < end else { return nil }
            let length = Int(rdata[cursor])
            guard length & 0xC0 == 0, cursor + 1 + length <= end else { return nil }
            target.append(contentsOf: rdata[cursor..<cursor + 1 + length])
            cursor += 1 + length
            guard target.count <= 255 else { return nil }
            if length == 0 { break }
        }
        var ipv4: [UInt32] = []
        var ipv6: [(high: UInt64, low: UInt64)] = []
        func u16(_ at: Int) -> Int { Int(rdata[at]) << 8 | Int(rdata[at + 1]) }
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 << 8 | UInt64(rdata[at + $1]) } }
        while cursor < end {
            guard cursor + 4 <= end else { return nil }
            let key = u16(cursor)
            let length = u16(cursor + 2)
            let value = cursor + 4
            guard value + length <= end else { return nil }
            switch key {
            case 4:
                guard length % 4 == 0 else { return nil }
                for at in stride(from: value, to: value + length, by: 4) {
                    ipv4.append(UInt32(u16(at)) << 16 | UInt32(u16(at + 2)))
                }
            case 6:
                guard length % 16 == 0 else { return nil }
                for at in stride(from: value, to: value + length, by: 16) { ipv6.append((u64(at), u64(at + 8))) }
            default:
                break
            }
            cursor = value + length
        }
        targetWire = target
        ipv4Hints = ipv4
        ipv6Hints = ipv6
    }
}

extension DNSRecordData {
    /// The name this record points a client to, for types whose data holds one: the CNAME, DNAME,
    /// NS and PTR targets, MX exchange, SRV target. (SVCB and HTTPS: see `DNSServiceBinding`.)
    public var pointedName: DNSName? {
        switch self {
        case .cname(let name), .ns(let name), .ptr(let name), .dname(let name): name
        case .mx(_, let exchange): exchange
        case .srv(_, _, _, let target): target
        default: nil
        }
    }
}
