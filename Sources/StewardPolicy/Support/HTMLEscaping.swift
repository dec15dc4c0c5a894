/// Escapes the five characters that matter in HTML text and quoted attribute values; shared by the
/// proxy's pages and the web service's `HTML` type.
public func htmlEscaped(_ text: String) -> String {
    // The five characters are ASCII, and no byte of a multi-byte UTF-8 sequence is: the text is
    // escaped byte by byte, and most of it (names, rule ids) has nothing to escape at all.
    let special: (UInt8) -> Bool = {
        $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "\"")
            || $0 == UInt8(ascii: "'")
    }
    guard text.utf8.contains(where: special) else { return text }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count + 32)
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "&"): bytes.append(contentsOf: "&amp;".utf8)
        case UInt8(ascii: "<"): bytes.append(contentsOf: "&lt;".utf8)
        case UInt8(ascii: ">"): bytes.append(contentsOf: "&gt;".utf8)
        case UInt8(ascii: "\""): bytes.append(contentsOf: "&quot;".utf8)
        case UInt8(ascii: "'"): bytes.append(contentsOf: "&#39;".utf8)
        default: bytes.append(byte)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}
