import Foundation

/// A URL taken apart the way the filter must see it: the host actually connected to (user-info
/// removed, lower case, no trailing dot, internationalised names in ASCII form, IP literals
/// recognised) and the path in `URLPath` canonical form.
public struct RequestTarget: Sendable, Hashable {
    public var scheme: String
    /// Normalised host name, or the address's text for an IP literal.
    public var host: String
    public var address: IPAddress?
    public var port: Int?
    /// Canonical path and query (see `URLPath`).
    public var path: String

    /// Parses `scheme://[user@]host[:port][/path][?query]`, or `host[/path]` (taken as http).
    /// - Returns: the reason when the text is not a usable URL.
    public static func parse(_ text: String) -> Result<RequestTarget, URLProblem> {
        // (The common case, a request line's target, has no surrounding space: no trimming then.)
        let spaced = text.utf8.first.map { $0 == 0x20 || $0 == 0x09 } == true || text.utf8.last.map { $0 == 0x20 || $0 == 0x09 } == true
        let trimmed = spaced ? text.trimmingCharacters(in: .whitespaces) : text
        guard !trimmed.isEmpty else { return .failure(.empty) }
        guard trimmed.utf8.count <= 8192 else { return .failure(.tooLong) }
        if trimmed.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F }) {
            return .failure(.invalidCharacter)
        }
        var scheme = "http"
        var rest = Substring(trimmed)
        if let separator = Self.schemeSeparator(rest) {
            scheme = rest[..<separator.lowerBound].lowercased()
            // RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), in ASCII.
            let isAlpha = { (byte: UInt8) in (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") }
            guard let first = scheme.utf8.first, isAlpha(first),
                scheme.utf8.allSatisfy({
                    isAlpha($0) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "+")
                        || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
                })
            else { return .failure(.badScheme(String(rest[..<separator.lowerBound]))) }
            rest = rest[separator.upperBound...]
        }
        let authorityEnd =
            rest.utf8.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") })
            ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let pathPart = rest[authorityEnd...]
        // `http://allowed@blocked/`: the host is what follows the last `@`.
        if let at = authority.utf8.lastIndex(of: UInt8(ascii: "@")) { authority = authority[authority.utf8.index(after: at)...] }
        var hostText = authority
        var port: Int? = nil
        /// The target when the host is an address (`port` as read by then).
        func addressTarget(_ address: IPAddress) -> RequestTarget {
            RequestTarget(
                scheme: scheme, host: address.description, address: address, port: port, path: URLPath.normalize(pathPart))
        }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return .failure(.badHost(String(authority))) }
            hostText = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()), (1...65535).contains(value) else {
                    return .failure(.badPort(String(after.dropFirst())))
                }
                port = value
            }
            guard let address = IPAddress(hostText), !address.isIPv4 else { return .failure(.badHost(String(authority))) }
            return .success(addressTarget(address))
        }
        if let colon = authority.lastIndex(of: ":") {
            let portText = authority[authority.index(after: colon)...]
            hostText = authority[..<colon]
            if !portText.isEmpty {
                guard portText.allSatisfy(\.isASCII), let value = Int(portText), (1...65535).contains(value) else {
                    return .failure(.badPort(String(portText)))
                }
                port = value
            }
        }
        let decodedHost = percentDecoded(hostText)
        guard !decodedHost.isEmpty else { return .failure(.emptyHost) }
        if let address = IPAddress(decodedHost) { return .success(addressTarget(address)) }
        // `2130706433`, `0x7f.1`, `0177.0.0.1`: the system's resolver reads these as the address
        // they spell, so they are decided (and connected to) as that address, not as a name.
        switch Self.numericIPv4(decodedHost) {
        case .name:
            break
        case .address(let value):
            return .success(addressTarget(IPAddress(ipv4: value)))
        case .invalid:
            return .failure(.badHost(decodedHost))
        }
        switch DomainName.normalize(decodedHost) {
        case .success(let host):
            // IDNA maps ideographic and fullwidth dots to ASCII (`1。2。3。4`): a name that was not
            // ASCII gets the numeric reading again in the form the resolver will see.
            if host != decodedHost {
                switch Self.numericIPv4(host) {
                case .name: break
                case .address(let value): return .success(addressTarget(IPAddress(ipv4: value)))
                case .invalid: return .failure(.badHost(decodedHost))
                }
            }
            return .success(
                RequestTarget(scheme: scheme, host: host, address: nil, port: port, path: URLPath.normalize(pathPart)))
        case .failure(let problem):
            return .failure(.badHostName(String(hostText), problem))
        }
    }

    enum NumericHost: Equatable {
        /// The host does not end in a number: a name.
        case name
        /// An IPv4 address in one of the numeric forms `inet_aton(3)` and browsers accept.
        case address(UInt32)
        /// Ends in a number but is no address (`1.2.3.4.5`, `256.1.1.1`, `foo.123`).
        case invalid
    }

    /// Reads a host the way the WHATWG URL standard's IPv4 parser (and `inet_aton`) does: one to
    /// four dot-separated parts, each decimal, octal (a leading `0`) or hexadecimal (`0x`); every
    /// part but the last at most 255, the last filling the remaining bytes. A host whose last label
    /// is such a number but that is not a valid address is `.invalid` (a name cannot end so).
    static func numericIPv4(_ host: String) -> NumericHost {
        // Every number starts with a digit (`0x` too): a host whose last label does not is a name.
        var bytes = host.utf8[...]
        if bytes.count > 1, bytes.last == UInt8(ascii: ".") { bytes = bytes.dropLast() }
        let lastLabel = bytes.lastIndex(of: UInt8(ascii: ".")).map { bytes[bytes.index(after: $0)...] } ?? bytes
        guard let lead = lastLabel.first, lead >= UInt8(ascii: "0"), lead <= UInt8(ascii: "9") else { return .name }
        var parts = host.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count > 1, parts.last?.isEmpty == true { parts.removeLast() }
        guard let last = parts.last, !last.isEmpty,
            last.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) || number(last) != nil
        else { return .name }
        guard parts.count <= 4 else { return .invalid }
        var values: [UInt64] = []
        for part in parts {
            guard let value = number(part) else { return .invalid }
            values.append(value)
        }
        for value in values.dropLast() where value > 255 { return .invalid }
        let lastValue = values[values.count - 1]
        guard lastValue < (UInt64(1) << (8 * (5 - values.count))) else { return .invalid }
        var address = lastValue
        for (index, value) in values.dropLast().enumerated() { address += value << (8 * (3 - index)) }
        return .address(UInt32(address))
    }

    /// One part of a numeric IPv4 host: decimal, octal with a leading `0`, hexadecimal with `0x`
    /// (`0x` alone is zero); nil for anything else. A value past 2^32 is read as 2^32 (a number,
    /// too large for any address).
    private static func number(_ part: Substring) -> UInt64? {
        guard !part.isEmpty else { return nil }
        var digits = part
        var radix: UInt64 = 10
        if digits.count >= 2, digits.hasPrefix("0x") || digits.hasPrefix("0X") {
            digits = digits.dropFirst(2)
            radix = 16
        } else if digits.count >= 2, digits.hasPrefix("0") {
            digits = digits.dropFirst()
            radix = 8
        }
        var value: UInt64 = 0
        for byte in digits.utf8 {
            guard let digit = IPAddress.hexValue(byte).map(UInt64.init), digit < radix else { return nil }
            value = min(value * radix + digit, UInt64(1) << 32)
        }
        return value
    }

    /// Where the first `://` is, searched byte-wise (ASCII, so the indices are character boundaries).
    private static func schemeSeparator(_ text: Substring) -> Range<Substring.Index>? {
        let bytes = text.utf8
        var index = bytes.startIndex
        while index != bytes.endIndex {
            if bytes[index] == UInt8(ascii: ":") {
                let slash1 = bytes.index(after: index)
                if slash1 != bytes.endIndex, bytes[slash1] == UInt8(ascii: "/") {
                    let slash2 = bytes.index(after: slash1)
                    if slash2 != bytes.endIndex, bytes[slash2] == UInt8(ascii: "/") {
                        return index..<bytes.index(after: slash2)
                    }
                }
            }
            index = bytes.index(after: index)
        }
        return nil
    }

    /// `%41` in a host is decoded before normalising (a host may not legitimately contain `%`).
    private static func percentDecoded(_ text: Substring) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Why a URL was refused.
