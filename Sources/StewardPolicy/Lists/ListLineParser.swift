/// Turns one line of a list file into entries. Pure and allocation-light: scratch buffers are
/// reused from line to line. Never traps on any input; every refusal carries a reason that the
/// administrator can act on.
struct ListLineParser {
    let format: ListFormat
    private var name: [UInt8] = []
    private var path: [UInt8] = []

    /// Names that hosts files list for the machine itself; never entries of a block list.
    static let hostsFileSpecialNames: Set<[UInt8]> = Set(
        [
            "localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost", "ip6-loopback",
            "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters", "ip6-allhosts", "0.0.0.0",
        ].map { Array($0.utf8) })

    init(format: ListFormat) {
        self.format = format
        name.reserveCapacity(256)
    }

    mutating func parse(_ raw: ArraySlice<UInt8>, emit: (ListEntry) -> Void) -> LineOutcome {
        var line = raw
        if line.contains(0) { return .rejected("line contains a NUL byte (binary data?)") }
        // Byte-order mark on a first line.
        if line.starts(with: [0xEF, 0xBB, 0xBF]) { line = line.dropFirst(3) }
        line = Self.trim(line)
        guard let first = line.first else { return .ignored }
        if first == UInt8(ascii: "#") { return .ignored }
        if format == .adblock || format == .auto {
            if first == UInt8(ascii: "!") || first == UInt8(ascii: "[") { return .ignored }
        }
        switch format {
        case .urls:
            return parseURL(Self.cutComment(line, urls: true), emit: emit)
        case .adblock:
            return parseAdblock(line, emit: emit)
        case .domains, .hosts, .auto:
            if format == .auto, line.starts(with: [UInt8(ascii: "|"), UInt8(ascii: "|")])
                || line.starts(with: [UInt8(ascii: "@"), UInt8(ascii: "@")])
            {
                return parseAdblock(line, emit: emit)
            }
            return parseNameLine(Self.cutComment(line, urls: false), emit: emit)
        }
    }

    // MARK: - Plain and hosts lines

