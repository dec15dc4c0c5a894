/// Presentation (master-file) form of names, RFC 1035 5.1: dotted labels, `\X` for a literal
/// character and `\DDD` (three decimal digits) for any octet.
extension DNSName: CustomStringConvertible {
    /// Parses dotted text such as `www.Example.com`, `www.example.com.` or `.` (the root).
    /// Letter case is kept. `\.` puts a dot inside a label, `\DDD` any octet. Non-ASCII characters
    /// become their UTF-8 octets unchanged (convert internationalised names to `xn--` form first).
    /// The empty string, empty labels (`a..b`, `.a`), labels over 63 octets and names over
    /// 255 octets are refused.
    public init(_ text: String) throws(DNSWireError) {
        let utf8 = Array(text.utf8)
        if utf8 == [UInt8(ascii: ".")] {
            self = .root
            return
        }
        guard !utf8.isEmpty else { throw DNSWireError(.emptyLabel, "empty name") }
        var wire: [UInt8] = [0]
        wire.reserveCapacity(utf8.count + 2)
        var lengthIndex = 0
        var index = 0
        while index < utf8.count {
            var byte = utf8[index]
            index += 1
            if byte == UInt8(ascii: ".") {
                try Self.closeLabel(&wire, lengthIndex: lengthIndex)
                lengthIndex = wire.count
                wire.append(0)
                continue
            }
            if byte == UInt8(ascii: "\\") {
                byte = try Self.unescape(utf8, at: &index)
            }
            wire.append(byte)
        }
        if lengthIndex != wire.count - 1 {
            // No trailing dot: close the last label and add the root label.
            try Self.closeLabel(&wire, lengthIndex: lengthIndex)
            wire.append(0)
        }
        guard wire.count <= Self.maxWireLength else {
            throw DNSWireError(.nameTooLong, "name length \(wire.count) exceeds \(Self.maxWireLength)")
        }
        self.init(uncheckedWire: wire)
    }

    private static func closeLabel(_ wire: inout [UInt8], lengthIndex: Int) throws(DNSWireError) {
        let length = wire.count - lengthIndex - 1
        guard length > 0 else { throw DNSWireError(.emptyLabel, "empty label") }
        guard length <= maxLabelLength else {
            throw DNSWireError(.labelTooLong, "label length \(length) exceeds \(maxLabelLength)")
        }
        wire[lengthIndex] = UInt8(length)
    }

    /// Reads the escape after a backslash; `index` points just past the backslash.
    private static func unescape(_ utf8: [UInt8], at index: inout Int) throws(DNSWireError) -> UInt8 {
        guard index < utf8.count else { throw DNSWireError(.invalidEscape, "backslash at end of name") }
        let first = utf8[index]
        guard isDigit(first) else {
            index += 1
            return first
        }
        guard index + 3 <= utf8.count, isDigit(utf8[index + 1]), isDigit(utf8[index + 2]) else {
            throw DNSWireError(.invalidEscape, "\\DDD escape needs three decimal digits")
        }
        let value = utf8[index..<index + 3].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard value <= 255 else { throw DNSWireError(.invalidEscape, "\\\(value) is larger than 255") }
        index += 3
        return UInt8(value)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// Dotted text as dig prints it, without the trailing dot (except the root, "."): printable
    /// ASCII as is, `\.`, `\\` and the other master-file specials escaped with a backslash,
    /// every other octet as `\DDD`. `DNSName(description)` gives back an identical name.
    public var description: String { text(lowered: false) }

    /// `description` with ASCII letters lowered.
    public var lowercasedText: String { text(lowered: true) }

    private func text(lowered: Bool) -> String {
        if isRoot { return "." }
        // One pass over the labels into the string's own storage: at most 4 octets per name octet.
        return wireBytes.withUnsafeBufferPointer { wire in
            String(unsafeUninitializedCapacity: wire.count * 4) { text in
                var count = 0
                var offset = 0
                while offset < wire.count, wire[offset] != 0 {
                    let length = Int(wire[offset])
                    if offset > 0 {
                        text[count] = UInt8(ascii: ".")
                        count += 1
                    }
                    for index in (offset + 1)..<min(offset + 1 + length, wire.count) {
                        let byte = wire[index]
                        Self.appendEscaped(lowered ? Self.lower(byte) : byte, to: text, at: &count)
                    }
                    offset += 1 + length
                }
                return count
            }
        }
    }

    private static func appendEscaped(_ byte: UInt8, to text: UnsafeMutableBufferPointer<UInt8>, at count: inout Int) {
        switch byte {
        case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: ";"), UInt8(ascii: "@"), UInt8(ascii: "$"):
            text[count] = UInt8(ascii: "\\")
            text[count + 1] = byte
            count += 2
        case 0x21...0x7E:
            text[count] = byte
            count += 1
        default:
            text[count] = UInt8(ascii: "\\")
            text[count + 1] = UInt8(ascii: "0") + byte / 100
            text[count + 2] = UInt8(ascii: "0") + byte / 10 % 10
            text[count + 3] = UInt8(ascii: "0") + byte % 10
            count += 4
        }
    }
}
