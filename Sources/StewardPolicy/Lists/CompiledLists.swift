/// What a category (one list, one rule's own inline entries, or a built-in one) is.
public struct CategoryInfo: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case list, inline
        /// Defined by Steward itself, not by a list: `ip-address` (see `CompiledLists.ipAddressCategory`).
        case builtIn = "built-in"
    }
    /// Bit index in every `BitSet512` of categories.
    public let index: Int
    public let name: String
    public let kind: Kind
    /// Where its entries came from (file or directory), for reports.
    public let source: String
    /// The list's own hint (`usage` of a UT1 category: "black", "white"); the policy decides.
    public let usage: [String]
}

/// Counts for one category, as `steward lists stats` prints them.
public struct CategoryStats: Sendable, Hashable {
    public var domains = 0
    public var urls = 0
    public var addresses = 0
    public var duplicates = 0
    public var rejected = 0
    public var ignoredLines = 0
}

/// A refused list line: file, line number, and why.
public struct ListDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let reason: String
    public var description: String { "\(file):\(line): \(reason)" }
}

/// A path prefix listed for a host.
struct URLPathEntry: Sendable {
    let path: [UInt8]
    let set: UInt32
}

/// The compiled, immutable form of every category list: answers "which categories is this name,
/// URL or address in?" with no locks and, for names, no allocation.
public struct CompiledLists: Sendable {
    public let categories: [CategoryInfo]
    public let stats: [CategoryStats]
    /// The first refused lines (bounded), and how many were refused in all.
    public let diagnostics: [ListDiagnostic]
    public let rejectedTotal: Int
    /// Bit index of the built-in `ip-address` category, which every compiled list set has.
    public let ipAddressIndex: Int

    @usableFromInline let names: NameTable
    @usableFromInline let sets: [BitSet512]
    let urlHosts: NameTable
    let urlGroups: [[URLPathEntry]]
    let addresses: [IPAddress: UInt32]
    let networks: [(network: IPNetwork, set: UInt32)]

    init(
        categories: [CategoryInfo], stats: [CategoryStats], diagnostics: [ListDiagnostic], rejectedTotal: Int,
        ipAddressIndex: Int, names: NameTable, sets: [BitSet512], urlHosts: NameTable, urlGroups: [[URLPathEntry]],
        addresses: [IPAddress: UInt32], networks: [(network: IPNetwork, set: UInt32)]
    ) {
        self.categories = categories
        self.stats = stats
        self.diagnostics = diagnostics
        self.rejectedTotal = rejectedTotal
        self.ipAddressIndex = ipAddressIndex
        self.names = names
        self.sets = sets
        self.urlHosts = urlHosts
        self.urlGroups = urlGroups
        self.addresses = addresses
        self.networks = networks
    }

    /// The name of the built-in category every IP-literal destination is in (`http://1.2.3.4/`,
    /// `CONNECT [2001:db8::1]:443`): using the address instead of the name is a way around a name
    /// block, so a policy can block it for students and allow-list the addresses it needs. Domain
    /// names never are in it, and neither are the addresses in DNS answers (those are checked
    /// against the lists' own address entries only: `listedCategories(ofAddress:)`).
    public static let ipAddressCategory = "ip-address"

    /// The built-in `ip-address` category's description at a given bit index.
    static func ipAddressInfo(index: Int) -> CategoryInfo {
        CategoryInfo(
            index: index, name: ipAddressCategory, kind: .builtIn,
            source: "built-in: every destination written as an IP address", usage: [])
    }

    /// No lists: only the built-in category, at index 0.
    public static let empty = CompiledLists(
        categories: [ipAddressInfo(index: 0)], stats: [CategoryStats()], diagnostics: [], rejectedTotal: 0,
        ipAddressIndex: 0, names: .empty, sets: [BitSet512()], urlHosts: .empty, urlGroups: [], addresses: [:],
        networks: [])

    /// Number of distinct names (domains) held.
    public var nameCount: Int { names.count }

    /// Approximate bytes held by the compiled tables.
    public var memoryFootprint: Int {
        names.memoryFootprint + urlHosts.memoryFootprint + sets.capacity * MemoryLayout<BitSet512>.stride
            + urlGroups.reduce(0) { $0 + $1.reduce(0) { $0 + $1.path.capacity + 16 } }
            + addresses.count * 40 + networks.count * 48
    }

    public func category(named name: String) -> CategoryInfo? {
        categories.first { $0.name == name }
    }

    /// Categories of a domain name (mixed case allowed, no trailing dot): the union over the name
    /// and all its parents.
    @inlinable
    public func categories(ofName name: UnsafeRawBufferPointer) -> BitSet512 {
        var result = BitSet512()
        sets.withUnsafeBufferPointer { sets in
            names.forEachMatch(in: name) { value in result.formUnion(sets[Int(value)]) }
        }
        return result
    }

    public func categories(ofName name: String) -> BitSet512 {
        var copy = name
        if copy.hasSuffix(".") { copy.removeLast() }
        return copy.withUTF8 { categories(ofName: UnsafeRawBufferPointer($0)) }
    }

    /// Categories of a URL: those of its host plus every listed path prefix of it (or of a parent
    /// domain). `path` must already be in `URLPath` canonical form.
    public func categories(ofHost host: String, normalizedPath path: String) -> BitSet512 {
        if let address = IPAddress(host) {
            return categories(ofAddress: address).union(urlCategories(host: address.description, normalizedPath: path))
        }
        return categories(ofName: host).union(urlCategories(host: host, normalizedPath: path))
    }

    /// Categories of the listed path prefixes for a host (or a parent domain of it).
    func urlCategories(host: String, normalizedPath path: String) -> BitSet512 {
        var result = BitSet512()
        guard !urlGroups.isEmpty else { return result }
        let pathBytes = Array(path.utf8)
        var hostCopy = host
        hostCopy.withUTF8 { hostBytes in
            urlHosts.forEachMatch(in: UnsafeRawBufferPointer(hostBytes)) { group in
                for entry in urlGroups[Int(group)] where pathBytes.starts(with: entry.path) {
                    result.formUnion(sets[Int(entry.set)])
                }
            }
        }
        return result
    }

    /// Categories of an address given as the destination (an IP literal in a URL, a CONNECT or a
    /// check): the built-in `ip-address` category, plus those of its list entries.
    public func categories(ofAddress address: IPAddress) -> BitSet512 {
        var result = listedCategories(ofAddress: address)
        result.insert(ipAddressIndex)
        return result
    }

    /// Categories of the list entries that name an address: an exact listed address or any listed
    /// network holding it; never the built-in `ip-address`. For addresses a name resolved to (DNS
    /// answers), which were not written by the person asking.
    public func listedCategories(ofAddress address: IPAddress) -> BitSet512 {
        var result = BitSet512()
        if let set = addresses[address] { result.formUnion(sets[Int(set)]) }
        for entry in networks where entry.network.contains(address) { result.formUnion(sets[Int(entry.set)]) }
        return result
    }

    /// Names of the list and built-in categories of a set (rules' own inline lists left out), in
    /// index order.
    public func listCategoryNames(of set: BitSet512) -> [String] {
        set.members.compactMap { $0 < categories.count && categories[$0].kind != .inline ? categories[$0].name : nil }
    }

    /// Category names of a set, in index order.
    public func names(of set: BitSet512) -> [String] {
        set.members.compactMap { $0 < categories.count ? categories[$0].name : nil }
    }
}
