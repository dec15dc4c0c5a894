import Foundation

/// Why a piece of text is not a usable domain name. The description is what an administrator reads.
public enum NameProblem: Error, Hashable, Sendable, CustomStringConvertible {
    case empty
    case tooLong(Int)
    case labelTooLong(String)
    case emptyLabel
    case invalidCharacter(String)
    case invalidUTF8
    case idnaFailed(String)

    public var description: String {
        switch self {
        case .empty: "empty name"
        case .tooLong(let length): "name is \(length) characters long; at most 253 are allowed"
        case .labelTooLong(let label): "label '\(label.prefix(20))…' is longer than 63 characters"
        case .emptyLabel: "name has an empty label (two dots in a row, or a leading dot)"
        case .invalidCharacter(let character): "character \(character) is not allowed in a domain name"
        case .invalidUTF8: "text is not valid UTF-8"
        case .idnaFailed(let label): "internationalised label '\(label)' cannot be converted to ASCII"
        }
    }
}

/// Normalisation of domain names as lists and administrators write them: lower case, no trailing
/// dot, internationalised labels in their ASCII (`xn--`) form (RFC 5890/5891), letters, digits,
/// hyphen and underscore only, labels of 1–63 octets, at most 253 octets in all.
public enum DomainName {
    /// Normalises `text`; `nil` problem means `output` holds the ASCII form.
    public static func normalize(_ text: some StringProtocol) -> Result<String, NameProblem> {
        var bytes: [UInt8] = []
        if let problem = normalize(utf8: Array(text.utf8)[...], into: &bytes) { return .failure(problem) }
        return .success(String(decoding: bytes, as: UTF8.self))
    }

    /// Byte-level normaliser used by the list compiler: ASCII input takes a fast path with no
    /// allocation beyond `output`; anything else goes through Unicode NFC, lower-casing and Punycode.
    static func normalize(utf8 input: ArraySlice<UInt8>, into output: inout [UInt8]) -> NameProblem? {
        output.removeAll(keepingCapacity: true)
        var bytes = input
        if bytes.last == UInt8(ascii: ".") { bytes = bytes.dropLast() }
        guard !bytes.isEmpty else { return .empty }
        if bytes.contains(where: { $0 >= 0x80 }) {
            return normalizeUnicode(bytes, into: &output)
        }
        output.reserveCapacity(bytes.count)
        var labelLength = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                output.append(byte | 0x20)
                labelLength += 1
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"):
                output.append(byte)
                labelLength += 1
            case UInt8(ascii: "."):
                guard labelLength > 0 else { return .emptyLabel }
                output.append(byte)
                labelLength = 0
            default:
                return .invalidCharacter(describe(byte))
            }
            if labelLength > 63 {
                return .labelTooLong(String(decoding: output.suffix(63), as: UTF8.self))
            }
        }
        guard labelLength > 0 else { return .emptyLabel }
        guard output.count <= 253 else { return .tooLong(output.count) }
        return nil
    }

    private static func normalizeUnicode(_ bytes: ArraySlice<UInt8>, into output: inout [UInt8]) -> NameProblem? {
        guard let text = String(validating: bytes, as: UTF8.self) else { return .invalidUTF8 }
        // UTS 46 maps the ideographic and full-width full stops to ".".
        let dotted = text.unicodeScalars.map { scalar -> Unicode.Scalar in
            switch scalar.value {
            case 0x3002, 0xFF0E, 0xFF61: "."
            default: scalar
            }
        }
        let mapped = String(String.UnicodeScalarView(dotted)).precomposedStringWithCanonicalMapping.lowercased()
        var ascii: [String] = []
        for label in mapped.split(separator: ".", omittingEmptySubsequences: false) {
            if label.unicodeScalars.allSatisfy(\.isASCII) {
                ascii.append(String(label))
                continue
            }
            for scalar in label.unicodeScalars where scalar.properties.generalCategory == .control
                || scalar.properties.isWhitespace || scalar.value == 0xFFFD
            {
                return .invalidCharacter(String(format: "U+%04X", scalar.value))
            }
            guard let encoded = Punycode.encode(Array(label.unicodeScalars)) else {
                return .idnaFailed(String(label))
            }
            ascii.append("xn--" + encoded)
        }
        let joined = ascii.joined(separator: ".")
        var scratch: [UInt8] = []
        if let problem = normalize(utf8: Array(joined.utf8)[...], into: &scratch) { return problem }
        output = scratch
        return nil
    }

    static func describe(_ byte: UInt8) -> String {
        if byte >= 0x21, byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "0x" + String(byte, radix: 16, uppercase: true)
    }
}
