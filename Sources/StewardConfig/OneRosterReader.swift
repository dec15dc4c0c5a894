import Foundation
import StewardPolicy

/// OneRoster 1.1 CSV bulk and delta files (`manifest.csv`, `orgs.csv`, `users.csv`, and
/// `enrollments.csv` and `academicSessions.csv` where the manifest lists them), as student
/// information systems export them.
///
/// People are keyed by `sourcedId`, the identifier OneRoster keeps stable across exports. A
/// person's building is the first school among their `orgSourcedIds`, else the school of their
/// primary (or first) enrollment; a building's id is the school's `identifier` (the district's
/// school code) or, without one, its `sourcedId`.
extension RosterFiles {
    public static func oneRoster(directory: String) throws(ConfigError) -> Roster {
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        var reader = OneRosterReader(root: root)
        let roster = reader.read()
        guard reader.log.isEmpty, let roster else { throw ConfigError(problems: reader.log.problems) }
        return roster
    }
}

struct OneRosterReader {
    let root: String
    let log = ProblemLog()

    static let roles = ["administrator", "aide", "guardian", "parent", "proctor", "relative", "student", "teacher"]
    static let orgTypes = ["department", "school", "district", "local", "state", "national"]
    static let enrollmentRoles = ["administrator", "proctor", "student", "teacher", "aide"]
    static let sessionTypes = ["gradingPeriod", "semester", "schoolYear", "term"]
    /// CEDS grade codes OneRoster 1.1 uses that name no grade level.
    static let ungradedCodes = ["UG", "OTHER"]

    func path(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }

    /// One CSV file as rows keyed by column name, with the header checked. Column names match
    /// without regard to letter case (exports differ: `sourcedId`, `SourcedId`).
    struct Table {
        let file: String
        /// Lower-cased column name → position.
        let columns: [String: Int]
        /// The header's own spelling → position (the fast path for files spelled as the standard).
        let exact: [String: Int]
        let rows: [CSVReader.Record]

        func value(_ row: CSVReader.Record, _ column: String) -> String {
            guard let index = exact[column] ?? columns[column.lowercased()], index < row.fields.count else { return "" }
            let field = row.fields[index]
            // Only spaces and tabs are trimmed; checking the two ends' bytes first keeps it cheap.
            let first = field.utf8.first
            let last = field.utf8.last
            guard first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09 else { return field }
            return field.trimmingCharacters(in: .whitespaces)
        }

        func place(_ column: String) -> String {
            columns[column.lowercased()].map { "column \($0 + 1) (\(column))" } ?? column
        }
    }

    func table(_ name: String, required: [String]) -> Table? {
        let file = path(name)
        guard let text = ConfigurationLoader.readText(file: file, log: log, what: name, maxBytes: RosterFiles.maxBytes)
        else { return nil }
        let records: [CSVReader.Record]
        do {
            records = try CSVReader.records(text)
        } catch {
            switch error {
            case .unterminatedQuote(let line): log.add(file: file, line: line, path: "", "a quoted field is never closed")
            case .textAfterQuote(let line, let column):
                log.add(file: file, line: line, path: "column \(column)", "text after a closing quote")
            }
            return nil
        }
        guard let header = records.first else {
            log.add(file: file, line: nil, path: "", "the file is empty (expected a header row)")
            return nil
        }
        var columns: [String: Int] = [:]
        var exact: [String: Int] = [:]
        for (index, name) in header.fields.enumerated() {
            let name = name.trimmingCharacters(in: .whitespaces)
            exact[name] = index
            if columns[name.lowercased()] != nil {
                log.add(file: file, line: header.line, path: "column \(index + 1)", "column '\(name)' appears twice")
            }
            columns[name.lowercased()] = index
        }
        let missing = required.filter { columns[$0.lowercased()] == nil }
        if !missing.isEmpty {
            log.add(file: file, line: header.line, path: "", "missing required column\(missing.count > 1 ? "s" : "") \(missing.map { "'\($0)'" }.joined(separator: ", ")) (OneRoster 1.1)")
            return nil
        }
        var rows: [CSVReader.Record] = []
        rows.reserveCapacity(records.count)
        for record in records.dropFirst() {
            if record.fields.count != header.fields.count {
                log.add(file: file, line: record.line, path: "", "row has \(record.fields.count) fields; the header has \(header.fields.count)")
                continue
            }
            rows.append(record)
        }
        return Table(file: file, columns: columns, exact: exact, rows: rows)
    }

