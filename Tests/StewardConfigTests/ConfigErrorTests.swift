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

    /// A download rule with an exception, for the `except:` tests; `except` is the block under
    /// `except:`. The rule is on line 22, `except:` on line 26, the block from line 27.
    static func exceptConfig(_ except: String) -> String {
        let rules = """
              - id: no-downloads
                action: block
                match:
                  file-types: [exe]
                  except:
        \(except)
                clause: {document: aup, section: One, text: No gambling on the network.}
        """
        return baseConfig(rules: rules).replacingOccurrences(
            of: "groups:\n", with: "groups:\n  - id: permitted\n    members: [P1]\n")
    }

    @Test("A rule's exceptions are read: groups and person ids")
    func exceptIsRead() throws {
        let loaded = try load(Self.exceptConfig("            groups: [permitted]\n            people: [P1, \"007\"]")).get()
        let match = try #require(loaded.snapshot.ruleDefinitions.first?.match)
        #expect(match.exceptGroups == ["permitted"])
        #expect(match.exceptPeople == ["P1", "007"])
        #expect(match.fileTypes == ["exe"])
    }

    @Test("An unknown key inside except names file, line and key, with the key it was meant to be")
    func exceptUnknownKey() throws {
        let found = try problems(Self.exceptConfig("            group: [permitted]\n            persons: [P1]"))
        let group = try #require(found.first { $0.message.contains("unknown key 'group'") })
        #expect(group.message.contains("did you mean 'groups'"))
        #expect(group.path == "policies[0].rules[0].match.except.group")
        #expect(group.line == 27)
        #expect(group.file.hasSuffix("steward.yaml"))
        let persons = try #require(found.first { $0.message.contains("unknown key 'persons'") })
        #expect(persons.path == "policies[0].rules[0].match.except.persons")
        #expect(persons.line == 28)
    }

    @Test("A misspelt except is an unknown match key, with a suggestion")
    func exceptMisspelt() throws {
        let config = Self.exceptConfig("            groups: [permitted]").replacingOccurrences(of: "except:", with: "exept:")
        let found = try problems(config)
        let typo = try #require(found.first { $0.message.contains("unknown key 'exept'") })
        #expect(typo.message.contains("did you mean 'except'"))
        #expect(typo.path == "policies[0].rules[0].match.exept")
        #expect(typo.line == 26)
    }

    @Test("An unknown group in except is a compile error with its key path and the rule's line")
    func exceptUnknownGroup() throws {
        let found = try problems(Self.exceptConfig("            groups: [permitted, ghosts]"))
        #expect(found.count == 1)
        let ghost = try #require(found.first)
        #expect(ghost.path == "policies[0].rules[0].match.except.groups[1]")
        #expect(ghost.message == "unknown group 'ghosts'")
        #expect(ghost.line == 22)
        #expect(ghost.file.hasSuffix("steward.yaml"))
    }

    @Test("An except that names nobody, or is not a mapping, is refused")
    func exceptEmpty() throws {
        let empty = try problems(Self.exceptConfig("            {}"))
        #expect(empty.contains { $0.path == "policies[0].rules[0].match.except" && $0.message.contains("names the groups or people") })
        let list = try problems(Self.exceptConfig("            [permitted]"))
        #expect(list.contains { $0.path == "policies[0].rules[0].match.except" && $0.message.contains("expected a mapping") })
    }

    @Test("A list file named ip-address is refused with its line: the name is the built-in category's")
    func listNamedIPAddress() throws {
        let config = Self.baseConfig().replacingOccurrences(
            of: "lists:\n", with: "lists:\n  - name: ip-address\n    path: addresses.txt\n")
        let found = try problems(config, files: ["addresses.txt": "192.0.2.1\n"])
        #expect(found.count == 1)
        let problem = try #require(found.first)
        #expect(problem.path == "lists[0].name")
        #expect(problem.line == 9)
        #expect(problem.message.contains("'ip-address' is a built-in category"))
    }

    @Test("A UT1 directory with an ip-address folder is refused, and loads under a name prefix")
    func directoryWithIPAddressFolder() throws {
        let files = ["ut1/ip-address/domains": "192.0.2.1\n", "ut1/games/domains": "game.example\n"]
        let plain = Self.baseConfig().replacingOccurrences(of: "lists:\n", with: "lists:\n  - path: ut1\n")
        let found = try problems(plain, files: files)
        #expect(found.count == 1)
        let problem = try #require(found.first)
        #expect(problem.path == "lists[0]")
        #expect(problem.message.contains("'ip-address' is a built-in category"))
        #expect(problem.message.contains("name prefix"))
        let prefixed = plain.replacingOccurrences(of: "  - path: ut1\n", with: "  - path: ut1\n    name: ut1-\n")
        let lists = try load(prefixed, files: files).get().snapshot.lists
        #expect(lists.category(named: "ut1-ip-address")?.kind == .list)
        #expect(lists.category(named: "ip-address")?.kind == .builtIn)
    }

    @Test("A configuration file that is not there, or empty, is one clear problem")
    func noFile() throws {
        #expect(throws: ConfigError.self) { try PolicyLoader.load(configFile: "/nonexistent/steward.yaml") }
        let found = try problems("")
        #expect(found.count == 1)
        #expect(found[0].message.contains("empty"))
    }

    @Test("The proxy's login, pool, timeouts, bandwidth and the policy's priorities are read; mistakes name their key")
    func proxySettings() throws {
        let good = try load(
            Self.baseConfig(
                extra: """
                    priorities: {non-priority: [gambling]}
                    proxy:
                      listen: ["127.0.0.1:3128"]
                      authentication: {mode: optional, realm: District web}
                      origin-pool: {per-origin: 8, total: 100, idle-timeout: 15}
                      request-head-timeout: 20
                      response-timeout: 30
                      hello-timeout: 40
                      bandwidth: {non-priority-kib-per-second: 512, when-busy-above-kib-per-second: 10240}
                    """)
        ).get()
        let proxy = try #require(good.configuration.proxy)
        #expect(proxy.authentication?.mode == .optional)
        #expect(proxy.authentication?.realm == "District web")
        #expect(proxy.originPoolPerOrigin == 8 && proxy.originPoolTotal == 100 && proxy.originIdleSeconds == 15)
        #expect(proxy.requestHeadTimeoutSeconds == 20 && proxy.responseTimeoutSeconds == 30 && proxy.helloTimeoutSeconds == 40)
        #expect(proxy.nonPriorityKiBPerSecond == 512 && proxy.busyAboveKiBPerSecond == 10240)
        #expect(good.snapshot.isNonPriority(good.snapshot.lists.categories(ofName: "casino.example")))
        #expect(!good.snapshot.isNonPriority(good.snapshot.lists.categories(ofName: "learn.example")))
        let required = try load(Self.baseConfig(extra: "proxy:\n  authentication: required\n")).get()
        #expect(required.configuration.proxy?.authentication?.mode == .required)

        let found = try problems(
            Self.baseConfig(
                extra: """
                    proxy:
                      authentication: {mode: sometimes, realm: "say \\"hi\\""}
                      origin-pool: {per-orgin: 8}
                      response-timeout: 0
                      bandwidth: {when-busy-above-kib-per-second: 5}
                    """))
        #expect(found.contains { $0.message.contains("'sometimes' is not one of required, optional") }, "\(found)")
        #expect(found.contains { $0.path.hasSuffix("authentication.realm") }, "\(found)")
        #expect(found.contains { $0.message.contains("unknown key 'per-orgin'") }, "\(found)")
        #expect(found.contains { $0.path.hasSuffix("response-timeout") }, "\(found)")
        #expect(found.contains { $0.message.contains("missing required key 'non-priority-kib-per-second'") }, "\(found)")
        // Category names are checked when the policy compiles, once the configuration reads.
        let unknown = try problems(Self.baseConfig(extra: "priorities: {non-priority: [gamblin]}"))
        #expect(unknown.contains { $0.message.contains("unknown category 'gamblin'") && $0.path.contains("priorities.non-priority") }, "\(unknown)")
    }
}
