/// A group of people that rules can name. A person is in every group whose criteria they meet:
/// all criteria given must hold (roles AND buildings AND grades), any value within one criterion
/// will do; named `members` are in the group whatever the criteria say.
public struct GroupDefinition: Hashable, Sendable {
    public var id: String
    public var name: String
    public var roles: Set<Role>
    public var buildings: Set<String>
    /// Grade levels (see `Grade.level`).
    public var grades: Set<Int>
    public var members: Set<String>
    /// R20: the Superintendent's "work only" switch — personal-use categories are blocked.
    public var workOnly: Bool
    /// SafeSearch enforced on search engines (R3), by DNS rewrite.
    public var safeSearch: Bool
    /// YouTube restricted mode (R3), by DNS rewrite.
    public var youTube: YouTubeRestriction
    public var location: SourceLocation?

    public init(
        id: String, name: String? = nil, roles: Set<Role> = [], buildings: Set<String> = [], grades: Set<Int> = [],
        members: Set<String> = [], workOnly: Bool = false, safeSearch: Bool = false, youTube: YouTubeRestriction = .off,
        location: SourceLocation? = nil
    ) {
        self.safeSearch = safeSearch
        self.youTube = youTube
        self.id = id
        self.name = name ?? id
        self.roles = roles
        self.buildings = buildings
        self.grades = grades
        self.members = members
        self.workOnly = workOnly
        self.location = location
    }

    /// Whether there are criteria at all (a group with none holds only its named members).
    var hasCriteria: Bool { !roles.isEmpty || !buildings.isEmpty || !grades.isEmpty }

    public func contains(_ person: Person) -> Bool {
        if members.contains(person.id) { return true }
        guard hasCriteria else { return false }
        if !roles.isEmpty, !roles.contains(person.role) { return false }
        if !buildings.isEmpty {
            guard let building = person.building, buildings.contains(building) else { return false }
        }
        if !grades.isEmpty {
            guard let grade = person.grade, grades.contains(grade.level) else { return false }
        }
        return true
    }

    /// Whether a minor could be in this group: only a group restricted to adult roles, with no
    /// named members (who could be anyone), is certain to hold adults only.
    public var mayIncludeMinors: Bool {
        roles.isEmpty || roles.contains { !$0.isAdult } || !members.isEmpty
    }
}

/// YouTube's restricted modes, strictest last.
public enum YouTubeRestriction: String, Sendable, Hashable, CaseIterable, Comparable {
    case off, moderate, strict
    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// A network zone: client addresses in these networks belong to it; a client nobody has identified
/// yet gets the zone's default group.
public struct ZoneDefinition: Hashable, Sendable {
    public var id: String
    public var name: String
    public var networks: [IPNetwork]
    public var defaultGroup: String
    public var building: String?
    /// Sign-in required: a client nobody has identified gets the captive portal, not the network.
    public var portal: Bool
    public var location: SourceLocation?

    public init(
        id: String, name: String? = nil, networks: [IPNetwork], defaultGroup: String, building: String? = nil,
        portal: Bool = false, location: SourceLocation? = nil
    ) {
        self.portal = portal
        self.id = id
        self.name = name ?? id
        self.networks = networks
        self.defaultGroup = defaultGroup
        self.building = building
        self.location = location
    }
}

/// Where a definition was written, for error messages (`steward.yaml:42`).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    /// The key path inside the file (`policies[0].rules[3]`).
    public var path: String

    public init(file: String, line: Int, path: String) {
        self.file = file
        self.line = line
        self.path = path
    }

    public var description: String { "\(file):\(line) (\(path))" }
}
