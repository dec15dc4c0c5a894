import ArgumentParser
import Foundation
import StewardActivity
import StewardServer
import StewardStore

/// `steward activity --user ID --since …`: a person's recent activity. Every look is written to the
/// audit log with who looked and why (R10).
struct ActivityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activity", abstract: "Print a person's recent activity (the look is audited).")
    @OptionGroup var options: ConfigOptions
    @Option(help: "The person's id.") var user: String
    @Option(help: "How far back: 30m, 24h, 7d, or a date (2026-11-20).") var since = "24h"
    @Option(help: "At most this many events.") var limit = 200
    @Option(help: "Why you are looking (kept in the audit log).") var reason = ""
    @Flag(help: "One JSON object per line.") var json = false

    /// `30m`, `24h`, `7d` back from `now`, or a YYYY-MM-DD date (UTC midnight); nanoseconds since 1970.
    static func parseSince(_ text: String, now: Date = .now) -> Int64? {
        if let unit = text.last, let amount = Int(text.dropLast()), amount >= 0 {
            let seconds: Int? =
                switch unit {
                case "m": amount * 60
                case "h": amount * 3600
                case "d": amount * 86_400
                default: nil
                }
            if let seconds { return Int64((now.timeIntervalSince1970 - Double(seconds)) * 1e9) }
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.date(from: text).map { Int64($0.timeIntervalSince1970 * 1e9) }
    }

    func run() async throws {
        guard let from = Self.parseSince(since) else {
            throw fail(.usage("'\(since)' is not a period (30m, 24h, 7d) or a date (YYYY-MM-DD)"))
        }
        let records = try await withStore(options) { store, _ -> [ActivityRecord] in
            guard try await store.directory.person(id: user) != nil else { throw StewardError.unknownUser(user) }
            try await store.audit.append(
                actor: StoreAccess.actor, action: "activity.view", subject: user,
                detail: "since \(since)" + (reason.isEmpty ? "" : "; reason: \(reason)"))
            let activity = try await store.openActivity()
            do {
                let records = try await activity.activity(personID: user, since: from, limit: limit)
                try await activity.close()
                return records
            } catch {
                try? await activity.close()
                throw error
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for record in records {
            if json {
                print(String(decoding: try encoder.encode(record), as: UTF8.self))
            } else {
                let time = formatter.string(from: Date(timeIntervalSince1970: Double(record.time) / 1e9))
                let clause = record.clauseDocument.map { " [\($0)\(record.clauseSection.map { " §\($0)" } ?? "")]" } ?? ""
                print("\(time)\t\(record.source)\t\(record.client)\t\(record.name)\t\(record.action)\t\(record.rule ?? "-")\(clause)")
            }
        }
        if records.isEmpty, !json { print("no activity for \(user) since \(since)") }
    }
}
