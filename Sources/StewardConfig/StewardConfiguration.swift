import StewardPolicy

/// Where a category list comes from.
public struct ListSource: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A directory in the UT1 layout: one category per sub-directory with `domains`, `urls`,
        /// `usage` files.
        case ut1
        /// One file, one category.
        case file
    }

    public var kind: Kind
    /// Absolute path (resolved against the file that names it).
    public var path: String
    /// The category name (`file`), or a prefix for every category of a directory (`ut1`).
    public var name: String
    public var format: ListFormat
    /// For `ut1`: only these categories (empty: all).
    public var only: [String]

    public init(kind: Kind, path: String, name: String, format: ListFormat = .auto, only: [String] = []) {
        self.kind = kind
        self.path = path
        self.name = name
        self.format = format
        self.only = only
    }
}

/// The district as `steward.yaml` describes it.
public struct StewardConfiguration: Sendable {
    /// The configuration file (absolute path).
    public var file: String
    public var districtName: String
    /// Where the SQLite store, compiled lists and keys live.
    public var dataDirectory: String
    public var lists: [ListSource]
    /// Roster files (CSV: id, name, role, building, grade, email, status, …).
    public var rosterFiles: [String]
    /// Groups, zones, schedules, documents, rules, safeguards; people come from the roster.
    public var policy: PolicyDefinition
    /// Every file the policy was read from (configuration, policy files, documents, rosters), so a
    /// reload can watch them.
    public var sourceFiles: [String]
    /// `dns:`; nil when the section is absent (no DNS service).
    public var dns: DNSSettings?
    public var activity = ActivitySettings()
    public var metrics = MetricsSettings()
    public var store = StoreSettings()
    /// `proxy:`; nil when the section is absent (no proxy service).
    public var proxy: ProxySettings?
    public var directory = DirectorySettings()
    /// `web:`; nil when the section is absent (no portal, block page or console).
    public var web: WebSettings?

    public init(file: String) {
        self.file = file
        self.districtName = "District"
        self.dataDirectory = "data"
        self.lists = []
        self.rosterFiles = []
        self.policy = PolicyDefinition()
        self.sourceFiles = [file]
    }
}