public enum URLProblem: Error, Hashable, Sendable, CustomStringConvertible {
    case empty, tooLong, invalidCharacter, emptyHost
    case badScheme(String)
    case badHost(String)
    case badPort(String)
    case badHostName(String, NameProblem)

    public var description: String {
        switch self {
        case .empty: "the URL is empty"
        case .tooLong: "the URL is longer than 8192 bytes"
        case .invalidCharacter: "the URL contains white space or control characters"
        case .emptyHost: "the URL has no host"
        case .badScheme(let scheme): "'\(scheme)' is not a URL scheme"
        case .badHost(let host): "'\(host)' is not a valid host"
        case .badPort(let port): "'\(port)' is not a port number (1–65535)"
        case .badHostName(let host, let problem): "host '\(host)': \(problem)"
        }
    }
}

extension RequestTarget {
    /// The file type the path names (`/setup.EXE?x=1` → `exe`), for download rules; nil when the
    /// last path segment has no extension.
    public var fileInfo: FileInfo? {
        let bytes = path.utf8
        let pathEnd = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.endIndex
        var segmentEnd = pathEnd
        // The last segment that is not empty (`/a/b.exe/` names `b.exe`).
        while segmentEnd > bytes.startIndex, bytes[bytes.index(before: segmentEnd)] == UInt8(ascii: "/") {
            segmentEnd = bytes.index(before: segmentEnd)
        }
        guard segmentEnd > bytes.startIndex else { return nil }
        let segmentStart = bytes[..<segmentEnd].lastIndex(of: UInt8(ascii: "/")).map { bytes.index(after: $0) } ?? bytes.startIndex
        return Self.fileExtension(ofName: path[segmentStart..<segmentEnd]).map { FileInfo(fileExtension: $0) }
    }

