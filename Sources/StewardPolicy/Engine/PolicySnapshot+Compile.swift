import Foundation

extension PolicySnapshot {
    /// Compiles a policy over lists whose files are already ingested. Adds each rule's inline
    /// domains and URLs as categories of their own, checks every reference, every clause quote and
    /// the CIPA safeguard, and reports every problem at once. A policy with any problem never
    /// becomes a snapshot, so the one serving keeps serving (R1: never fail open).
    public static func compile(
        _ definition: PolicyDefinition, lists listCompiler: consuming ListCompiler
    ) -> Result<PolicySnapshot, PolicyError> {
        let started = ContinuousClock.now
        var problems: [PolicyProblem] = []
        func problem(_ location: SourceLocation?, _ path: String, _ message: String) {
            problems.append(PolicyProblem(location: location, path: path, message: message))
        }

        let clock = LocalClock(identifier: definition.timeZone)
        if clock == nil { problem(nil, "district.timezone", "unknown time zone '\(definition.timeZone)'") }

        checkUnique(definition.groups.map { ($0.id, $0.location) }, "groups", &problems)
        checkUnique(definition.zones.map { ($0.id, $0.location) }, "zones", &problems)
        checkUnique(definition.schedules.map { ($0.id, $0.location) }, "schedules", &problems)
        checkUnique(definition.rules.map { ($0.id, $0.location) }, "rules", &problems)
        checkUnique(definition.documents.map { ($0.id, nil) }, "documents", &problems)
        if definition.groups.count > BitSet512.capacity {
            problem(nil, "groups", "at most \(BitSet512.capacity) groups are supported")
        }
        if definition.zones.count > BitSet512.capacity {
            problem(nil, "zones", "at most \(BitSet512.capacity) zones are supported")
        }

        let groupIndex = Dictionary(
            definition.groups.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        let zoneIndex = Dictionary(
            definition.zones.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        let scheduleIndex = Dictionary(
            definition.schedules.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })

        // Zones: default groups exist; no network claimed by two zones.
        var zoneDefaults: [Int32] = []
        var seenNetworks: [IPNetwork: String] = [:]
        for (index, zone) in definition.zones.enumerated() {
            let path = zone.location?.path ?? "zones[\(index)]"
            if let group = groupIndex[zone.defaultGroup] {
                zoneDefaults.append(Int32(group))
            } else {
                zoneDefaults.append(0)
                problem(zone.location, path + ".default-group", "unknown group '\(zone.defaultGroup)'")
            }
            for network in zone.networks {
                if let other = seenNetworks[network] {
                    problem(zone.location, path + ".networks", "network \(network) is already in zone '\(other)'")
                }
                seenNetworks[network] = zone.id
            }
        }

        // Category names → bits. The built-in categories (`ip-address`) come after the lists and
        // before the rules' inline lists, so rules can name them like any list.
        listCompiler.addBuiltInCategories()
        var categoryBits: [String: Int] = [:]
        for category in listCompiler.categories { categoryBits[category.name] = category.index }
        func categorySet(_ names: [String], _ location: SourceLocation?, _ path: String) -> BitSet512 {
            var set = BitSet512()
            for (position, name) in names.enumerated() {
                if let bit = categoryBits[name] {
                    set.insert(bit)
                } else {
                    problem(location, "\(path)[\(position)]", "unknown category '\(name)'\(suggestion(name, categoryBits.keys))")
                }
            }
            return set
        }
        let cipa = categorySet(definition.cipaCategories, nil, "cipa-categories")
        let personalUse = categorySet(definition.personalUseCategories, nil, "personal-use-categories")
        let nonPriority = categorySet(definition.nonPriorityCategories, nil, "priorities.non-priority")
        let priority = categorySet(definition.priorityCategories, nil, "priorities.priority")
        if !definition.cipaCategories.isEmpty, definition.cipaClause == nil {
            problem(nil, "cipa-clause", "the CIPA categories need the clause they enforce")
        }
        if definition.groups.contains(where: \.workOnly), definition.workOnlyClause == nil {
            problem(nil, "work-only-clause", "a group is switched to work only, but no clause says why")
        }

        // Clauses: document known; quoted words really in the document.
        let documents = Dictionary(definition.documents.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        func checkClause(_ clause: Clause?, _ location: SourceLocation?, _ path: String) {
            guard let clause else { return }
            guard let document = documents[clause.document] else {
                problem(location, path + ".document", "unknown document '\(clause.document)'")
                return
            }
            if clause.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                problem(location, path + ".text", "the clause must quote the document's words")
            } else if let text = document.text, !ClauseText.contains(text, quote: clause.text) {
                problem(
                    location, path + ".text",
                    "the quoted words are not in document '\(document.id)': \"\(clause.text.prefix(80))\"")
            }
        }
        checkClause(definition.cipaClause, nil, "cipa-clause")
        checkClause(definition.revocationClause, nil, "revocation-clause")
        checkClause(definition.workOnlyClause, nil, "work-only-clause")
        checkClause(definition.defaultClause, nil, "default-clause")
        if definition.defaultAction != .allow, definition.defaultClause == nil {
            problem(nil, "default-clause", "a default of '\(definition.defaultAction.rawValue)' needs a clause")
        }

        // Rules.
        var compiled: [CompiledRule] = []
        for (index, rule) in definition.rules.enumerated() {
            let location = rule.location
            let path = location?.path ?? "rules[\(index)]"
            let match = rule.match
            /// The bits of the named ids, or nil ("any") when none are named.
            func bits(_ ids: [String], _ index: [String: Int], _ key: String, _ kind: String) -> BitSet512? {
                guard !ids.isEmpty else { return nil }
                var set = BitSet512()
                for (position, id) in ids.enumerated() {
                    if let bit = index[id] { set.insert(bit) } else {
                        problem(location, "\(path).match.\(key)[\(position)]", "unknown \(kind) '\(id)'")
                    }
                }
                return set
            }
            let groups = bits(match.groups, groupIndex, "groups", "group")
            let zones = bits(match.zones, zoneIndex, "zones", "zone")
            let exceptGroups = bits(match.exceptGroups, groupIndex, "except.groups", "group") ?? BitSet512()
            // People are not checked against the roster: it changes with every import, and an
            // exception for someone who left (or is not imported yet) harms nobody.
            for (position, id) in match.exceptPeople.enumerated()
            where id.trimmingCharacters(in: .whitespaces).isEmpty {
                problem(location, "\(path).match.except.people[\(position)]", "a person id must not be empty")
            }
            var destinations: BitSet512? = nil
            if match.hasDestination {
                var set = categorySet(match.categories, location, "\(path).match.categories")
                if !match.domains.isEmpty || !match.urls.isEmpty {
                    do {
                        let bit = try listCompiler.addCategory(
                            name: "rule:\(rule.id)", kind: .inline, source: location?.description ?? path)
                        set.insert(bit)
                        for (position, entry) in match.domains.enumerated() {
                            if let reason = listCompiler.add(entry: entry, category: bit, format: .domains) {
                                problem(location, "\(path).match.domains[\(position)]", reason)
                            }
                        }
                        for (position, entry) in match.urls.enumerated() {
                            if let reason = listCompiler.add(entry: entry, category: bit, format: .urls) {
                                problem(location, "\(path).match.urls[\(position)]", reason)
                            }
                        }
                    } catch {
                        problem(location, path + ".match", error.description)
                    }
                }
                destinations = set
            }
            var during: [Int] = []
            for (position, id) in match.during.enumerated() {
                if let schedule = scheduleIndex[id] { during.append(schedule) } else {
                    problem(location, "\(path).match.during[\(position)]", "unknown schedule '\(id)'")
                }
            }
            var outside: [Int] = []
            for (position, id) in match.outside.enumerated() {
                if let schedule = scheduleIndex[id] { outside.append(schedule) } else {
                    problem(location, "\(path).match.outside[\(position)]", "unknown schedule '\(id)'")
                }
            }
            for (position, type) in match.fileTypes.enumerated()
            where type.isEmpty || type.contains(where: { !$0.isLetter && !$0.isNumber }) {
                problem(location, "\(path).match.file-types[\(position)]", "'\(type)' is not a file extension (write exe, not .exe)")
            }
            for (position, type) in match.mimeTypes.enumerated() {
                let parts = type.split(separator: "/", omittingEmptySubsequences: false)
                if parts.count != 2 || parts[0].isEmpty || parts[1].isEmpty || parts[0] == "*" {
                    problem(location, "\(path).match.mime-types[\(position)]", "'\(type)' is not a MIME type (type/subtype or type/*)")
                }
            }
            if rule.action != .allow, rule.clause == nil {
                problem(location, path + ".clause", "a '\(rule.action.rawValue)' rule must cite the clause it enforces")
            }
            checkClause(rule.clause, location, path + ".clause")
            // R1: no rule may let a possible minor reach a CIPA category.
            if rule.action != .block, let destinations {
                let named = destinations.intersection(cipa)
                if !named.isEmpty {
                    let minorGroups: [String]
                    if match.groups.isEmpty {
                        minorGroups = ["everyone"]
                    } else {
                        minorGroups = match.groups.filter { id in
                            groupIndex[id].map { definition.groups[$0].mayIncludeMinors } ?? false
                        }
                    }
                    if !minorGroups.isEmpty {
                        let categories = named.members.compactMap { bit in categoryBits.first { $0.value == bit }?.key }
                        problem(
                            location, path,
                            "rule '\(rule.id)' would \(rule.action.rawValue) CIPA categor\(categories.count == 1 ? "y" : "ies") "
                                + "\(categories.sorted().joined(separator: ", ")) for \(minorGroups.joined(separator: ", ")), "
                                + "which may include students; CIPA categories can never be allowed for students")
                    }
                }
            }
            compiled.append(
                CompiledRule(
                    definition: rule, groups: groups, zones: zones, destinations: destinations,
                    fileTypes: match.fileTypes.map { $0.lowercased() }, mimeTypes: match.mimeTypes.map { $0.lowercased() },
                    during: during, outside: outside, exceptGroups: exceptGroups,
                    exceptPeople: Set(match.exceptPeople)))
        }

        guard problems.isEmpty, let clock else { return .failure(PolicyError(problems: problems)) }
        let lists = listCompiler.build()
        let seconds = (ContinuousClock.now - started).seconds
        return .success(
            PolicySnapshot(
                lists: lists, definition: definition, rules: compiled,
                schedules: definition.schedules.map(CompiledSchedule.init), clock: clock, cipa: cipa,
                personalUse: personalUse, nonPriority: nonPriority, priority: priority, zoneDefaultGroups: zoneDefaults,
                compileSeconds: seconds))
    }

    private static func checkUnique(_ items: [(String, SourceLocation?)], _ kind: String, _ problems: inout [PolicyProblem]) {
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            if item.0.isEmpty {
                problems.append(PolicyProblem(location: item.1, path: item.1?.path ?? "\(kind)[\(index)]", message: "id must not be empty"))
            } else if !seen.insert(item.0).inserted {
                problems.append(
                    PolicyProblem(location: item.1, path: item.1?.path ?? "\(kind)[\(index)]", message: "duplicate id '\(item.0)'"))
            }
        }
    }

