import Foundation
import StewardPolicy
import Yams

/// Reads `steward.yaml` (and the policy files, documents and rosters it names), checking every
/// key, and reporting every problem with its file, line and key path.
public enum ConfigurationLoader {
    static let topLevelKeys = [
        "district", "data-dir", "documents", "clauses", "lists", "roster", "groups", "zones", "schedules", "cipa",
        "revocation", "work-only", "default", "policies", "dns", "proxy", "activity", "metrics", "store", "directory",
        "web", "priorities",
    ]

    /// Files larger than this are refused rather than read (a configuration is a few kilobytes).
    static let maxConfigBytes = 16 << 20

    public static func load(path: String) throws(ConfigError) -> StewardConfiguration {
        let file = URL(fileURLWithPath: path).standardizedFileURL.path
        let log = ProblemLog()
        var config = StewardConfiguration(file: file)
        guard let root = parse(file: file, log: log) else { throw ConfigError(problems: log.problems) }
        read(root, into: &config, log: log)
        guard log.isEmpty else { throw ConfigError(problems: log.problems) }
        return config
    }

    /// Reads and composes one YAML file; a syntax error is one problem with its line.
    static func parse(file: String, log: ProblemLog) -> YAMLValue? {
        guard let text = readText(file: file, log: log, what: "configuration") else { return nil }
        do {
            guard let node = try Yams.compose(yaml: text) else {
                log.add(file: file, line: nil, path: "", "the file is empty")
                return nil
            }
            return YAMLValue(node: node, path: "", file: file, log: log)
        } catch let error as YamlError {
            log.add(file: file, line: error.line, path: "", "YAML syntax error: \(error.shortDescription)")
            return nil
        } catch {
            log.add(file: file, line: nil, path: "", "YAML syntax error: \(error)")
            return nil
        }
    }