    /// The extension a server would give the file `name` (a normalised path segment, or a
    /// Content-Disposition file name), lower-cased: what follows the last dot, once anything a
    /// server drops is cut off — `;parameters` (Java servers), a `:stream` (`::$DATA` on
    /// Windows), and from an escaped NUL, `#` or line end on (`setup.exe%00.txt`) — and trailing
    /// dots and spaces are trimmed (Windows ignores them). Nil when there is none.
    public static func fileExtension(ofName name: some StringProtocol) -> String? {
        // Every cut is ASCII, so the name is read as bytes (a percent-escape in either case); a
        // name is cut at the first place any of them occurs.
        let bytes = Array(name.utf8)
        var end = bytes.count
        var index = 0
        scan: while index < end {
            switch bytes[index] {
            case UInt8(ascii: ";"), UInt8(ascii: ":"), 0, UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                end = index
                break scan
            case UInt8(ascii: "%") where index + 2 < bytes.count:
                let second = bytes[index + 2]
                let escaped = (bytes[index + 1], second >= UInt8(ascii: "A") && second <= UInt8(ascii: "Z") ? second | 0x20 : second)
                switch escaped {
                case (UInt8(ascii: "3"), UInt8(ascii: "b")), (UInt8(ascii: "3"), UInt8(ascii: "a")),
                    (UInt8(ascii: "0"), UInt8(ascii: "0")), (UInt8(ascii: "0"), UInt8(ascii: "a")),
                    (UInt8(ascii: "0"), UInt8(ascii: "d")), (UInt8(ascii: "2"), UInt8(ascii: "3")):
                    end = index
                    break scan
                default: break
                }
            default: break
            }
            index += 1
        }
        while end > 0 {
            if bytes[end - 1] == UInt8(ascii: ".") || bytes[end - 1] == UInt8(ascii: " ") {
                end -= 1
            } else if end >= 3, bytes[end - 3] == UInt8(ascii: "%"), bytes[end - 2] == UInt8(ascii: "2"),
                bytes[end - 1] == UInt8(ascii: "0")
            {
                end -= 3
            } else {
                break
            }
        }
        guard let dot = bytes[..<end].lastIndex(of: UInt8(ascii: ".")), dot != 0 else { return nil }
        let ext = String(decoding: bytes[(dot + 1)..<end], as: UTF8.self).lowercased()
        guard !ext.isEmpty, ext.count <= 10 else { return nil }
        return ext
    }
}