    private mutating func parseNameLine(_ line: ArraySlice<UInt8>, emit: (ListEntry) -> Void) -> LineOutcome {
        guard !line.isEmpty else { return .ignored }
        // The common case, one name and nothing else, takes no token array.
        if !line.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) {
            return parseSingle(line, emit: emit)
        }
        let tokens = line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        guard let head = tokens.first else { return .ignored }
        let headAddress = IPAddress(bytes: head)
        if tokens.count > 1 {
            guard headAddress != nil else {
                return .rejected(
                    "unexpected text after the name: '\(Self.preview(tokens[1]))' (a hosts line starts with an address)")
            }
            guard format != .domains else { return .rejected("hosts-file line in a file declared as plain domains") }
            var added = 0
            for token in tokens.dropFirst() {
                if Self.hostsFileSpecialNames.contains(Array(token).map(NameTable.lower)) { continue }
                if IPAddress(bytes: token) != nil {
                    return .rejected("'\(Self.preview(token))' is an address where a host name belongs")
                }
                if let problem = DomainName.normalize(utf8: Self.stripWildcard(token), into: &name) {
                    return .rejected("'\(Self.preview(token))': \(problem)")
                }
                name.withUnsafeBufferPointer { emit(.domain($0)) }
                added += 1
            }
            return added == 0 ? .ignored : .entries(added)
        }
        return parseSingle(head, emit: emit)
    }

    private mutating func parseSingle(_ head: ArraySlice<UInt8>, emit: (ListEntry) -> Void) -> LineOutcome {
        if format == .hosts { return .rejected("hosts-file line needs an address and a name") }
        if let address = IPAddress(bytes: head) {
            emit(.address(address))
            return .entries(1)
        }
        if head.contains(UInt8(ascii: "/")) {
            if let network = IPNetwork(String(decoding: head, as: UTF8.self)) {
                emit(.network(network))
                return .entries(1)
            }
            guard format == .auto else {
                return .rejected("'\(Self.preview(head))' looks like a URL; URL entries belong in a urls list")
            }
            return parseURL(head, emit: emit)
        }
        if let problem = DomainName.normalize(utf8: Self.stripWildcard(head), into: &name) {
            return .rejected("'\(Self.preview(head))': \(problem)")
        }
        name.withUnsafeBufferPointer { emit(.domain($0)) }
        return .entries(1)
    }

    // MARK: - Adblock

    private mutating func parseAdblock(_ line: ArraySlice<UInt8>, emit: (ListEntry) -> Void) -> LineOutcome {
        if line.starts(with: [UInt8(ascii: "@"), UInt8(ascii: "@")]) {
            return .rejected("exception rules (@@) are not supported in a category list; use an allow rule instead")
        }
        if Self.contains(line, [0x23, 0x23]) || Self.contains(line, [0x23, 0x40, 0x23]) {  // "##", "#@#"
            return .rejected("cosmetic (element hiding) rule: not a domain rule")
        }
        guard line.starts(with: [UInt8(ascii: "|"), UInt8(ascii: "|")]) else {
            if format == .adblock, !line.contains(UInt8(ascii: "^")), !line.contains(UInt8(ascii: "/")) {
                return parseNameLine(line, emit: emit)  // AdGuard lists may carry plain names
            }
            return .rejected("not a domain rule (expected ||name^)")
        }
        var body = line.dropFirst(2)
        var options: ArraySlice<UInt8> = []
        if let dollar = body.firstIndex(of: UInt8(ascii: "$")) {
            options = body[(dollar + 1)...]
            body = body[..<dollar]
        }
        if body.last == UInt8(ascii: "|") { body = body.dropLast() }
        if body.last == UInt8(ascii: "^") { body = body.dropLast() }
        for option in options.split(separator: UInt8(ascii: ",")) {
            let text = String(decoding: option, as: UTF8.self).lowercased()
            if text != "important" && text != "all" && text != "document" {
                return .rejected("adblock modifier $\(text) is not supported for names")
            }
        }
        if body.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "^") }) {
            return .rejected("adblock rule with a path or wildcard cannot be matched by name")
        }
        if let address = IPAddress(String(decoding: body, as: UTF8.self)) {
            emit(.address(address))
            return .entries(1)
        }
        if let problem = DomainName.normalize(utf8: body, into: &name) {
            return .rejected("'\(Self.preview(body))': \(problem)")
        }
        name.withUnsafeBufferPointer { emit(.domain($0)) }
        return .entries(1)
    }

    // MARK: - URLs

    private mutating func parseURL(_ line: ArraySlice<UInt8>, emit: (ListEntry) -> Void) -> LineOutcome {
        guard !line.isEmpty else { return .ignored }
        if line.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) {
            return .rejected("URL entry contains white space")
        }
        var rest = line
        // Scheme.
        if let schemeEnd = Self.index(after: [0x3A, 0x2F, 0x2F], in: rest) {  // "://"
            rest = rest[schemeEnd...]
        }
        let hostEnd =
            rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") })
            ?? rest.endIndex
        var authority = rest[..<hostEnd]
        let pathPart = rest[hostEnd...]
        if let at = authority.lastIndex(of: UInt8(ascii: "@")) { authority = authority[(at + 1)...] }
        // Port (not inside an IPv6 literal).
        if authority.first == UInt8(ascii: "[") {
            if let close = authority.firstIndex(of: UInt8(ascii: "]")) { authority = authority[...close] }
        } else if let colon = authority.lastIndex(of: UInt8(ascii: ":")) {
            authority = authority[..<colon]
        }
        let normalizedPath = URLPath.normalize(bytes: pathPart)
        let wholeHost = normalizedPath == [UInt8(ascii: "/")]
        if let address = IPAddress(bytes: authority) {
            if wholeHost {
                emit(.address(address))
                return .entries(1)
            }
            // Sites reached by address: keyed by the address's canonical text.
            name = Array(address.description.utf8)
            path = normalizedPath
            name.withUnsafeBufferPointer { host in
                path.withUnsafeBufferPointer { path in emit(.url(host: host, path: path)) }
            }
            return .entries(1)
        }
        if let problem = DomainName.normalize(utf8: authority, into: &name) {
            return .rejected("host '\(Self.preview(authority))': \(problem)")
        }
        if wholeHost {
            // `host/` (or `host/#fragment`) covers every URL of the host: it is a domain entry.
            name.withUnsafeBufferPointer { emit(.domain($0)) }
            return .entries(1)
        }
        if name.starts(with: Array("www.".utf8)), name.count > 4 { name.removeFirst(4) }
        path = normalizedPath
        name.withUnsafeBufferPointer { host in
            path.withUnsafeBufferPointer { path in emit(.url(host: host, path: path)) }
        }
        return .entries(1)
    }

    // MARK: - Helpers

    /// The index just after the first occurrence of `needle` in `haystack` (a plain byte search:
    /// Foundation's generic `firstRange(of:)` allocates at every position it tries).
    static func index(after needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        var start = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while start <= last {
            var matched = true
            for offset in 0..<needle.count where haystack[start + offset] != needle[offset] {
                matched = false
                break
            }
            if matched { return start + needle.count }
            start += 1
        }
        return nil
    }

    static func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        index(after: needle, in: haystack) != nil
    }

    static func trim(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = line
        while let first = slice.first, isSpace(first) { slice = slice.dropFirst() }
        while let last = slice.last, isSpace(last) { slice = slice.dropLast() }
        return slice
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
            || byte == 0x0B || byte == 0x0C
    }

    /// Cuts an inline ` # comment`. In URL lists `#` right after a path is a fragment, so only a
    /// `#` preceded by white space starts a comment there.
    static func cutComment(_ line: ArraySlice<UInt8>, urls: Bool) -> ArraySlice<UInt8> {
        var previous: UInt8 = UInt8(ascii: " ")
        for index in line.indices {
            let byte = line[index]
            if byte == UInt8(ascii: "#"), !urls || isSpace(previous) { return trim(line[..<index]) }
            previous = byte
        }
        return line
    }

    /// `*.example.com` and `.example.com` both mean "example.com and below", which is what every
    /// entry means here.
    static func stripWildcard(_ token: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        if token.starts(with: [UInt8(ascii: "*"), UInt8(ascii: ".")]) { return token.dropFirst(2) }
        if token.first == UInt8(ascii: "."), token.count > 1 { return token.dropFirst() }
        return token
    }

    static func preview(_ bytes: ArraySlice<UInt8>) -> String {
        let text = String(decoding: bytes.prefix(60), as: UTF8.self)
        let printable = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
        return bytes.count > 60 ? printable + "…" : printable
    }
}
