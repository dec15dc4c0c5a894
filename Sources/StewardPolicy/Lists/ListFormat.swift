/// The line formats a category list file may use. `auto` recognises each line by its shape, so a
/// file that mixes formats (a Pi-hole export with a few adblock lines, say) still loads.
public enum ListFormat: String, Sendable, CaseIterable, Codable {
    /// Decide per line: `||name^` is adblock, `address name…` is a hosts line, text with `/` is a URL.
    case auto
    /// One domain (or IP address) per line, `#` comments: UT1 `domains` files, Pi-hole lists.
    case domains
    /// Hosts-file lines: `0.0.0.0 name [name…]`, `127.0.0.1 name`, `::1 name`.
    case hosts
    /// Adblock / AdGuard DNS syntax: `||name^`, `!` comments.
    case adblock
    /// `host/path` prefixes, one per line: UT1 `urls` files.
    case urls
}

/// One thing a list line contributes, borrowed for the duration of the callback.
enum ListEntry {
    /// A normalised domain: blocks itself and every subdomain.
    case domain(UnsafeBufferPointer<UInt8>)
    /// An address a site is reached by.
    case address(IPAddress)
    /// A whole network of addresses.
    case network(IPNetwork)
    /// A host (normalised, leading `www.` removed) and a normalised path prefix.
    case url(host: UnsafeBufferPointer<UInt8>, path: UnsafeBufferPointer<UInt8>)
}

/// What became of one line.
enum LineOutcome: Equatable {
    case entries(Int)
    /// Blank, a comment, or a standard hosts-file line such as `127.0.0.1 localhost`.
    case ignored
    case rejected(String)
}
