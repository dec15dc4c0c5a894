import Foundation
import StewardPolicy

/// Reads the policy parts of the configuration: documents, clauses, lists, groups, zones,
/// schedules and rules (inline or in policy files).
struct PolicyReader {
    let log: ProblemLog
    let configFile: String
    private var namedClauses: [String: Clause] = [:]

    init(log: ProblemLog, configFile: String) {
        self.log = log
        self.configFile = configFile
    }

    private func location(_ value: YAMLValue) -> SourceLocation {
        SourceLocation(file: value.file, line: value.line ?? 0, path: value.path)
    }

    func document(_ value: YAMLValue) -> PolicyDocument? {
        guard
            let keys = value.mapping(
                keys: ["id", "title", "file", "audience", "acknowledge", "version", "adopted", "revised"],
                required: ["id", "title"]),
            let id = keys["id"]?.nonEmptyString(), let title = keys["title"]?.nonEmptyString()
        else { return nil }
        var audience = ["everyone"]
        if let audienceValue = keys["audience"] {
            audience = audienceValue.strings().filter { token in
                let known = PolicyDocument.audiences.contains(token) || Role.known.contains(Role(token))
                if !known {
                    audienceValue.problem(
                        "'\(token)' is not an audience (\(PolicyDocument.audiences.joined(separator: ", ")), or a role)")
                }
                return known
            }
            if audience.isEmpty { audienceValue.problem("a document's audience names at least one group of people") }
        }
        var dates: [String: String] = [:]
        for key in ["adopted", "revised"] {
            guard let dateValue = keys[key], let text = dateValue.string() else { continue }
            if !PolicySnapshot.isISODay(text) {
                dateValue.problem("'\(text)' is not a date (YYYY-MM-DD)")
            } else {
                dates[key] = text
            }
        }
        var text: String? = nil
        var source: String? = nil
        if let fileValue = keys["file"], let path = fileValue.nonEmptyString() {
            let resolved = ConfigurationLoader.resolve(path, relativeTo: value.file)
            source = resolved
            text = ConfigurationLoader.readText(
                file: resolved, log: log, what: "policy document", line: fileValue.line, path: fileValue.path)
        }
        if keys["acknowledge"]?.bool() ?? true, keys["file"] == nil {
            value.problem("a document people sign needs its text (file)")
        }
        return PolicyDocument(
            id: id, title: title, text: text, source: source, audience: audience,
            acknowledge: keys["acknowledge"]?.bool() ?? true, version: keys["version"]?.string(), adopted: dates["adopted"],
            revised: dates["revised"])
    }

    mutating func defineClause(name: String, _ value: YAMLValue) {
        if let clause = clause(value, allowReference: false) { namedClauses[name] = clause }
    }

    /// A clause: inline (`{document, section, text}`) or the name of one under `clauses:`.
    func clause(_ value: YAMLValue, allowReference: Bool = true) -> Clause? {
        if case .scalar = value.node, allowReference {
            guard let name = value.string() else { return nil }
            guard let clause = namedClauses[name] else {
                value.problem("unknown clause '\(name)'\(YAMLValue.suggestion(for: name, among: Array(namedClauses.keys).sorted()))")
                return nil
            }
            return clause
        }
        guard let keys = value.mapping(keys: ["document", "section", "text"], required: ["document", "section", "text"]),
            let document = keys["document"]?.nonEmptyString(), let section = keys["section"]?.nonEmptyString(),
            let text = keys["text"]?.nonEmptyString()
        else { return nil }
        return Clause(document: document, section: section, text: text)
    }

