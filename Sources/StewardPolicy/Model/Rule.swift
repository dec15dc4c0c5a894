/// What a rule does when it matches.
public enum RuleAction: String, Hashable, Sendable, Codable, CaseIterable {
    case allow
    case block
    /// Show a warning the person may click through.
    case warn
    /// Allow, but raise attention (an event marked for review).
    case flag
}

/// What a rule matches. Every condition given must hold; within one condition any value will do.
/// Categories, domains and URLs together describe the destination: a destination in any of them
/// matches. A rule with no destination condition matches every destination. The exceptions
/// (`exceptGroups`, `exceptPeople`) are the one negative condition: the rule never applies to them.
public struct RuleMatch: Hashable, Sendable {
    public var groups: [String] = []
    public var zones: [String] = []
    public var categories: [String] = []
    public var domains: [String] = []
    public var urls: [String] = []
    /// File name extensions (`exe`, `msi`) of a download, for the proxy.
    public var fileTypes: [String] = []
    /// MIME types (`video/*`, `application/x-msdownload`) of a download, for the proxy.
    public var mimeTypes: [String] = []
    /// Schedules during which the rule applies.
    public var during: [String] = []
    /// Schedules outside which the rule applies.
    public var outside: [String] = []
    /// Groups the rule does not apply to (`except: {groups: […]}`): a subject in any of them is
    /// passed over, as if the rule were not there. How a permission is granted (R4: downloads with
    /// the system administrator's permission) without an allow rule, which would also pass the
    /// category blocks below it.
    public var exceptGroups: [String] = []
    /// Roster person ids the rule does not apply to (`except: {people: […]}`).
    public var exceptPeople: [String] = []

    public init() {}

    var hasDestination: Bool { !categories.isEmpty || !domains.isEmpty || !urls.isEmpty }
}

/// One rule of a policy.
public struct RuleDefinition: Hashable, Sendable {
    public var id: String
    public var description: String?
    public var action: RuleAction
    public var match: RuleMatch
    public var clause: Clause?
    public var location: SourceLocation?

    public init(
        id: String, description: String? = nil, action: RuleAction, match: RuleMatch, clause: Clause?,
        location: SourceLocation? = nil
    ) {
        self.id = id
        self.description = description
        self.action = action
        self.match = match
        self.clause = clause
        self.location = location
    }
}

/// Everything the policy engine compiles: the district's groups, zones, schedules, documents,
/// ordered rules and the safeguards around them.
public struct PolicyDefinition: Sendable {
    public var timeZone: String = "UTC"
    public var contact: String?
    public var groups: [GroupDefinition] = []
    public var zones: [ZoneDefinition] = []
    public var schedules: [ScheduleDefinition] = []
    public var documents: [PolicyDocument] = []
    /// Rules in order: the first that matches decides.
    public var rules: [RuleDefinition] = []
    /// What happens when no rule matches.
    public var defaultAction: RuleAction = .allow
    public var defaultClause: Clause?
    /// Categories CIPA requires filtered (R1): never allowed for anyone who may be a minor.
    public var cipaCategories: [String] = []
    public var cipaClause: Clause?
    /// Cited when a revoked person is blocked (R13).
    public var revocationClause: Clause?
    /// Categories blocked for groups switched to "work only" (R20), and the clause for it.
    public var personalUseCategories: [String] = []
    public var workOnlyClause: Clause?
    /// R6: categories whose traffic the proxy rate-limits per person when configured, and
    /// categories never limited (education, work) even when also in a non-priority one.
    public var nonPriorityCategories: [String] = []
    public var priorityCategories: [String] = []
    public var people: [Person] = []

    public init() {}
}