    /// Checks the columns every row needs filled, reporting each empty one; false if any is.
    func filled(_ table: Table, _ row: CSVReader.Record, _ columns: [String]) -> Bool {
        var ok = true
        for column in columns where table.value(row, column).isEmpty {
            log.add(file: table.file, line: row.line, path: table.place(column), "\(column) is empty")
            ok = false
        }
        return ok
    }

    func status(_ table: Table, _ row: CSVReader.Record) -> String? {
        let value = table.value(row, "status")
        guard value.isEmpty || value == "active" || value == "tobedeleted" else {
            log.add(file: table.file, line: row.line, path: table.place("status"), "unknown status '\(value)' (active or tobedeleted)")
            return nil
        }
        return value
    }

    /// `YYYY-MM-DD` as a sortable number (20260827), checking the month and the day in it; nil if
    /// it is not such a date. (Hand-written: a date formatter cost a second per 50,000 rows.)
    static func day(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else { return nil }
                value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), (1...12).contains(month)
        else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { return nil }
        return year * 10_000 + month * 100 + day
    }

    func date(_ table: Table, _ row: CSVReader.Record, _ column: String) -> Int?? {
        let value = table.value(row, column)
        if value.isEmpty { return .some(nil) }
        guard let day = Self.day(value) else {
            log.add(file: table.file, line: row.line, path: table.place(column), "'\(value)' is not a date (YYYY-MM-DD)")
            return nil
        }
        return .some(day)
    }

    // MARK: The manifest

    /// `file.NAME` → `bulk`, `delta` or `absent`.
    func manifest() -> [String: String]? {
        guard let table = table("manifest.csv", required: ["propertyName", "value"]) else { return nil }
        var properties: [String: String] = [:]
        for row in table.rows {
            let name = table.value(row, "propertyName")
            let value = table.value(row, "value")
            if properties[name] != nil {
                log.add(file: table.file, line: row.line, path: table.place("propertyName"), "'\(name)' appears twice")
            }
            properties[name] = value
            if name.hasPrefix("file."), !["bulk", "delta", "absent"].contains(value) {
                log.add(file: table.file, line: row.line, path: table.place("value"), "\(name) is '\(value)' (bulk, delta or absent)")
            }
        }
        switch properties["oneroster.version"] {
        case "1.1": break
        case nil: log.add(file: table.file, line: nil, path: "oneroster.version", "the manifest does not give oneroster.version")
        case let version?:
            log.add(file: table.file, line: nil, path: "oneroster.version", "OneRoster \(version) files; Steward imports OneRoster 1.1 CSV")
        }
        for required in ["file.users", "file.orgs"] where (properties[required] ?? "absent") == "absent" {
            log.add(file: table.file, line: nil, path: required, "\(required) must be bulk or delta: Steward needs the people and their schools")
        }
        return properties
    }

    // MARK: Reading

    mutating func read() -> Roster? {
        guard let manifest = manifest(), log.isEmpty else { return nil }
        func present(_ name: String) -> Bool { (manifest["file.\(name)"] ?? "absent") != "absent" }

        // Orgs: schools become buildings.
        var orgs: [String: (type: String, building: String, name: String)] = [:]
        var buildings: [Roster.Building] = []
        if let table = table("orgs.csv", required: ["sourcedId", "name", "type"]) {
            var parents: [(String, CSVReader.Record)] = []
            for row in table.rows {
                guard filled(table, row, ["sourcedId", "name", "type"]), status(table, row) != nil else { continue }
                let id = table.value(row, "sourcedId")
                let type = table.value(row, "type")
                guard Self.orgTypes.contains(type) else {
                    log.add(file: table.file, line: row.line, path: table.place("type"), "unknown org type '\(type)' (\(Self.orgTypes.joined(separator: ", ")))")
                    continue
                }
                if orgs[id] != nil {
                    log.add(file: table.file, line: row.line, path: table.place("sourcedId"), "sourcedId '\(id)' appears twice")
                    continue
                }
                let identifier = table.value(row, "identifier")
                let building = identifier.isEmpty ? id : identifier
                orgs[id] = (type, building, table.value(row, "name"))
                if type == "school" { buildings.append(Roster.Building(id: building, name: table.value(row, "name"))) }
                let parent = table.value(row, "parentSourcedId")
                if !parent.isEmpty { parents.append((parent, row)) }
            }
            for (parent, row) in parents where orgs[parent] == nil {
                log.add(file: table.file, line: row.line, path: table.place("parentSourcedId"), "no org with sourcedId '\(parent)'")
            }
            var seenBuildings: [String: String] = [:]
            for building in buildings {
                if let other = seenBuildings[building.id] {
                    log.add(file: table.file, line: nil, path: "identifier", "schools '\(other)' and '\(building.name)' share the identifier '\(building.id)'")
                }
                seenBuildings[building.id] = building.name
            }
        }

        // Users.
        let userColumns = ["sourcedId", "enabledUser", "orgSourcedIds", "role", "username", "givenName", "familyName"]
        var entries: [Roster.Entry] = []
        var index: [String: Int] = [:]
        var needsSchool: [String: Int] = [:]
        if let table = table("users.csv", required: userColumns) {
            entries.reserveCapacity(table.rows.count)
            for row in table.rows {
                guard filled(table, row, userColumns), let rowStatus = status(table, row) else { continue }
                let id = table.value(row, "sourcedId")
                var valid = true
                if index[id] != nil {
                    log.add(file: table.file, line: row.line, path: table.place("sourcedId"), "sourcedId '\(id)' appears twice")
                    continue
                }
                let enabled = table.value(row, "enabledUser").lowercased()
                if enabled != "true", enabled != "false" {
                    log.add(file: table.file, line: row.line, path: table.place("enabledUser"), "enabledUser is '\(enabled)' (true or false)")
                    valid = false
                }
                let roleText = table.value(row, "role")
                if !Self.roles.contains(roleText) {
                    log.add(file: table.file, line: row.line, path: table.place("role"), "unknown role '\(roleText)' (\(Self.roles.joined(separator: ", ")))")
                    valid = false
                }
                var building: String? = nil
                for org in table.value(row, "orgSourcedIds").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    guard let known = orgs[org] else {
                        log.add(file: table.file, line: row.line, path: table.place("orgSourcedIds"), "no org with sourcedId '\(org)'")
                        valid = false
                        continue
                    }
                    if building == nil, known.type == "school" { building = known.building }
                }
                var grade: Grade? = nil
                let grades = table.value(row, "grades")
                for code in grades.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !code.isEmpty {
                    if Self.ungradedCodes.contains(code.uppercased()) { continue }
                    guard let parsed = Grade(code) else {
                        log.add(file: table.file, line: row.line, path: table.place("grades"), "'\(code)' is not a CEDS grade (IT, PR, PK, TK, KG, 01–13, PS, UG, Other)")
                        valid = false
                        continue
                    }
                    if grade == nil { grade = parsed }
                }
                let email = table.value(row, "email")
                if !email.isEmpty, !email.contains("@") {
                    log.add(file: table.file, line: row.line, path: table.place("email"), "'\(email)' is not an e-mail address")
                    valid = false
                }
                guard valid else { continue }
                let name = [table.value(row, "givenName"), table.value(row, "familyName")].joined(separator: " ")
                let active = enabled == "true" && rowStatus != "tobedeleted"
                let person = Person(
                    id: id, name: name, role: Role(roleText), building: building, grade: grade,
                    email: email.isEmpty ? nil : email, status: active ? .active : .inactive)
                index[id] = entries.count
                if building == nil { needsSchool[id] = entries.count }
                entries.append(Roster.Entry(person: person, username: table.value(row, "username")))
            }
        }

        // Enrollments: checked, and they give a school to people whose orgs name none.
        if present("enrollments"), let table = table("enrollments.csv", required: ["sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"]) {
            var seen = Set<String>()
            var assigned: [String: Bool] = [:]  // person → the school came from a primary enrollment
            for row in table.rows {
                guard filled(table, row, ["sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"]),
                    status(table, row) != nil
                else { continue }
                let id = table.value(row, "sourcedId")
                if !seen.insert(id).inserted {
                    log.add(file: table.file, line: row.line, path: table.place("sourcedId"), "sourcedId '\(id)' appears twice")
                }
                let user = table.value(row, "userSourcedId")
                let school = table.value(row, "schoolSourcedId")
                let role = table.value(row, "role")
                if !Self.enrollmentRoles.contains(role) {
                    log.add(file: table.file, line: row.line, path: table.place("role"), "unknown enrollment role '\(role)' (\(Self.enrollmentRoles.joined(separator: ", ")))")
                }
                let primary = table.value(row, "primary").lowercased()
                if !primary.isEmpty, primary != "true", primary != "false" {
                    log.add(file: table.file, line: row.line, path: table.place("primary"), "primary is '\(primary)' (true or false)")
                }
                guard let begin = date(table, row, "beginDate"), let end = date(table, row, "endDate") else { continue }
                if let begin, let end, end < begin {
                    log.add(file: table.file, line: row.line, path: table.place("endDate"), "endDate is before beginDate")
                }
                guard let org = orgs[school] else {
                    log.add(file: table.file, line: row.line, path: table.place("schoolSourcedId"), "no org with sourcedId '\(school)'")
                    continue
                }
                if org.type != "school" {
                    log.add(file: table.file, line: row.line, path: table.place("schoolSourcedId"), "'\(school)' is a \(org.type), not a school")
                    continue
                }
                // A delta's enrollment may name someone the delta does not list; only a bulk file's must.
                guard let position = needsSchool[user] else {
                    if index[user] == nil, manifest["file.users"] == "bulk" {
                        log.add(file: table.file, line: row.line, path: table.place("userSourcedId"), "no user with sourcedId '\(user)'")
                    }
                    continue
                }
                let isPrimary = primary == "true"
                if assigned[user] == nil || (isPrimary && assigned[user] == false) {
                    entries[position].person.building = org.building
                    assigned[user] = isPrimary
                }
            }
        }

        if present("academicSessions"), let table = table("academicSessions.csv", required: ["sourcedId", "title", "type", "startDate", "endDate", "schoolYear"]) {
            for row in table.rows {
                guard filled(table, row, ["sourcedId", "title", "type", "startDate", "endDate", "schoolYear"]),
                    status(table, row) != nil
                else { continue }
                let type = table.value(row, "type")
                if !Self.sessionTypes.contains(type) {
                    log.add(file: table.file, line: row.line, path: table.place("type"), "unknown session type '\(type)' (\(Self.sessionTypes.joined(separator: ", ")))")
                }
                let year = table.value(row, "schoolYear")
                if year.count != 4 || Int(year) == nil {
                    log.add(file: table.file, line: row.line, path: table.place("schoolYear"), "'\(year)' is not a year (YYYY)")
                }
                if let start = date(table, row, "startDate"), let end = date(table, row, "endDate"), let start, let end, end < start {
                    log.add(file: table.file, line: row.line, path: table.place("endDate"), "endDate is before startDate")
                }
            }
        }
        guard log.isEmpty else { return nil }
        return Roster(
            kind: .oneRoster, source: root, complete: manifest["file.users"] == "bulk", entries: entries,
            buildings: buildings)
    }
}
