import Foundation
import StewardPolicy

/// Rosters as districts bring them, read and checked for `steward import`. A file with any bad row
/// is refused whole: every problem is reported (file, line, column, reason) and nothing is imported.
public enum RosterFiles {
    /// The largest roster file read (a 500,000-person users.csv is about 80 MiB).
    static let maxBytes = 512 << 20

    /// A plain sheet: `id,name,role,building,grade,email[,status,revoked-until,revoked-reason]`.
    /// A sheet is the whole roster: people it no longer lists are deactivated.
    public static func plainCSV(file: String) throws(ConfigError) -> Roster {
        let path = URL(fileURLWithPath: file).standardizedFileURL.path
        let log = ProblemLog()
        let entries = RosterCSV.load(file: path, log: log)
        var seen: [String: Int] = [:]
        for (index, entry) in entries.enumerated() {
            if let first = seen[entry.person.id] {
                log.add(file: path, line: nil, path: "id", "person id '\(entry.person.id)' appears in rows \(first + 2) and \(index + 2)")
            } else {
                seen[entry.person.id] = index
            }
        }
        guard log.isEmpty else { throw ConfigError(problems: log.problems) }
        return Roster(kind: .csv, source: path, complete: true, entries: entries, buildings: buildings(of: entries))
    }

    /// The roster files a configuration names (`roster:`), as one complete roster, so `steward serve`
    /// keeps the directory in step with them.
    public static func configured(_ configuration: StewardConfiguration) throws(ConfigError) -> Roster? {
        guard !configuration.rosterFiles.isEmpty else { return nil }
        let log = ProblemLog()
        var entries: [Roster.Entry] = []
        for file in configuration.rosterFiles { entries += RosterCSV.load(file: file, log: log) }
        guard log.isEmpty else { throw ConfigError(problems: log.problems) }
        return Roster(
            kind: .csv, source: configuration.rosterFiles.joined(separator: ", "), complete: true, entries: entries,
            buildings: buildings(of: entries))
    }

    /// A sheet names buildings by id only.
    static func buildings(of entries: [Roster.Entry]) -> [Roster.Building] {
        Set(entries.compactMap(\.person.building)).sorted().map { Roster.Building(id: $0, name: $0) }
    }
}
