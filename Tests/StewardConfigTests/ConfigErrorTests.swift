import Foundation
import StewardConfig
import StewardPolicy
import Testing

/// Configuration mistakes as administrators make them: every problem reported at once, each with
/// its file, line and key path.
@Suite struct ConfigErrorTests {
    /// A minimal valid configuration; tests break one part at a time.
    static let document = "The district filters harmful material. No gambling on the network."
    static func baseConfig(extra: String = "", rules: String? = nil) -> String {
        """
        district:
          name: Test District
          timezone: America/Chicago
        documents:
          - id: aup
            title: Test AUP
            file: aup.txt
        lists:
          - name: gambling
            path: gambling.txt
        groups:
          - id: students
            roles: student
        zones:
          - id: school
            networks: [10.0.0.0/8]
            default-group: students
        policies:
          - rules:
        \(rules ?? """
              - id: no-gambling
                action: block
                match: {groups: [students], categories: [gambling]}
                clause: {document: aup, section: One, text: No gambling on the network.}
        """)
        \(extra)
        """
    }

    func load(_ config: String, files: [String: String] = [:]) throws -> Result<LoadedPolicy, ConfigError> {
        let scratch = try Scratch()
        try scratch.write("aup.txt", Self.document)
        try scratch.write("gambling.txt", "casino.example\n")
        for (name, text) in files { try scratch.write(name, text) }
        let file = try scratch.write("steward.yaml", config)
        do {
            return .success(try PolicyLoader.load(configFile: file))
        } catch {
            return .failure(error)
        }
    }

    func problems(_ config: String, files: [String: String] = [:]) throws -> [ConfigProblem] {
        switch try load(config, files: files) {
        case .success: return []
        case .failure(let error): return error.problems
        }
    }

    @Test("The minimal configuration is valid")
    func baseIsValid() throws {
        let loaded = try load(Self.baseConfig()).get()
        #expect(loaded.snapshot.ruleDefinitions.map(\.id) == ["no-gambling"])
    }

    @Test("A YAML syntax error names its line")
    func syntaxError() throws {
        let found = try problems("district:\n  name: x\n  timezone: [unclosed\nlists: []\n")
        #expect(found.count == 1)
        #expect(found[0].message.contains("YAML syntax error"))
        #expect(found[0].line != nil)
    }

    @Test("An unknown key is named with its line and the key it was probably meant to be")
    func unknownKey() throws {
        let found = try problems(Self.baseConfig(extra: "distrcit-typo: 1\nschedules:\n  school:\n    - days: mon-fri\n      form: \"08:00\"\n      to: \"15:00\"\n"))
        let typo = try #require(found.first { $0.message.contains("distrcit-typo") })
        #expect(typo.line == 24)
        let form = try #require(found.first { $0.message.contains("'form'") })
        #expect(form.message.contains("did you mean 'from'"))
        #expect(form.path == "schedules.school[0].form")
        #expect(found.contains { $0.message.contains("missing required key 'from'") })
    }