    func listSource(_ value: YAMLValue) -> ListSource? {
        guard let keys = value.mapping(keys: ["name", "path", "format", "only"], required: ["path"]),
            let pathValue = keys["path"], let path = pathValue.nonEmptyString()
        else { return nil }
        let resolved = ConfigurationLoader.resolve(path, relativeTo: value.file)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory) else {
            pathValue.problem("no such list file or directory: \(resolved)")
            return nil
        }
        let only = keys["only"]?.strings() ?? []
        if isDirectory.boolValue {
            if let format = keys["format"], format.string() != "ut1" {
                format.problem("a directory of lists is read in the UT1 layout; format must be ut1 or left out")
            }
            let prefix = keys["name"]?.string() ?? ""
            return ListSource(kind: .ut1, path: resolved, name: prefix, format: .auto, only: only)
        }
        guard let name = keys["name"]?.nonEmptyString() else {
            value.problem("a list file needs a name: the category its entries belong to")
            return nil
        }
        if name == CompiledLists.ipAddressCategory {
            // Merging a list into the built-in category would put its names in it too, and the
            // category promises to hold only destinations written as addresses.
            keys["name"]?.problem(
                "'\(name)' is a built-in category (every destination written as an IP address is in it); "
                    + "name the list something else, and allow-list addresses by naming that list in a rule")
            return nil
        }
        if !only.isEmpty { keys["only"]?.problem("'only' selects categories of a UT1 directory, not of a file") }
        let format = keys["format"]?.oneOf(ListFormat.self) ?? .auto
        return ListSource(kind: .file, path: resolved, name: name, format: format)
    }

    func group(_ value: YAMLValue) -> GroupDefinition? {
        guard
            let keys = value.mapping(
                keys: ["id", "name", "roles", "buildings", "grades", "members", "work-only", "safe-search", "youtube"],
                required: ["id"]),
            let id = keys["id"]?.nonEmptyString()
        else { return nil }
        var roles: Set<Role> = []
        if let rolesValue = keys["roles"] {
            for text in rolesValue.strings() {
                let role = Role(text)
                if Role.known.contains(role) { roles.insert(role) } else {
                    rolesValue.problem("unknown role '\(text)' (one of \(Role.known.map(\.rawValue).joined(separator: ", ")))")
                }
            }
        }
        var grades: Set<Int> = []
        if let gradesValue = keys["grades"] {
            for text in gradesValue.strings() {
                if let range = Grade.range(text) { grades.formUnion(range) } else {
                    gradesValue.problem("'\(text)' is not a grade or grade range (PK, KG, 1–13, e.g. 9-12)")
                }
            }
        }
        // A group with no criteria holds nobody by itself; zones use such groups for clients no one
        // has identified yet.
        return GroupDefinition(
            id: id, name: keys["name"]?.string(), roles: roles, buildings: Set(keys["buildings"]?.strings() ?? []),
            grades: grades, members: Set(keys["members"]?.strings() ?? []), workOnly: keys["work-only"]?.bool() ?? false,
            safeSearch: keys["safe-search"]?.bool() ?? false, youTube: keys["youtube"]?.oneOf(YouTubeRestriction.self) ?? .off,
            location: location(value))
    }

    func zone(_ value: YAMLValue) -> ZoneDefinition? {
        guard
            let keys = value.mapping(
                keys: ["id", "name", "networks", "default-group", "building", "portal"],
                required: ["id", "networks", "default-group"]),
            let id = keys["id"]?.nonEmptyString(), let group = keys["default-group"]?.nonEmptyString(),
            let networksValue = keys["networks"]
        else { return nil }
        var networks: [IPNetwork] = []
        for text in networksValue.strings() {
            if let network = IPNetwork(text) { networks.append(network) } else {
                networksValue.problem("'\(text)' is not a network in CIDR notation with its host bits zero (e.g. 10.20.0.0/16)")
            }
        }
        if networks.isEmpty { networksValue.problem("a zone needs at least one network") }
        return ZoneDefinition(
            id: id, name: keys["name"]?.string(), networks: networks, defaultGroup: group,
            building: keys["building"]?.string(), portal: keys["portal"]?.bool() ?? false, location: location(value))
    }

    func schedule(name: String, _ value: YAMLValue) -> ScheduleDefinition? {
        guard let windows = value.sequence() else { return nil }
        var result: [ScheduleDefinition.Window] = []
        for window in windows {
            guard let keys = window.mapping(keys: ["days", "from", "to"], required: ["days", "from", "to"]) else { continue }
            var days: Set<Int> = []
            if let daysValue = keys["days"] {
                for text in daysValue.strings() {
                    if let parsed = ScheduleDefinition.days(text) { days.formUnion(parsed) } else {
                        daysValue.problem("'\(text)' is not a day or day range (mon, mon-fri, weekdays, weekends, daily)")
                    }
                }
            }
            let start = keys["from"].flatMap { value in
                value.string().flatMap { text in
                    ScheduleDefinition.minutes(text) ?? { value.problem("'\(text)' is not a time of day (HH:MM)"); return nil }()
                }
            }
            let end = keys["to"].flatMap { value in
                value.string().flatMap { text in
                    ScheduleDefinition.minutes(text) ?? { value.problem("'\(text)' is not a time of day (HH:MM)"); return nil }()
                }
            }
            if let start, let end, !days.isEmpty {
                if start == end { window.problem("the window is empty (from equals to)") }
                result.append(ScheduleDefinition.Window(days: days, start: start, end: end))
            }
        }
        return ScheduleDefinition(id: name, windows: result, location: location(value))
    }

    /// A `policies:` entry: `{file: PATH}` naming a policy file with `rules:`, or `{rules: […]}` inline.
    func policy(_ value: YAMLValue) -> ([RuleDefinition], String?) {
        guard let keys = value.mapping(keys: ["file", "rules"]) else { return ([], nil) }
        if keys["file"] != nil, keys["rules"] != nil {
            value.problem("give either a policy file or inline rules, not both")
        }
        if let fileValue = keys["file"], let path = fileValue.nonEmptyString() {
            let resolved = ConfigurationLoader.resolve(path, relativeTo: value.file)
            let fileLog = log
            guard FileManager.default.fileExists(atPath: resolved) else {
                fileValue.problem("no such policy file: \(resolved)")
                return ([], nil)
            }
            guard let root = ConfigurationLoader.parse(file: resolved, log: fileLog),
                let top = root.mapping(keys: ["rules"], required: ["rules"]), let rules = top["rules"]?.sequence()
            else { return ([], resolved) }
            return (rules.compactMap { rule($0) }, resolved)
        }
        if let rules = keys["rules"]?.sequence() { return (rules.compactMap { rule($0) }, nil) }
        value.problem("a policy entry needs 'file' or 'rules'")
        return ([], nil)
    }

    static let matchKeys = [
        "groups", "zones", "categories", "domains", "urls", "file-types", "mime-types", "during", "outside", "except",
    ]
    static let exceptKeys = ["groups", "people"]

    func rule(_ value: YAMLValue) -> RuleDefinition? {
        guard
            let keys = value.mapping(
                keys: ["id", "description", "action", "match", "clause"], required: ["id", "action"]),
            let id = keys["id"]?.nonEmptyString(), let action = keys["action"]?.oneOf(RuleAction.self)
        else { return nil }
        var match = RuleMatch()
        if let matchValue = keys["match"], let fields = matchValue.mapping(keys: Self.matchKeys) {
            match.groups = fields["groups"]?.strings() ?? []
            match.zones = fields["zones"]?.strings() ?? []
            match.categories = fields["categories"]?.strings() ?? []
            match.domains = fields["domains"]?.strings() ?? []
            match.urls = fields["urls"]?.strings() ?? []
            match.fileTypes = fields["file-types"]?.strings() ?? []
            match.mimeTypes = fields["mime-types"]?.strings() ?? []
            match.during = fields["during"]?.strings() ?? []
            match.outside = fields["outside"]?.strings() ?? []
            if let exceptValue = fields["except"], let except = exceptValue.mapping(keys: Self.exceptKeys) {
                match.exceptGroups = except["groups"]?.strings() ?? []
                match.exceptPeople = except["people"]?.strings() ?? []
                if match.exceptGroups.isEmpty, match.exceptPeople.isEmpty {
                    exceptValue.problem(
                        "an exception names the groups or people the rule does not apply to (groups: […], people: […])")
                }
            }
        }
        let clause = keys["clause"].flatMap { self.clause($0) }
        return RuleDefinition(
            id: id, description: keys["description"]?.string(), action: action, match: match, clause: clause,
            location: location(value))
    }
}
