import Foundation

/// The compiled, immutable policy: lists, groups, zones, schedules and rules in the form the hot
/// paths read. Built once per (re)load and swapped whole (see `SnapshotHolder`); never mutated.
public final class PolicySnapshot: Sendable {
    public let lists: CompiledLists
    public let groups: [GroupDefinition]
    public let zones: [ZoneDefinition]
    public let documents: [PolicyDocument]
    public let definition: PolicyDefinition
    let rules: [CompiledRule]
    /// The same rules, as the hot path reads them.
    @usableFromInline let matchers: [RuleMatcher]
    @usableFromInline let defaultAction: RuleAction
    let schedules: [CompiledSchedule]
    let clock: LocalClock
    let cipa: BitSet512
    let personalUse: BitSet512
    /// Priority classes (R6): categories whose traffic the proxy may rate-limit, and categories
    /// (education, work) that are never limited even when also in a non-priority category.
    let nonPriority: BitSet512
    let priority: BitSet512
    /// Zone networks, longest prefix first, so the first hit is the most specific zone.
    let zoneNetworks: [(network: IPNetwork, zone: Int32)]
    let zoneDefaultGroups: [Int32]
    /// Per zone: sign-in required (the captive portal).
    @usableFromInline let zonePortals: [Bool]
    /// The subject of an unidentified client, per zone (computed once).
    let zoneSubjects: [Subject]
    let people: [String: Person]
    /// When this snapshot was compiled, and how long it took (seconds).
    public let compiledAt: Date
    public let compileSeconds: Double

    init(
        lists: CompiledLists, definition: PolicyDefinition, rules: [CompiledRule], schedules: [CompiledSchedule],
        clock: LocalClock, cipa: BitSet512, personalUse: BitSet512, nonPriority: BitSet512 = BitSet512(),
        priority: BitSet512 = BitSet512(), zoneDefaultGroups: [Int32], compileSeconds: Double
    ) {
        self.nonPriority = nonPriority
        self.priority = priority
        self.lists = lists
        self.definition = definition
        self.groups = definition.groups
        self.zones = definition.zones
        self.documents = definition.documents
        self.rules = rules
        self.matchers = rules.map(RuleMatcher.init)
        self.defaultAction = definition.defaultAction
        self.schedules = schedules
        self.clock = clock
        self.cipa = cipa
        self.personalUse = personalUse
        self.zoneDefaultGroups = zoneDefaultGroups
        self.zonePortals = definition.zones.map(\.portal)
        self.zoneSubjects = zoneDefaultGroups.map { group in
            let definition = definition.groups[Int(group)]
            return Subject(
                personID: nil, groups: BitSet512([Int(group)]), primaryGroup: group, isAdult: false,
                workOnly: definition.workOnly, safeSearch: definition.safeSearch, youTube: definition.youTube)
        }
        var networks: [(network: IPNetwork, zone: Int32)] = []
        for (index, zone) in definition.zones.enumerated() {
            for network in zone.networks { networks.append((network, Int32(index))) }
        }
        networks.sort { $0.network.prefixLength128 > $1.network.prefixLength128 }
        self.zoneNetworks = networks
        self.people = Dictionary(definition.people.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.compiledAt = Date()
        self.compileSeconds = compileSeconds
    }

    /// The rules in order.
    public var ruleDefinitions: [RuleDefinition] { rules.map(\.definition) }

    /// The rule a decision names (`Decision.rule`), if any.
    public func rule(at index: Int32) -> RuleDefinition? {
        index >= 0 && Int(index) < rules.count ? rules[Int(index)].definition : nil
    }

    /// Whether traffic to a destination in `categories` is non-priority (R6): in a non-priority
    /// category and in no priority one.
    public func isNonPriority(_ categories: BitSet512) -> Bool {
        categories.intersects(nonPriority) && !categories.intersects(priority)
    }

    /// The CIPA categories' names.
    public var cipaCategoryNames: [String] { lists.names(of: cipa) }

    // MARK: - Identity

    /// The person with this roster id, if the snapshot's roster has them.
    public func person(id: String) -> Person? { people[id] }

    /// Number of people in the roster the snapshot was compiled with.
    public var peopleCount: Int { people.count }

    /// The zone a client address is in (the most specific network wins), or -1.
    public func zone(for address: IPAddress) -> Int32 {
        for entry in zoneNetworks where entry.network.contains(address) { return entry.zone }
        return -1
    }

    /// The subject for a person: their groups, computed once.
    public func subject(for person: Person) -> Subject {
        var set = BitSet512()
        var primary: Int32 = -1
        var workOnly = false
        var safeSearch = false
        var youTube = YouTubeRestriction.off
        for (index, group) in groups.enumerated() where group.contains(person) {
            set.insert(index)
            if primary < 0 { primary = Int32(index) }
            workOnly = workOnly || group.workOnly
            safeSearch = safeSearch || group.safeSearch
            youTube = max(youTube, group.youTube)
        }
        return Subject(
            personID: person.id, groups: set, primaryGroup: primary, isAdult: person.role.isAdult,
            status: person.status, workOnly: workOnly, safeSearch: safeSearch, youTube: youTube)
    }

    /// The subject for a client nobody has identified: its zone's default group.
    public func subject(forZone zone: Int32) -> Subject {
        guard zone >= 0, Int(zone) < zoneSubjects.count else {
            return Subject(personID: nil, groups: BitSet512(), primaryGroup: -1, isAdult: false)
        }
        return zoneSubjects[Int(zone)]
    }

    /// Whether a client of `zone` that nobody has identified must sign in at the portal first.
    @inlinable
    public func requiresSignIn(zone: Int32) -> Bool {
        zone >= 0 && Int(zone) < zonePortals.count && zonePortals[Int(zone)]
    }

    public func groupIndex(id: String) -> Int? { groups.firstIndex { $0.id == id } }
    public func document(id: String) -> PolicyDocument? { documents.first { $0.id == id } }
}
