import Foundation
import StewardActivity
import StewardPolicy

/// Small rosters and records the tests build on.
enum Fixtures {
    static func person(_ id: String, _ name: String, _ role: Role = .student, building: String? = "north-hs", grade: String? = "9")
        -> Roster.Entry
    {
        Roster.Entry(
            person: Person(
                id: id, name: name, role: role, building: building, grade: grade.flatMap(Grade.init),
                email: "\(id.lowercased())@example.org"),
            username: "\(id.lowercased())@example.org")
    }

    static func roster(_ entries: [Roster.Entry], complete: Bool = true, kind: Roster.Kind = .csv) -> Roster {
        Roster(
            kind: kind, source: "test", complete: complete, entries: entries,
            buildings: Set(entries.compactMap(\.person.building)).sorted().map { Roster.Building(id: $0, name: $0) })
    }

    static func activity(_ count: Int, time: Int64, name: String, person: String? = nil) -> [ActivityRecord] {
        (0..<count).map { index in
            ActivityRecord(
                time: time + Int64(index), source: "dns", client: "192.0.2.\(index % 250 + 1)", personID: person,
                group: "high-students", name: name, queryType: 1, method: nil, path: nil, action: "block",
                cause: "rule", rule: "no-gambling", categories: ["gambling"], clauseDocument: "student-aup",
                clauseSection: "Unacceptable use", responseCode: 3, latencyMicros: 42, cacheHit: false, upstream: -1,
                bytesIn: 0, bytesOut: 0)
        }
    }
}