    private static func suggestion(_ name: String, _ known: Dictionary<String, Int>.Keys) -> String {
        let close = known.filter { $0.hasPrefix(name.prefix(3)) || name.hasPrefix($0.prefix(3)) }
        guard !close.isEmpty else { return "" }
        return " (did you mean \(close.sorted().prefix(3).map { "'\($0)'" }.joined(separator: ", "))?)"
    }
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}

/// Quote checking: the clause must be the document's own words, ignoring line breaks, runs of
/// white space, and typographic variants of quotes and dashes.
enum ClauseText {
    static func fold(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        var lastWasSpace = false
        for scalar in text.unicodeScalars {
            var mapped = scalar
            switch scalar.value {
            case 0x2018, 0x2019, 0x201B, 0x2032: mapped = "'"
            case 0x201C, 0x201D, 0x201F, 0x2033: mapped = "\""
            case 0x2010, 0x2011, 0x2012, 0x2013, 0x2014: mapped = "-"
            case 0x2022, 0x25AA, 0x2023: mapped = " "  // bullets
            case 0x2A: mapped = " "  // markdown emphasis
            default: break
            }
            if mapped.properties.isWhitespace {
                if !lastWasSpace, !result.isEmpty { result.append(" ") }
                lastWasSpace = true
            } else {
                result.unicodeScalars.append(mapped)
                lastWasSpace = false
            }
        }
        return result.hasSuffix(" ") ? String(result.dropLast()) : result
    }

    static func contains(_ document: String, quote: String) -> Bool {
        let folded = fold(quote)
        guard !folded.isEmpty else { return false }
        return fold(document).contains(folded)
    }
}
