/// Canonical form of a URL path (and query) for prefix matching, applied identically to list
/// entries and to requests so that spelling tricks cannot slip past a listed path:
/// - the fragment is dropped (it is never sent to a server);
/// - percent-encoded unreserved characters are decoded (RFC 3986 6.2.2.2), other escapes and raw
///   bytes outside printable ASCII are written as lower-case `%xx`;
/// - everything is lower-cased (many origin servers treat paths case-insensitively, so `/Games`
///   must not escape a rule for `/games`);
/// - in the path (not the query), `%2F`, `\\` and `%5C` are read as `/`: many origin servers
///   decode an escaped slash, and Windows servers take a backslash, before resolving `..`;
/// - `.` and `..` segments are removed (RFC 3986 5.2.4) and repeated slashes are folded.
public enum URLPath {
    public static func normalize(_ text: some StringProtocol) -> String {
        String(decoding: normalize(bytes: Array(text.utf8)), as: UTF8.self)
    }

    static func normalize(bytes input: some Collection<UInt8>) -> [UInt8] {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(input.count + 1)
        let bytes = Array(input)
        var index = 0
        var inQuery = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "#") { break }
            if byte == UInt8(ascii: "?") { inQuery = true }
            if !inQuery, byte == UInt8(ascii: "\\") {
                decoded.append(UInt8(ascii: "/"))
                index += 1
                continue
            }
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2])
            {
                let value = high << 4 | low
                if !inQuery, value == UInt8(ascii: "/") || value == UInt8(ascii: "\\") {
                    decoded.append(UInt8(ascii: "/"))
                } else if isUnreserved(value) {
                    decoded.append(lower(value))
                } else {
                    appendEscaped(value, to: &decoded)
                }
                index += 3
                continue
            }
            if byte <= 0x20 || byte >= 0x7F {
                appendEscaped(byte, to: &decoded)
            } else {
                decoded.append(lower(byte))
            }
            index += 1
        }
        // Split path from query; dot segments only apply to the path.
        let queryStart = decoded.firstIndex(of: UInt8(ascii: "?")) ?? decoded.endIndex
        var segments: [ArraySlice<UInt8>] = []
        for segment in decoded[..<queryStart].split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if segment.elementsEqual([UInt8(ascii: ".")]) { continue }
            if segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                if !segments.isEmpty { segments.removeLast() }
                continue
            }
            segments.append(segment)
        }
        var output: [UInt8] = [UInt8(ascii: "/")]
        for (position, segment) in segments.enumerated() {
            if position > 0 { output.append(UInt8(ascii: "/")) }
            output.append(contentsOf: segment)
        }
        // Keep a trailing slash ("/games/" must not also match "/gamesite").
        let path = decoded[..<queryStart]
        if !segments.isEmpty, path.last == UInt8(ascii: "/") { output.append(UInt8(ascii: "/")) }
        output.append(contentsOf: decoded[queryStart...])
        return output
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }

    private static func appendEscaped(_ byte: UInt8, to output: inout [UInt8]) {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        output.append(UInt8(ascii: "%"))
        output.append(digits[Int(byte >> 4)])
        output.append(digits[Int(byte & 0xF)])
    }

    private static func lower(_ byte: UInt8) -> UInt8 { NameTable.lower(byte) }

    private static func hex(_ byte: UInt8) -> UInt8? { IPAddress.hexValue(byte) }
}
