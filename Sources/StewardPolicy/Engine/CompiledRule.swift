/// The conditions of a rule that `decide` tests on every query: bit sets and flags only, no
/// references, so walking the rules retains and releases nothing.
@usableFromInline struct RuleMatcher: Sendable {
    @usableFromInline var groups: BitSet512
    @usableFromInline var zones: BitSet512
    @usableFromInline var destinations: BitSet512
    @usableFromInline var anyGroup: Bool
    @usableFromInline var anyZone: Bool
    @usableFromInline var anyDestination: Bool
    /// The rule has file-type or MIME conditions (see `CompiledRule.matches(file:)`).
    @usableFromInline var needsFile: Bool
    /// The rule has schedule conditions.
    @usableFromInline var needsClock: Bool
    /// Groups the rule never applies to (empty when none are excepted).
    @usableFromInline var exceptGroups: BitSet512
    /// The rule excepts named people (see `CompiledRule.exceptPeople`).
    @usableFromInline var exceptsPeople: Bool
    /// The rule has an exception of either kind; tested only once every other condition holds.
    @usableFromInline var hasExceptions: Bool
    @usableFromInline var action: RuleAction

    init(_ rule: CompiledRule) {
        groups = rule.groups ?? BitSet512()
        zones = rule.zones ?? BitSet512()
        destinations = rule.destinations ?? BitSet512()
        anyGroup = rule.groups == nil
        anyZone = rule.zones == nil
        anyDestination = rule.destinations == nil
        needsFile = !rule.fileTypes.isEmpty || !rule.mimeTypes.isEmpty
        needsClock = rule.needsClock
        exceptGroups = rule.exceptGroups
        exceptsPeople = !rule.exceptPeople.isEmpty
        hasExceptions = !rule.exceptGroups.isEmpty || !rule.exceptPeople.isEmpty
        action = rule.definition.action
    }
}

/// A rule with everything about it: the definition, and the conditions that need more than bits.
struct CompiledRule: Sendable {
    let definition: RuleDefinition
    /// nil means "any".
    let groups: BitSet512?
    let zones: BitSet512?
    let destinations: BitSet512?
    let fileTypes: [String]
    let mimeTypes: [String]
    let during: [Int]
    let outside: [Int]
    /// Groups and roster person ids the rule does not apply to.
    let exceptGroups: BitSet512
    let exceptPeople: Set<String>

    var needsClock: Bool { !during.isEmpty || !outside.isEmpty }

    /// Whether a person id is one the rule excepts. Hashes the id; allocates nothing.
    func excepts(personID: String?) -> Bool {
        guard let personID else { return false }
        return exceptPeople.contains(personID)
    }

    func matches(file: FileInfo?) -> Bool {
        if fileTypes.isEmpty && mimeTypes.isEmpty { return true }
        guard let file else { return false }
        if let ext = file.fileExtension, fileTypes.contains(ext) { return true }
        if let mime = file.mimeType {
            for pattern in mimeTypes {
                if pattern == mime { return true }
                if pattern.hasSuffix("/*"), mime.hasPrefix(pattern.dropLast()) { return true }
            }
        }
        return false
    }
}

/// A schedule as bit masks: for each window, the days (bit n = weekday n) and minutes.
struct CompiledSchedule: Sendable {
    let windows: [(days: UInt8, start: Int, end: Int)]

    init(_ definition: ScheduleDefinition) {
        windows = definition.windows.map { window in
            (window.days.reduce(0) { $0 | UInt8(1) << UInt8($1) }, window.start, window.end)
        }
    }

    func contains(weekday: Int, minute: Int) -> Bool {
        let today = UInt8(1) << UInt8(weekday)
        let yesterday = UInt8(1) << UInt8((weekday + 6) % 7)
        for window in windows {
            if window.start <= window.end {
                if window.days & today != 0, minute >= window.start, minute < window.end { return true }
            } else {
                // Over midnight: belongs to the day it starts on.
                if window.days & today != 0, minute >= window.start { return true }
                if window.days & yesterday != 0, minute < window.end { return true }
            }
        }
        return false
    }
}
