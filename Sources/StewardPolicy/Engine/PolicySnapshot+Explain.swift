import Foundation

/// A decision in words: what `steward check` prints, what a block page shows, what an activity
/// event records.
public struct Explanation: Sendable, Hashable, Codable {
    public struct ClauseText: Sendable, Hashable, Codable {
        /// The document's title.
        public var document: String
        /// The document's id in the configuration.
        public var documentID: String
        public var section: String
        public var text: String

        enum CodingKeys: String, CodingKey {
            case document
            case documentID = "document_id"
            case section, text
        }
    }

    public var decision: String
    public var rule: String?
    /// List categories the destination is in (rules' inline lists are not categories).
    public var categories: [String]
    public var clause: ClauseText?
    public var group: String?
    public var reason: String
}

extension PolicySnapshot {
    /// The clause a decision cites: its rule's, or the safeguard's that decided.
    public func clause(for decision: Decision) -> Clause? {
        switch decision.cause {
        case .rule: rule(at: decision.rule)?.clause
        case .defaultAction: definition.defaultClause
        case .cipa: definition.cipaClause
        case .revoked: definition.revocationClause
        case .workOnly: definition.workOnlyClause
        case .inactive, .bypassCanary, .signIn: nil
        }
    }

    /// The group a decision names (`Decision.group`), if any.
    public func group(at index: Int32) -> GroupDefinition? {
        index >= 0 && Int(index) < groups.count ? groups[Int(index)] : nil
    }

    public func explain(_ decision: Decision, subject: Subject) -> Explanation {
        let categories = lists.listCategoryNames(of: decision.categories)
        let rule = rule(at: decision.rule)
        let group = group(at: decision.group)
        let clause = clause(for: decision)
        var reason: String
        switch decision.cause {
        case .rule:
            let what = rule?.description.map { ": \($0)" } ?? ""
            let verb = ["allow": "Allowed", "block": "Blocked", "warn": "Warned", "flag": "Flagged"][decision.action.rawValue]
            reason = "\(verb ?? decision.action.rawValue) by rule '\(rule?.id ?? "?")'\(what)"
        case .defaultAction:
            reason = "No rule matched; the policy's default is to \(decision.action.rawValue)"
        case .cipa:
            let hit = lists.names(of: decision.categories.intersection(cipa))
            reason =
                "Blocked by the CIPA safeguard: \(hit.joined(separator: ", ")) "
                + "\(hit.count == 1 ? "is a category" : "are categories") the district must filter"
        case .revoked:
            if case .revoked(let until, let why) = subject.status {
                let end = until.map { " until \(Self.isoDay.string(from: $0))" } ?? " until restored"
                reason = "Network access revoked\(end): \(why)"
            } else {
                reason = "Network access revoked"
            }
        case .inactive:
            reason = "The account is inactive; there is no network access for it"
        case .bypassCanary:
            reason = "Answered 'no such name' so that browsers and devices keep using the district's filter"
        case .signIn:
            reason = "Nobody has signed in on this device yet: the network opens after signing the acceptable-use policy"
        case .workOnly:
            reason = "Personal use is switched off for \(group?.name ?? "this group") (work only)"
        }
        if decision.cause == .rule || decision.cause == .defaultAction,
            let note = exceptionNote(decision, subject: subject)
        {
            reason += "; " + note
        }
        let clauseText = clause.map { clause in
            Explanation.ClauseText(
                document: document(id: clause.document)?.title ?? clause.document, documentID: clause.document,
                section: clause.section, text: clause.text)
        }
        return Explanation(
            decision: decision.action.rawValue, rule: rule?.id, categories: categories, clause: clauseText,
            group: group?.id, reason: reason)
    }

    /// Why an earlier rule that would have matched did not: the subject is excepted from it.
    func exceptionNote(_ decision: Decision, subject: Subject) -> String? {
        let index = Int(decision.exceptedRule)
        guard index >= 0, index < rules.count else { return nil }
        let rule = rules[index]
        let why: String
        if rule.excepts(personID: subject.personID), let id = subject.personID {
            why = "\(id) is excepted from it by name"
        } else if let bit = rule.exceptGroups.intersection(subject.groups).members.first,
            let excepted = group(at: Int32(bit))
        {
            why = "the group '\(excepted.name)' is excepted from it"
        } else {
            return nil
        }
        return "rule '\(rule.definition.id)' does not apply: \(why)"
    }

    // ISO8601DateFormatter is thread-safe once configured; it is never changed after this.
    nonisolated(unsafe) static let isoDay: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter
    }()

    /// Whether `text` is a real day written `YYYY-MM-DD` (documents' dates, console forms).
    public static func isISODay(_ text: String) -> Bool {
        text.count == 10 && isoDay.date(from: text) != nil
    }
}
