/// An IPv4 or IPv6 address, stored as 16 bytes (IPv4 in the IPv4-mapped form `::ffff:a.b.c.d`,
/// RFC 4291 2.5.5.2) so that one table can key both families.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// High and low 64 bits of the 128-bit address, network order.
    public let high: UInt64
    public let low: UInt64

    private static let mappedPrefix: UInt64 = 0x0000_FFFF_0000_0000

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public init(ipv4 value: UInt32) {
        self.high = 0
        self.low = Self.mappedPrefix | UInt64(value)
    }

    /// The IPv4 address as a 32-bit number, when this is an IPv4(-mapped) address.
    public var ipv4: UInt32? {
        high == 0 && (low & 0xFFFF_FFFF_0000_0000) == Self.mappedPrefix ? UInt32(truncatingIfNeeded: low) : nil
    }

    public var isIPv4: Bool { ipv4 != nil }

    /// Parses dotted-quad IPv4 (`192.0.2.1`) or RFC 4291 2.2 IPv6 text (`2001:db8::1`, `::ffff:192.0.2.1`,
    /// optionally in brackets). Zone identifiers and non-decimal IPv4 forms are refused.
    public init?(_ text: some StringProtocol) {
        self.init(bytes: Array(text.utf8)[...])
    }

    /// Parses address text given as bytes (no allocation for IPv4).
    public init?(bytes: ArraySlice<UInt8>) {
        var utf8 = bytes
        if utf8.first == UInt8(ascii: "["), utf8.last == UInt8(ascii: "]") {
            utf8 = utf8.dropFirst().dropLast()
        }
        guard let first = utf8.first else { return nil }
        // Cheap rejection: every address starts with a digit, a hex letter or ':'.
        guard first == UInt8(ascii: ":") || Self.hexValue(first) != nil else { return nil }
        if let v4 = Self.parseIPv4(utf8) {
            self.init(ipv4: v4)
        } else if utf8.contains(UInt8(ascii: ":")), let (high, low) = Self.parseIPv6(utf8) {
            self.init(high: high, low: low)
        } else {
            return nil
        }
    }

    static func parseIPv4(_ bytes: ArraySlice<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var parts = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                value = value << 8 | octet
                octet = 0
                digits = 0
                parts += 1
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                // A leading zero ("010") is refused: inet_aton would read it as octal.
                if digits == 1, octet == 0 { return nil }
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard octet <= 255, digits <= 3 else { return nil }
            } else {
                return nil
            }
        }
        guard parts == 3, digits > 0 else { return nil }
        return value << 8 | octet
    }

    static func parseIPv6(_ bytes: ArraySlice<UInt8>) -> (UInt64, UInt64)? {
        guard bytes.count >= 2, bytes.count <= 45 else { return nil }
        var groups: [UInt16] = []
        var gapIndex: Int? = nil
        var index = bytes.startIndex
        if bytes[index] == UInt8(ascii: ":") {
            guard bytes[index + 1] == UInt8(ascii: ":") else { return nil }
            gapIndex = 0
            index += 2
        }
        while index < bytes.endIndex {
            // Embedded IPv4 in the last 32 bits.
            if let dot = bytes[index...].firstIndex(of: UInt8(ascii: ".")),
                bytes[index..<dot].allSatisfy({ $0 != UInt8(ascii: ":") })
            {
                guard let v4 = parseIPv4(bytes[index...]) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xFFFF))
                index = bytes.endIndex
                break
            }
            var value: UInt32 = 0
            var digits = 0
            while index < bytes.endIndex, let hex = hexValue(bytes[index]) {
                value = value << 4 | UInt32(hex)
                digits += 1
                guard digits <= 4 else { return nil }
                index += 1
            }
            guard digits > 0 else { return nil }
            groups.append(UInt16(value))
            guard index < bytes.endIndex else { break }
            guard bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            if index < bytes.endIndex, bytes[index] == UInt8(ascii: ":") {
                guard gapIndex == nil else { return nil }
                gapIndex = groups.count
                index += 1
            } else if index == bytes.endIndex {
                return nil  // trailing single colon
            }
        }
        if let gap = gapIndex {
            guard groups.count <= 7 else { return nil }
            groups.insert(contentsOf: repeatElement(0, count: 8 - groups.count), at: gap)
        }
        guard groups.count == 8 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (position, group) in groups.enumerated() {
            if position < 4 { high = high << 16 | UInt64(group) } else { low = low << 16 | UInt64(group) }
        }
        return (high, low)
    }

    /// The value of a hexadecimal digit (either case).
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    public var description: String {
        if let v4 = ipv4 {
            return "\(v4 >> 24).\(v4 >> 16 & 0xFF).\(v4 >> 8 & 0xFF).\(v4 & 0xFF)"
        }
        let groups = (0..<8).map { i -> UInt16 in
            let word = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: word >> UInt64((3 - i % 4) * 16))
        }
        // RFC 5952: compress the longest run (length >= 2) of zero groups.
        var bestStart = -1, bestLength = 0, runStart = -1
        for i in 0...8 {
            if i < 8, groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength { bestStart = runStart; bestLength = i - runStart }
                runStart = -1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestLength >= 2 else { return hex.joined(separator: ":") }
        let head = hex[..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }
}

/// A network in CIDR notation (`10.20.0.0/16`, `2001:db8::/32`).
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    /// Prefix length over the 128-bit form (an IPv4 /24 is stored as /120).
    public let prefixLength128: Int

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let base = IPAddress(parts[0]) else { return nil }
        let maxLength = base.isIPv4 ? 32 : 128
        var length = maxLength
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), parsed >= 0, parsed <= maxLength,
                parts[1].allSatisfy(\.isASCII)
            else { return nil }
            length = parsed
        }
        let length128 = base.isIPv4 ? length + 96 : length
        let (maskHigh, maskLow) = Self.mask(length128)
        // Host bits set ("10.0.0.1/8") are refused: it is almost always a typo.
        guard base.high & ~maskHigh == 0, base.low & ~maskLow == 0 else { return nil }
        self.address = base
        self.prefixLength128 = length128
    }

    static func mask(_ length: Int) -> (UInt64, UInt64) {
        let high: UInt64 = length >= 64 ? .max : (length == 0 ? 0 : ~UInt64(0) << UInt64(64 - length))
        let low: UInt64 = length <= 64 ? 0 : (length >= 128 ? .max : ~UInt64(0) << UInt64(128 - length))
        return (high, low)
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        let (maskHigh, maskLow) = Self.mask(prefixLength128)
        return candidate.high & maskHigh == address.high && candidate.low & maskLow == address.low
    }

    public var description: String {
        "\(address)/\(address.isIPv4 ? prefixLength128 - 96 : prefixLength128)"
    }
}
