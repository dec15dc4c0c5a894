/// A domain name in wire form (RFC 1035 3.1): length-prefixed labels ending with the zero-length
/// root label, at most 255 octets, each label at most 63 octets. Labels may hold any octets.
///
/// The original letter case is kept (a server must echo the query name exactly, which also keeps
/// 0x20 case randomisation working), but `==` and `hash(into:)` ignore ASCII case as RFC 4343
/// requires. Use `isIdentical(to:)` for an exact, case-sensitive comparison.
public struct DNSName: Sendable {
    /// The name in uncompressed wire form, including the final zero octet.
    public let wireBytes: [UInt8]

    /// Wraps bytes already known to be a valid uncompressed wire-form name.
    init(uncheckedWire wireBytes: [UInt8]) {
        self.wireBytes = wireBytes
    }

    /// The root name, ".".
    public static let root = DNSName(uncheckedWire: [0])

    /// Validates and wraps an uncompressed wire-form name (no compression pointers).
    public init(wireBytes: [UInt8]) throws(DNSWireError) {
        var offset = 0
        while true {
            guard offset < wireBytes.count else {
                throw DNSWireError(.truncated, "name ends without a root label")
            }
            let length = Int(wireBytes[offset])
            if length == 0 { break }
            try Self.checkLengthOctet(UInt8(length))
            offset += 1 + length
            guard offset < Self.maxWireLength else {
                throw DNSWireError(.nameTooLong, "name length exceeds \(Self.maxWireLength)")
            }
        }
        guard offset + 1 == wireBytes.count else {
            throw DNSWireError(.rdataLengthMismatch, "\(wireBytes.count - offset - 1) octets after the root label")
        }
        self.wireBytes = wireBytes
    }

    /// Builds a name from its labels, leftmost first (the root label is implied and must not be given).
    public init<Labels: Sequence>(labels: Labels) throws(DNSWireError) where Labels.Element: Collection<UInt8> {
        var wire: [UInt8] = []
        for label in labels {
            guard !label.isEmpty else { throw DNSWireError(.emptyLabel, "empty label") }
            guard label.count <= Self.maxLabelLength else {
                throw DNSWireError(.labelTooLong, "label length \(label.count) exceeds \(Self.maxLabelLength)")
            }
            wire.append(UInt8(label.count))
            wire.append(contentsOf: label)
        }
        wire.append(0)
        guard wire.count <= Self.maxWireLength else {
            throw DNSWireError(.nameTooLong, "name length \(wire.count) exceeds \(Self.maxWireLength)")
        }
        self.wireBytes = wire
    }

    /// Longest label, in octets (RFC 1035 2.3.4).
    public static let maxLabelLength = 63
    /// Longest name in wire form, in octets, including the root label (RFC 1035 2.3.4).
    public static let maxWireLength = 255

    /// Octets this name takes on the wire without compression.
    public var wireLength: Int { wireBytes.count }

    /// Whether this is the root name.
    public var isRoot: Bool { wireBytes.count == 1 }

    /// Number of labels, not counting the root label (0 for the root).
    public var labelCount: Int {
        var count = 0
        var offset = 0
        while offset < wireBytes.count, wireBytes[offset] != 0 {
            count += 1
            offset += 1 + Int(wireBytes[offset])
        }
        return count
    }

    /// The labels, leftmost first, without the root label.
    public var labels: [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var offset = 0
        while offset < wireBytes.count, wireBytes[offset] != 0 {
            let length = Int(wireBytes[offset])
            result.append(wireBytes[(offset + 1)..<(offset + 1 + length)])
            offset += 1 + length
        }
        return result
    }

    /// This name with ASCII letters lowered (RFC 4343 canonical case).
    public func lowercased() -> DNSName {
        DNSName(uncheckedWire: wireBytes.map(Self.lower))
    }

    /// Whether this name is `other` or lies below it (`a.example.com` is a subdomain of
    /// `example.com` and of itself; every name is a subdomain of the root). Case-insensitive.
    public func isSubdomain(of other: DNSName) -> Bool {
        let suffixStart = wireBytes.count - other.wireBytes.count
        guard suffixStart >= 0 else { return false }
        var offset = 0
        while offset < suffixStart { offset += 1 + Int(wireBytes[offset]) }
        guard offset == suffixStart else { return false }
        for index in 0..<other.wireBytes.count
        where Self.lower(wireBytes[suffixStart + index]) != Self.lower(other.wireBytes[index]) {
            return false
        }
        return true
    }

    /// Exact comparison, letter case included.
    public func isIdentical(to other: DNSName) -> Bool {
        wireBytes == other.wireBytes
    }

    /// Calls `body` with the name as dotted bytes: the raw label octets joined by ".", letter case
    /// as received, no trailing dot, no escaping, and empty for the root. This is the form the policy
    /// engine matches on. It uses a stack buffer and does not allocate.
    ///
    /// A label that itself contains a "." octet makes this form ambiguous (it reads as two labels);
    /// that only ever makes a name look *more* specific, which is the safe direction for a filter.
    public func withUTF8Text<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try wireBytes.withUnsafeBytes { wire in
            try Self.withDottedText(wire, body)
        }
    }

    /// Converts an uncompressed wire-form name to dotted bytes in a stack buffer. Defensive: stops
    /// at the end of `wire` or at anything that is not a plain label.
    static func withDottedText<R>(
        _ wire: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxWireLength) { out in
            var count = 0
            var offset = 0
            while offset < wire.count {
                let length = Int(wire[offset])
                guard length > 0, length <= maxLabelLength, offset + 1 + length <= wire.count else { break }
                if count > 0, count < out.count {
                    out[count] = UInt8(ascii: ".")
                    count += 1
                }
                for index in (offset + 1)..<(offset + 1 + length) where count < out.count {
                    out[count] = wire[index]
                    count += 1
                }
                offset += 1 + length
            }
            return try body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<count]))
        }
    }

    /// `byte` with an ASCII capital letter lowered (names compare case-insensitively, RFC 4343).
    @inlinable @inline(__always)
    public static func lower(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    /// Checks a label length octet other than zero or a pointer.
    static func checkLengthOctet(_ octet: UInt8) throws(DNSWireError) {
        switch octet >> 6 {
        case 0: return
        case 1: throw DNSWireError(.labelTooLong, "label length \(octet) exceeds \(maxLabelLength)")
        case 2: throw DNSWireError(.reservedLabelType, "reserved label type 0x80")
        default: throw DNSWireError(.reservedLabelType, "compression pointer not allowed in an uncompressed name")
        }
    }
}

extension DNSName: Hashable {
    /// Case-insensitive equality (RFC 4343): ASCII letters compare equal regardless of case.
    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        guard lhs.wireBytes.count == rhs.wireBytes.count else { return false }
        for index in lhs.wireBytes.indices where lower(lhs.wireBytes[index]) != lower(rhs.wireBytes[index]) {
            return false
        }
        return true
    }

    /// Hashes the lower-cased wire form, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: wireBytes.count) { out in
            for index in wireBytes.indices { out[index] = Self.lower(wireBytes[index]) }
            hasher.combine(bytes: UnsafeRawBufferPointer(out))
        }
    }
}
