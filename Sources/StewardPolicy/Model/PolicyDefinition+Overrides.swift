/// Policy that administrators set from the console and the store keeps: approved review exceptions
/// and "work only" switches. Applied to the configured definition before each compile, so they
/// survive reloads and reach every node.
extension PolicyDefinition {
    /// A site allowed by an approved review request.
    public struct Exception: Sendable, Hashable {
        public var id: String
        public var host: String
        /// Allowed for this building's people and networks; nil for the whole district.
        public var building: String?

        public init(id: String, host: String, building: String?) {
            self.id = id
            self.host = host
            self.building = building
        }
    }

    /// The definition with the switches set and the exceptions placed before every other rule (an
    /// exception is an administrator's decision about one site). The CIPA safeguard still applies
    /// after them: no exception opens a CIPA category to a minor.
    public func applying(workOnly: [String: Bool], exceptions: [Exception]) -> PolicyDefinition {
        var result = self
        for index in result.groups.indices {
            if let on = workOnly[result.groups[index].id] { result.groups[index].workOnly = on }
        }
        var rules: [RuleDefinition] = []
        for exception in exceptions {
            var match = RuleMatch()
            match.domains = [exception.host]
            let description = "Approved review \(exception.id)"
            guard let building = exception.building else {
                rules.append(RuleDefinition(id: "exception-\(exception.id)", description: description, action: .allow, match: match, clause: nil))
                continue
            }
            let groupID = "building:\(building)"
            if !result.groups.contains(where: { $0.id == groupID }) {
                result.groups.append(GroupDefinition(id: groupID, name: "Everyone in \(building)", buildings: [building]))
            }
            var byPerson = match
            byPerson.groups = [groupID]
            rules.append(
                RuleDefinition(id: "exception-\(exception.id)", description: description, action: .allow, match: byPerson, clause: nil))
            let zones = result.zones.filter { $0.building == building }.map(\.id)
            if !zones.isEmpty {
                var byNetwork = match
                byNetwork.zones = zones
                rules.append(
                    RuleDefinition(
                        id: "exception-\(exception.id)-network", description: description, action: .allow, match: byNetwork,
                        clause: nil))
            }
        }
        result.rules = rules + result.rules
        return result
    }
}
