import ArgumentParser
import Foundation
import StewardPolicy
import StewardServer

/// `steward check`: explains the decision for a person or client, a destination, and a time.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Explain the decision for a person or client address, a URL or domain, and a time."
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "The person's roster id.") var user: String?
    @Option(help: "The client's IP address (its network zone applies).") var client: String?
    @Option(help: "A URL (http://host/path).") var url: String?
    @Option(help: "A domain name.") var domain: String?
    @Option(help: "When (ISO 8601; a time without zone is the district's local time). Default: now.") var at: String?
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        let check = DecisionCheck(user: user, client: client, url: url, domain: domain, at: at)
        let outcome: DecisionCheck.Outcome
        do {
            let loaded = try PolicyLoading.load(configFile: options.config)
            var person: Person? = nil
            if let user {
                // The directory knows people as they are now (imports, revocations, moves).
                person = try await StoreAccess.with(configFile: loaded.configuration.file, logger: commandLogger()) {
                    store, _ in try await store.directory.person(id: user)?.person
                }
            }
            outcome = try check.run(on: loaded.snapshot, person: person)
        } catch {
            throw fail(error)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(JSONOutput(outcome.explanation))
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(Self.text(outcome))
        }
    }

    static func text(_ outcome: DecisionCheck.Outcome) -> String {
        let explanation = outcome.explanation
        var lines = [
            "decision:    \(explanation.decision)",
            "rule:        \(explanation.rule ?? "(none)")",
            "categories:  \(explanation.categories.isEmpty ? "(none)" : explanation.categories.joined(separator: ", "))",
            "group:       \(explanation.group ?? "(none)")",
        ]
        if let clause = explanation.clause {
            lines.append("clause:      \(clause.document) [\(clause.documentID)]")
            lines.append("             section: \(clause.section)")
            lines.append("             \"\(clause.text)\"")
        } else {
            lines.append("clause:      (none)")
        }
        lines.append("reason:      \(explanation.reason)")
        lines.append("who:         \(outcome.subject)")
        lines.append("destination: \(outcome.destination)")
        let formatter = ISO8601DateFormatter()
        lines.append("when:        \(formatter.string(from: outcome.time))")
        return lines.joined(separator: "\n")
    }
}

/// The `--json` shape: exactly these keys, `null` where there is nothing.
struct JSONOutput: Encodable {
    let explanation: Explanation
    init(_ explanation: Explanation) { self.explanation = explanation }

    enum Keys: String, CodingKey { case decision, rule, categories, clause, group, reason }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(explanation.decision, forKey: .decision)
        try container.encode(explanation.rule, forKey: .rule)
        try container.encode(explanation.categories, forKey: .categories)
        try container.encode(explanation.clause, forKey: .clause)
        try container.encode(explanation.group, forKey: .group)
        try container.encode(explanation.reason, forKey: .reason)
    }
}