    @Test("Every problem is reported at once, each with file, line and key path")
    func manyProblems() throws {
        let config = """
            district:
              name: Test District
              timezone: Mars/Olympus
            documents:
              - id: aup
                title: Test AUP
                file: aup.txt
            lists:
              - name: gambling
                path: gambling.txt
                format: excel
            groups:
              - id: students
                roles: [student, wizard]
                grades: [K-5, 14]
            zones:
              - id: school
                networks: [10.0.0.1/8, not-a-network]
                default-group: ghosts
            schedules:
              lunch:
                - days: [mon, someday]
                  from: "25:00"
                  to: "12:30"
            cipa:
              categories: [adult]
              clause: missing-clause
            policies:
              - rules:
                  - id: r1
                    action: obliterate
                  - id: r2
                    action: block
                    match: {groups: [students], categories: [gambling], during: [lunch]}
                    clause: {document: aup, section: One, text: "Words the document never says."}
            """
        let found = try problems(config)
        func has(_ path: String, _ fragment: String, line: Int? = nil) {
            let match = found.first { $0.path == path && $0.message.contains(fragment) }
            #expect(match != nil, "no problem at \(path) containing '\(fragment)' in:\n\(found.map(\.description).joined(separator: "\n"))")
            if let line, let match { #expect(match.line == line, "\(path) line") }
        }
        has("district.timezone", "unknown time zone", line: 3)
        has("lists[0].format", "'excel' is not one of", line: 11)
        has("groups[0].roles", "unknown role 'wizard'", line: 14)
        has("groups[0].grades", "'14' is not a grade", line: 15)
        has("zones[0].networks", "'10.0.0.1/8' is not a network", line: 18)
        has("zones[0].networks", "'not-a-network'", line: 18)
        has("schedules.lunch[0].days", "'someday'", line: 22)
        has("schedules.lunch[0].from", "'25:00' is not a time", line: 23)
        has("cipa.clause", "unknown clause 'missing-clause'", line: 27)
        has("policies[0].rules[0].action", "'obliterate' is not one of", line: 31)
        #expect(found.allSatisfy { $0.file.hasSuffix("steward.yaml") })
        #expect(found.count >= 10)
    }

    @Test("Policy errors found when compiling name the policy file and the rule's line")
    func compileErrorsInPolicyFile() throws {
        let policy = """
            rules:
              - id: ok
                action: block
                match: {categories: [gambling]}
                clause: {document: aup, section: One, text: No gambling on the network.}
              - id: misquoted
                action: block
                match: {categories: [gamblng]}
                clause: {document: aup, section: One, text: No betting at all.}
            """
        let config = Self.baseConfig().replacingOccurrences(
            of: "  - rules:\n", with: "  - file: policy/rules.yaml\n  - rules:\n")
        let found = try problems(config, files: ["policy/rules.yaml": policy])
        let category = try #require(found.first { $0.path.hasSuffix("match.categories[0]") })
        #expect(category.file.hasSuffix("policy/rules.yaml"))
        #expect(category.line == 6)
        #expect(category.message.contains("did you mean 'gambling'"))
        let quote = try #require(found.first { $0.path.hasSuffix("clause.text") })
        #expect(quote.message.contains("not in document 'aup'"))
        #expect(quote.line == 6)
    }

    @Test("A rule that would allow a CIPA category to students is refused at load")
    func cipaAllowInYAML() throws {
        let rules = """
              - id: let-them
                action: allow
                match: {groups: [students], categories: [adult]}
        """
        let extra = """
            cipa:
              categories: [adult]
              clause: {document: aup, section: One, text: The district filters harmful material.}
            """
        let found = try problems(Self.baseConfig(extra: extra, rules: rules), files: ["adult.txt": "adult.example\n"])
        // The adult list is not configured yet: unknown category for both cipa and the rule.
        #expect(found.contains { $0.message.contains("unknown category 'adult'") })
        let withList = Self.baseConfig(extra: extra, rules: rules).replacingOccurrences(
            of: "lists:\n", with: "lists:\n  - name: adult\n    path: adult.txt\n")
        let cipa = try problems(withList, files: ["adult.txt": "adult.example\n"])
        #expect(cipa.count == 1)
        #expect(cipa.first?.message.contains("CIPA categories can never be allowed for students") == true)
    }

    @Test("Missing files are named with the key that names them")
    func missingFiles() throws {
        let config = Self.baseConfig(extra: "roster: people.csv\n").replacingOccurrences(of: "path: gambling.txt", with: "path: nowhere.txt")
            .replacingOccurrences(of: "file: aup.txt", with: "file: missing-aup.txt")
        let found = try problems(config)
        #expect(found.contains { $0.path == "lists[0].path" && $0.message.contains("no such list file") })
        #expect(found.contains { $0.path == "documents[0].file" && $0.message.contains("no such file") })
        #expect(found.contains { $0.message.contains("roster") && $0.message.contains("no such file") })
    }

    @Test("Every bad roster row is reported with its line and column")
    func rosterRows() throws {
        let roster = """
            id,name,role,building,grade,email,status,revoked-until,revoked-reason
            S1,Ann Lee,student,hs,10,,active,,
            S2,Bo Kim,wizard,hs,10,,active,,
            S3,,student,hs,10,,active,,
            S4,"Cy ""Jr"" Park",student,hs,15,,active,,
            S5,Di Ng,student,hs,9,,revoked,2026-13-45,
            S6,Ed Fox,student,hs,9
            S7,"Fay, Al",student,hs,KG,,active,,

            """
        let found = try problems(Self.baseConfig(extra: "roster: people.csv\n"), files: ["people.csv": roster])
        let lines = found.filter { $0.file.hasSuffix("people.csv") }.map { ($0.line ?? 0, $0.path) }
        #expect(lines.contains { $0 == (3, "column 3 (role)") })
        #expect(lines.contains { $0 == (4, "column 2 (name)") })
        #expect(lines.contains { $0 == (5, "column 5 (grade)") })
        #expect(lines.contains { $0 == (6, "column 8 (revoked-until)") })
        #expect(lines.contains { $0.0 == 7 })
        #expect(lines.count == 6)  // also line 6's missing revocation reason
    }

    @Test("A configuration file that is not there, or empty, is one clear problem")
    func noFile() throws {
        #expect(throws: ConfigError.self) { try PolicyLoader.load(configFile: "/nonexistent/steward.yaml") }
        let found = try problems("")
        #expect(found.count == 1)
        #expect(found[0].message.contains("empty"))
    }
}
