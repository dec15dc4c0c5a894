import Foundation
import StewardPolicy

/// Reads a roster sheet (`id,name,role,building,grade,email[,status,revoked-until,revoked-reason]`,
/// header first, columns in any order). Every bad row is reported with file, line, column and
/// reason; good rows still load so that all problems show in one run.
enum RosterCSV {
    static let columns = ["id", "name", "role", "building", "grade", "email", "status", "revoked-until", "revoked-reason"]
    static let required = ["id", "name", "role"]

    static func load(file: String, log: ProblemLog, cited: YAMLValue) -> [Person] {
        load(file: file, log: log, line: cited.line, path: cited.path).map(\.person)
    }

    /// Reads a roster sheet; each person with their sign-in name (the email, else the id).
    static func load(file: String, log: ProblemLog, line: Int? = nil, path: String = "") -> [Roster.Entry] {
        guard
            let text = ConfigurationLoader.readText(
                file: file, log: log, what: "roster", line: line, path: path, maxBytes: RosterFiles.maxBytes)
        else { return [] }
        let records: [CSVReader.Record]
        do {
            records = try CSVReader.records(text)
        } catch {
            switch error {
            case .unterminatedQuote(let line):
                log.add(file: file, line: line, path: "", "a quoted field is never closed")
            case .textAfterQuote(let line, let column):
                log.add(file: file, line: line, path: "column \(column)", "text after a closing quote")
            }
            return []
        }
        guard let header = records.first else {
            log.add(file: file, line: nil, path: "", "the roster is empty (expected a header row)")
            return []
        }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        var index: [String: Int] = [:]
        for (position, name) in names.enumerated() {
            guard columns.contains(name) else {
                log.add(file: file, line: header.line, path: "column \(position + 1)", "unknown column '\(name)' (expected \(columns.joined(separator: ", ")))")
                continue
            }
            if index[name] != nil { log.add(file: file, line: header.line, path: "column \(position + 1)", "column '\(name)' appears twice") }
            index[name] = position
        }
        for name in required where index[name] == nil {
            log.add(file: file, line: header.line, path: "", "missing required column '\(name)'")
        }
        guard required.allSatisfy({ index[$0] != nil }) else { return [] }
        var people: [Roster.Entry] = []
        let dateFormatter = ISO8601DateFormatter()
        dateFormatter.formatOptions = [.withFullDate]
        for record in records.dropFirst() {
            func field(_ name: String) -> String? {
                guard let position = index[name], position < record.fields.count else { return nil }
                let value = record.fields[position].trimmingCharacters(in: .whitespaces)
                return value.isEmpty ? nil : value
            }
            func bad(_ name: String, _ message: String) {
                let column = index[name].map { "column \($0 + 1) (\(name))" } ?? name
                log.add(file: file, line: record.line, path: column, message)
            }
            if record.fields.count != names.count {
                log.add(file: file, line: record.line, path: "", "row has \(record.fields.count) fields; the header has \(names.count)")
                continue
            }
            var valid = true
            guard let id = field("id") else { bad("id", "id is empty"); continue }
            guard let name = field("name") else { bad("name", "name is empty"); continue }
            let roleText = field("role") ?? ""
            let role = Role(roleText)
            if !Role.known.contains(role) {
                bad("role", "unknown role '\(roleText)' (one of \(Role.known.map(\.rawValue).joined(separator: ", ")))")
                valid = false
            }
            var grade: Grade? = nil
            if let text = field("grade") {
                grade = Grade(text)
                if grade == nil { bad("grade", "'\(text)' is not a grade (PK, KG, 1–13)"); valid = false }
            }
            var status = PersonStatus.active
            switch field("status")?.lowercased() ?? "active" {
            case "active": status = .active
            case "inactive", "tobedeleted": status = .inactive
            case "revoked":
                var until: Date? = nil
                if let text = field("revoked-until") {
                    until = dateFormatter.date(from: text)
                    if until == nil { bad("revoked-until", "'\(text)' is not a date (YYYY-MM-DD)"); valid = false }
                }
                guard let reason = field("revoked-reason") else {
                    bad("revoked-reason", "a revocation needs its reason")
                    continue
                }
                status = .revoked(until: until, reason: reason)
            case let other:
                bad("status", "unknown status '\(other)' (active, inactive or revoked)")
                valid = false
            }
            guard valid else { continue }
            people.append(
                Roster.Entry(
                    person: Person(
                        id: id, name: name, role: role, building: field("building"), grade: grade,
                        email: field("email"), status: status),
                    username: field("email") ?? id))
        }
        return people
    }
}
