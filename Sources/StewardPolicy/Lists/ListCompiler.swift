/// Builds `CompiledLists` from list files and inline entries. Pure: the caller supplies the bytes
/// (see `ingest(file:category:format:read:)`), so this module performs no I/O itself.
public struct ListCompiler {
    /// A line longer than this is refused (and skipped up to its end) rather than buffered.
    public static let maxLineLength = 8192
    /// How many refused lines are kept word for word; all are counted.
    public static let maxDiagnostics = 1000

    public private(set) var categories: [CategoryInfo] = []
    private var stats: [CategoryStats] = []
    private var diagnostics: [ListDiagnostic] = []
    private var rejectedTotal = 0
    /// The built-in `ip-address` category's bit, once registered (see `addBuiltInCategories()`).
    private var ipAddressIndex: Int?

    private var names: NameTable.Builder
    private var urlHosts = NameTable.Builder(expectedCount: 1024)
    private var urlGroups: [[URLPathEntry]] = []
    private var addresses: [IPAddress: UInt32] = [:]
    private var networks: [(network: IPNetwork, set: UInt32)] = []
    private let interner = SetInterner()

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case tooManyCategories(Int)
        case duplicateCategory(String)
        /// A list may not take the name of a built-in category (its entries would silently merge
        /// with every IP-literal destination).
        case reservedCategory(String)
        public var description: String {
            switch self {
            case .tooManyCategories(let count):
                "at most \(BitSet512.capacity) categories and inline lists can be compiled (asked for \(count), "
                    + "the built-in '\(CompiledLists.ipAddressCategory)' included)"
            case .duplicateCategory(let name): "category '\(name)' is defined twice"
            case .reservedCategory(let name):
                "'\(name)' is a built-in category (every destination written as an IP address is in it); "
                    + "a list cannot have that name"
            }
        }
    }

    /// - Parameters:
    ///   - expectedNames: a sizing hint, best an upper bound (the number of lines of the list files).
    ///   - expectedBytes: an upper bound on the bytes of names (the size of the list files).
    public init(expectedNames: Int = 1024, expectedBytes: Int? = nil) {
        names = NameTable.Builder(expectedCount: expectedNames, expectedBytes: expectedBytes)
    }

    /// Registers a list or inline category and returns its bit index. One bit stays reserved for
    /// the built-in category until it is registered, so it always fits.
    public mutating func addCategory(
        name: String, kind: CategoryInfo.Kind = .list, source: String, usage: [String] = []
    ) throws(Problem) -> Int {
        guard name != CompiledLists.ipAddressCategory, kind != .builtIn else { throw .reservedCategory(name) }
        let reserved = ipAddressIndex == nil ? 1 : 0
        guard categories.count + reserved < BitSet512.capacity else {
            throw .tooManyCategories(categories.count + reserved + 1)
        }
        guard !categories.contains(where: { $0.name == name }) else { throw .duplicateCategory(name) }
        return append(CategoryInfo(index: categories.count, name: name, kind: kind, source: source, usage: usage))
    }

    /// Registers the built-in categories (`ip-address`) if they are not yet; idempotent. They come
    /// after the categories registered so far: `PolicySnapshot.compile` registers them after the
    /// lists and before the rules' inline lists, so rules can name them; `build()` does it for a
    /// compiler nobody did it for. Returns the `ip-address` bit.
    @discardableResult
    public mutating func addBuiltInCategories() -> Int {
        if let ipAddressIndex { return ipAddressIndex }
        let index = append(CompiledLists.ipAddressInfo(index: categories.count))
        ipAddressIndex = index
        return index
    }

    private mutating func append(_ info: CategoryInfo) -> Int {
        categories.append(info)
        stats.append(CategoryStats())
        return info.index
    }

    public func stats(of category: Int) -> CategoryStats { stats[category] }

    /// Reads a whole file through `read`, which fills the buffer with the next chunk (replacing its
    /// contents) and returns `false` at the end. Lines are split here, with their numbers, bounded
    /// in length; CRLF and a missing final newline are fine.
    public mutating func ingest(
        file: String, category: Int, format: ListFormat, read: (inout [UInt8]) throws -> Bool
    ) rethrows {
        var parser = ListLineParser(format: format)
        var chunk: [UInt8] = []
        var carry: [UInt8] = []
        var lineNumber = 0
        var skippingLongLine = false
        while try read(&chunk) {
            var start = chunk.startIndex
            while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
                lineNumber += 1
                if skippingLongLine {
                    skippingLongLine = false  // the refused line ends here
                } else if carry.isEmpty {
                    handle(chunk[start..<newline], parser: &parser, file: file, line: lineNumber, category: category)
                } else {
                    carry.append(contentsOf: chunk[start..<newline])
                    handle(carry[...], parser: &parser, file: file, line: lineNumber, category: category)
                    carry.removeAll(keepingCapacity: true)
                }
                start = newline + 1
            }
            guard !skippingLongLine else { continue }
            let rest = chunk[start...]
            if carry.count + rest.count > Self.maxLineLength {
                reject(file: file, line: lineNumber + 1, category: category, reason: longLineReason)
                carry.removeAll(keepingCapacity: true)
                skippingLongLine = true
            } else {
                carry.append(contentsOf: rest)
            }
        }
        if !carry.isEmpty {
            handle(carry[...], parser: &parser, file: file, line: lineNumber + 1, category: category)
        }
    }

    private var longLineReason: String { "line is longer than \(Self.maxLineLength) bytes" }

    /// Adds one entry written the way a list line would be (used for a rule's inline domains and
    /// URL patterns). Returns the reason when the text is not a usable entry.
    public mutating func add(entry text: String, category: Int, format: ListFormat = .auto) -> String? {
        var parser = ListLineParser(format: format)
        var added = 0
        let bytes = Array(text.utf8)
        let outcome = parser.parse(bytes[...]) { entry in
            insert(entry, category: category)
            added += 1
        }
        switch outcome {
        case .entries: return nil
        case .ignored: return "'\(text)' is empty or a comment"
        case .rejected(let reason): return reason
        }
    }

    private mutating func handle(
        _ line: ArraySlice<UInt8>, parser: inout ListLineParser, file: String, line number: Int, category: Int
    ) {
        guard line.count <= Self.maxLineLength else {
            reject(file: file, line: number, category: category, reason: longLineReason)
            return
        }
        let outcome = parser.parse(line) { entry in insert(entry, category: category) }
        switch outcome {
        case .entries: break
        case .ignored: stats[category].ignoredLines += 1
        case .rejected(let reason): reject(file: file, line: number, category: category, reason: reason)
        }
    }

    private mutating func reject(file: String, line: Int, category: Int, reason: String) {
        stats[category].rejected += 1
        rejectedTotal += 1
        if diagnostics.count < Self.maxDiagnostics {
            diagnostics.append(ListDiagnostic(file: file, line: line, reason: reason))
        }
    }

    private mutating func insert(_ entry: ListEntry, category: Int) {
        switch entry {
        case .domain(let name):
            let interner = self.interner
            let changed = names.insert(name) { old in interner.merge(old, category) }
            if changed { stats[category].domains += 1 } else { stats[category].duplicates += 1 }
        case .address(let address):
            let old = addresses[address]
            let new = merge(old, category)
            if new == old { stats[category].duplicates += 1 } else { stats[category].addresses += 1 }
            addresses[address] = new
        case .network(let network):
            if let index = networks.firstIndex(where: { $0.network == network }) {
                let new = merge(networks[index].set, category)
                if new == networks[index].set { stats[category].duplicates += 1 } else { stats[category].addresses += 1 }
                networks[index].set = new
            } else {
                networks.append((network, merge(nil, category)))
                stats[category].addresses += 1
            }
        case .url(let host, let path):
            let nextGroup = UInt32(urlGroups.count)
            var found: UInt32? = nil
            urlHosts.insert(host) { old in
                found = old
                return old ?? nextGroup
            }
            if found == nil { urlGroups.append([]) }
            let groupIndex = Int(found ?? nextGroup)
            if let existing = urlGroups[groupIndex].firstIndex(where: { $0.path.elementsEqual(path) }) {
                let old = urlGroups[groupIndex][existing].set
                let new = merge(old, category)
                if new == old { stats[category].duplicates += 1 } else { stats[category].urls += 1 }
                urlGroups[groupIndex][existing] = URLPathEntry(path: Array(path), set: new)
            } else {
                urlGroups[groupIndex].append(URLPathEntry(path: Array(path), set: merge(nil, category)))
                stats[category].urls += 1
            }
        }
    }

    private func merge(_ old: UInt32?, _ category: Int) -> UInt32 { interner.merge(old, category) }

    /// The compiled lists. The compiler is spent afterwards.
    public consuming func build() -> CompiledLists {
        let ipAddressIndex = addBuiltInCategories()
        return CompiledLists(
            categories: categories, stats: stats, diagnostics: diagnostics, rejectedTotal: rejectedTotal,
            ipAddressIndex: ipAddressIndex, names: names.build(), sets: interner.sets, urlHosts: urlHosts.build(),
            urlGroups: urlGroups, addresses: addresses, networks: networks)
    }
}

/// Interns category-set combinations to small ids. A class so the name table's merge callback can
/// use it without capturing the compiler (which is being mutated at the time); never shared
/// across threads.
private final class SetInterner {
    private(set) var sets: [BitSet512] = [BitSet512()]
    private var ids: [BitSet512: UInt32] = [BitSet512(): 0]
    private var singles: [UInt32?] = Array(repeating: nil, count: BitSet512.capacity)

    /// The id of `sets[old] ∪ {category}`.
    func merge(_ old: UInt32?, _ category: Int) -> UInt32 {
        if old == nil, let single = singles[category] { return single }
        var set = old.map { sets[Int($0)] } ?? BitSet512()
        if set.contains(category), let old { return old }
        set.insert(category)
        let id: UInt32
        if let existing = ids[set] {
            id = existing
        } else {
            id = UInt32(sets.count)
            sets.append(set)
            ids[set] = id
        }
        if old == nil { singles[category] = id }
        return id
    }
}