    static func readText(
        file: String, log: ProblemLog, what: String, line: Int? = nil, path: String = "", maxBytes: Int = maxConfigBytes
    ) -> String? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file) else {
            log.add(file: file, line: line, path: path, "cannot read the \(what) file: no such file")
            return nil
        }
        if let size = attributes[.size] as? Int, size > maxBytes {
            log.add(file: file, line: line, path: path, "the \(what) file is larger than \(maxBytes >> 20) MiB")
            return nil
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            log.add(file: file, line: line, path: path, "cannot read the \(what) file")
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            log.add(file: file, line: line, path: path, "the \(what) file is not UTF-8 text")
            return nil
        }
        return text
    }

    static func resolve(_ path: String, relativeTo file: String) -> String {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path).standardizedFileURL.path }
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        return base.appendingPathComponent(path).standardizedFileURL.path
    }

    private static func read(_ root: YAMLValue, into config: inout StewardConfiguration, log: ProblemLog) {
        guard let top = root.mapping(keys: topLevelKeys, required: ["district"]) else { return }
        var reader = PolicyReader(log: log, configFile: config.file)

        if let district = top["district"]?.mapping(keys: ["name", "timezone", "contact"], required: ["name", "timezone"]) {
            if let name = district["name"]?.nonEmptyString() { config.districtName = name }
            if let zone = district["timezone"], let identifier = zone.string() {
                if LocalClock(identifier: identifier) == nil {
                    zone.problem("unknown time zone '\(identifier)' (use an IANA name such as America/New_York)")
                } else {
                    config.policy.timeZone = identifier
                }
            }
            config.policy.contact = district["contact"]?.string()
        }
        config.dataDirectory = resolve(top["data-dir"]?.nonEmptyString() ?? "data", relativeTo: config.file)

        // Documents and named clauses first: everything else cites them.
        if let documents = top["documents"]?.sequence() {
            for value in documents {
                if let document = reader.document(value) {
                    config.policy.documents.append(document)
                    if let source = document.source { config.sourceFiles.append(source) }
                }
            }
        }
        if let clauses = top["clauses"]?.namedEntries() {
            for (name, value) in clauses { reader.defineClause(name: name, value) }
        }
        if let lists = top["lists"]?.sequence() {
            config.lists = lists.compactMap { reader.listSource($0) }
        }
        for value in top["roster"].map({ [$0] }) ?? [] {
            for (index, path) in value.strings().enumerated() {
                let resolved = resolve(path, relativeTo: config.file)
                config.rosterFiles.append(resolved)
                let people = RosterCSV.load(file: resolved, log: log, cited: value.child(value.node, "[\(index)]"))
                config.policy.people.append(contentsOf: people)
                config.sourceFiles.append(resolved)
            }
        }
        checkUniquePeople(config.policy.people, log: log)
        if let groups = top["groups"]?.sequence() {
            config.policy.groups = groups.compactMap { reader.group($0) }
        }
        if let zones = top["zones"]?.sequence() {
            config.policy.zones = zones.compactMap { reader.zone($0) }
        }
        if let schedules = top["schedules"]?.namedEntries() {
            config.policy.schedules = schedules.compactMap { reader.schedule(name: $0, $1) }
        }
        if let cipa = top["cipa"]?.mapping(keys: ["categories", "clause"], required: ["categories", "clause"]) {
            config.policy.cipaCategories = cipa["categories"]?.strings() ?? []
            config.policy.cipaClause = cipa["clause"].flatMap { reader.clause($0) }
        }
        if let revocation = top["revocation"]?.mapping(keys: ["clause"], required: ["clause"]) {
            config.policy.revocationClause = revocation["clause"].flatMap { reader.clause($0) }
        }
        if let workOnly = top["work-only"]?.mapping(keys: ["categories", "clause"], required: ["categories", "clause"]) {
            config.policy.personalUseCategories = workOnly["categories"]?.strings() ?? []
            config.policy.workOnlyClause = workOnly["clause"].flatMap { reader.clause($0) }
        }
        if let priorities = top["priorities"]?.mapping(keys: ["non-priority", "priority"], required: ["non-priority"]) {
            config.policy.nonPriorityCategories = priorities["non-priority"]?.strings() ?? []
            config.policy.priorityCategories = priorities["priority"]?.strings() ?? []
        }
        if let fallback = top["default"]?.mapping(keys: ["action", "clause"], required: ["action"]) {
            if let action = fallback["action"]?.oneOf(RuleAction.self) { config.policy.defaultAction = action }
            config.policy.defaultClause = fallback["clause"].flatMap { reader.clause($0) }
        }
        if let dns = top["dns"] { config.dns = ServiceSettingsReader.dns(dns) }
        if let activity = top["activity"] { config.activity = ServiceSettingsReader.activity(activity) }
        if let metrics = top["metrics"] { config.metrics = ServiceSettingsReader.metrics(metrics) }
        if let store = top["store"] { config.store = ServiceSettingsReader.store(store) }
        if let proxy = top["proxy"] { config.proxy = ServiceSettingsReader.proxy(proxy) }
        if let directory = top["directory"] { config.directory = ServiceSettingsReader.directory(directory) }
        if let web = top["web"] { config.web = ServiceSettingsReader.web(web) }
        if let zones = top["zones"], config.policy.zones.contains(where: \.portal),
            config.web?.portalIPv4 == nil && config.web?.portalIPv6 == nil
        {
            zones.problem("a zone requires sign-in (portal: true), so web.portal-address must give the portal's address")
        }
        if let policies = top["policies"]?.sequence() {
            for entry in policies {
                let (rules, file) = reader.policy(entry)
                config.policy.rules.append(contentsOf: rules)
                if let file { config.sourceFiles.append(file) }
            }
        }
    }

    private static func checkUniquePeople(_ people: [Person], log: ProblemLog) {
        var seen: Set<String> = []
        var reported = 0
        for person in people where !seen.insert(person.id).inserted {
            reported += 1
            if reported <= 20 {
                log.add(file: "roster", line: nil, path: "roster", "person id '\(person.id)' appears in more than one roster row")
            }
        }
    }
}

extension YamlError {
    var line: Int? {
        switch self {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): mark.line
        default: nil
        }
    }

    var shortDescription: String {
        switch self {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _):
            [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
        default: "\(self)"
        }
    }
}
