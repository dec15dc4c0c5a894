import Foundation
import Logging
import StewardStore
import StewardTestSupport
import Testing

/// The portal end to end, as a person meets it: the real `steward serve` (a child process, with its
/// DNS filter and web service on loopback), a real headless Chromium driven over WebDriver, and
/// the real `dig`. Screenshots of each page go to `$STEWARD_SCREENSHOTS` (else a temporary folder).
@Suite(.serialized) struct BrowserTests {
    static let studentPassword = "Maple-Syrup-Lantern-7"
    static let adminPassword = "Console-Heron-Quartz-31"

    /// A district in a temporary folder: the student AUP and the monitoring notice from the demo, a
    /// roster of two students, a sign-in zone covering loopback, and one rule that blocks
    /// `blocked.example` for students, citing the AUP's own words.
    struct District {
        let directory: URL
        let config: URL
        let webPort: Int
        let dnsPort: Int
        var database: String { directory.appendingPathComponent("data/steward.sqlite").path }
        var web: String { "http://127.0.0.1:\(webPort)" }

        static func make() throws -> District {
            let directory = TestDirectory.root.appendingPathComponent("steward-browser-\(UUID().uuidString)")
            let documents = directory.appendingPathComponent("documents")
            try FileManager.default.createDirectory(at: documents, withIntermediateDirectories: true)
            let demo = BuiltProducts.root.appendingPathComponent("demo/documents")
            for name in ["002_728d9e90706ebcab.txt", "003_748827534ffa6d22.txt"] {
                try FileManager.default.copyItem(at: demo.appendingPathComponent(name), to: documents.appendingPathComponent(name))
            }
            try """
            id,name,role,building,grade,email
            S9001,Jordan Lee,student,roosevelt-hs,10,jordan.lee@example.org
            S9002,Ana O'Brien-Núñez,student,roosevelt-hs,11,ana.obrien@example.org

            """.write(to: directory.appendingPathComponent("roster.csv"), atomically: true, encoding: .utf8)
            let webPort = try LoopbackPorts.freeTCP()
            let dnsPort = try LoopbackPorts.freeUDPAndTCP()
            // Nothing listens here: names the filter lets through time out (SERVFAIL), which this
            // test never asks for; blocked names and the portal's answers never go upstream.
            let upstreamPort = try LoopbackPorts.freeUDPAndTCP()
            let config = directory.appendingPathComponent("steward.yaml")
            try """
            district:
              name: Browser Test Unified School District
              timezone: America/New_York
              contact: "Technology Office, help@browser-test.example"
            data-dir: data
            documents:
              - id: hps-student-aup
                title: "Hartford Public Schools, Student Acceptable Use and Internet Safety Policy"
                file: documents/002_728d9e90706ebcab.txt
                audience: students
              - id: hamden-4118.5R
                title: "Hamden Public Schools, Regulation 4118.5R and Notice of Electronic Monitoring"
                file: documents/003_748827534ffa6d22.txt
                audience: everyone
            roster: roster.csv
            groups:
              - {id: students, name: Students, roles: student}
              - {id: unidentified, name: Not yet identified}
            zones:
              - id: loopback
                name: This machine
                networks: [127.0.0.0/8]
                building: roosevelt-hs
                default-group: unidentified
                portal: true
            policies:
              - rules:
                  - id: students-non-educational
                    description: Non-educational sites
                    action: block
                    match: {groups: [students], domains: [blocked.example]}
                    clause:
                      document: hps-student-aup
                      section: Unacceptable network use by district students
                      text: >-
                        Non-educational uses of the HPS Network including, but not limited to games, wagering, gambling, junk mail,
                        chain letters, jokes, private business activities, raffles, fundraisers, religious activities or political
                        lobbying
            dns:
              listen: ["127.0.0.1:\(dnsPort)"]
              upstreams: ["127.0.0.1:\(upstreamPort)"]
              block-answer: nxdomain
              timeout-ms: 300
              attempts: 1
            web:
              listen: ["127.0.0.1:\(webPort)"]
              portal-address: 127.0.0.2

            """.write(to: config, atomically: true, encoding: .utf8)
            return District(directory: directory, config: config, webPort: webPort, dnsPort: dnsPort)
        }

        func steward(_ arguments: [String], input: String? = nil) async throws -> ChildProcess.Result {
            try await ChildProcess.run(BuiltProducts.steward, arguments + ["--config", config.path], input: input)
        }

        func dig(_ name: String, short: Bool) async throws -> String {
            try await ChildProcess.run(
                "/usr/bin/dig",
                ["@127.0.0.1", "-p", "\(dnsPort)", name, "A", "+time=3", "+tries=1"] + (short ? ["+short"] : [])
            ).output
        }
    }

    /// Where screenshots go: `$STEWARD_SCREENSHOTS`, else a new temporary folder.
    static func screenshotFolder() throws -> URL {
        let folder =
            ProcessInfo.processInfo.environment["STEWARD_SCREENSHOTS"].map { URL(fileURLWithPath: $0) }
            ?? TestDirectory.root.appendingPathComponent("steward-screenshots-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// A plain GET: the status and body, nil when nothing answers.
    static func get(_ url: String) async -> (status: Int, body: String)? {
        guard let answer = try? await WebDriverHTTP.request(.get, URL(string: url)!, body: nil, timeout: 2) else { return nil }
        return (answer.status, String(decoding: answer.body, as: UTF8.self))
    }

    @Test("a new student signs in and acknowledges in a real browser, and the DNS answer for that client changes")
    func studentSignsIn() async throws {
        // Never a silent pass: without Chromium this test fails and says what to install.
        try ChromeDriver.requireInstalled()
        let district = try District.make()
        defer { try? FileManager.default.removeItem(at: district.directory) }
        let shots = try Self.screenshotFolder()
        print("BrowserTests: screenshots in \(shots.path)")

        // The configuration is valid, and the rule decides as intended for the student.
        let checked = try await district.steward(["config", "check"])
        try #require(checked.status == 0, "steward config check: \(checked.output)")
        let decision = try await district.steward(["check", "--user", "S9001", "--domain", "blocked.example", "--json"])
        #expect(decision.output.contains("\"decision\"") && decision.output.contains("block"), "\(decision.output)")

        // The student's district password and a console administrator, both read from standard input.
        let password = try await district.steward(["password", "set", "S9001"], input: Self.studentPassword + "\n")
        try #require(password.status == 0, "steward password set: \(password.output)")
        let admin = try await district.steward(
            ["admin", "create", "dana", "--role", "district-admin"], input: Self.adminPassword + "\n")
        try #require(admin.status == 0, "steward admin create: \(admin.output)")

        let server = try BackgroundProcess(BuiltProducts.steward, ["serve", "--config", district.config.path])
        defer { server.stop() }
        var healthy = false
        for _ in 0..<300 {
            if let answer = await Self.get("\(district.web)/healthz"), answer.status == 200 {
                healthy = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(healthy, "steward serve never answered /healthz: \((try? String(contentsOf: server.log, encoding: .utf8)) ?? "")")

        // Before anyone signs in on this address, every web name leads to the portal.
        #expect(try await district.dig("blocked.example", short: true).trimmingCharacters(in: .whitespacesAndNewlines) == "127.0.0.2")
        #expect(try await district.dig("www.example.org", short: true).trimmingCharacters(in: .whitespacesAndNewlines) == "127.0.0.2")

        let driver = try await ChromeDriver.start()
        defer { driver.stop() }
        let browser: WebDriverSession
        do {
            browser = try await driver.newSession()
        } catch {
            Issue.record("Chromium did not start: \(error)\n\(driver.log)")
            throw error
        }

        // The portal: sign in with the district ID and password.
        try await browser.navigate(to: "\(district.web)/portal")
        #expect(try await browser.title.contains("Sign in"))
        #expect(try await browser.visibleText.contains("Welcome to the Browser Test Unified School District network"))
        try await browser.fullPageScreenshot(to: shots.appendingPathComponent("01-portal.png"))
        try await browser.find("#login").sendKeys("S9001")
        try await browser.find("#password").sendKeys(Self.studentPassword)
        try await browser.find("form[action='/portal/sign-in'] button[type=submit]").click()
        let afterSignIn = try await browser.waitForPath { $0 != "/portal" }
        let signInPage = try await browser.visibleText
        try #require(afterSignIn == "/portal/documents", "after sign-in: \(signInPage)")

        // Each document in turn: read, tick, type the full name, sign.
        var signedTitles: [String] = []
        for round in 1...5 {
            guard try await browser.currentPath == "/portal/documents" else { break }
            let heading = try await browser.find("h1").text
            let text = try await browser.visibleText
            #expect(text.contains("Type your full name to sign (Jordan Lee)"), "\(text)")
            #expect(!(try await browser.findAll("pre.document")).isEmpty)
            try await browser.fullPageScreenshot(to: shots.appendingPathComponent("02-document-\(round).png"))
            try await browser.find("input[name=agree]").click()
            try await browser.find("#typed-name").sendKeys("Jordan Lee")
            try await browser.find("form[action='/portal/sign'] button[type=submit]").click()
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                if try await browser.currentPath != "/portal/documents" { break }
                if let next = try? await browser.find("h1").text, next != heading { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(!(try await browser.visibleText).contains("Tick the box"), "the form was refused")
            signedTitles.append(heading)
        }
        #expect(Set(signedTitles).count == 2, "\(signedTitles)")
        #expect(try await browser.currentPath == "/portal/done")
        let done = try await browser.visibleText
        #expect(done.contains("You are online"), "\(done)")
        #expect(done.contains("Thank you, Jordan Lee."), "\(done)")
        try await browser.fullPageScreenshot(to: shots.appendingPathComponent("03-done.png"))

        // This address now has the student's policy: the blocked name is NXDOMAIN, not the portal.
        let after = try await district.dig("blocked.example", short: false)
        #expect(after.contains("status: NXDOMAIN"), "\(after)")
        #expect(!after.contains("127.0.0.2"), "\(after)")

        // The signatures, as evidence: one per document that applies, the typed name, the client
        // address and the browser that signed.
        var logger = Logger(label: "browser-test")
        logger.logLevel = .warning
        let store = try await Store.open(.sqlite(path: district.database), logger: logger)
        do {
            let signatures = try await store.acknowledgments.signatures(of: "S9001")
            #expect(signatures.count == 2, "\(signatures)")
            #expect(Set(signatures.map(\.documentID)) == ["hps-student-aup", "hamden-4118.5R"])
            for signature in signatures {
                #expect(signature.typedName == "Jordan Lee")
                #expect(signature.client == "127.0.0.1")
                #expect(signature.userAgent.contains("Chrome/"), "\(signature.userAgent)")
                #expect(signature.building == "roosevelt-hs")
            }
            #expect(try await store.acknowledgments.signatures(of: "S9002").isEmpty)
            let chain = try await store.acknowledgments.verify()
            #expect(chain.count == 2 && chain.broken == nil)
        } catch {
            await store.close()
            throw error
        }
        await store.close()

        // The block page for the student: the rule and the policy's own words.
        try await browser.navigate(to: "\(district.web)/blocked?host=blocked.example")
        let blocked = try await browser.visibleText
        #expect(blocked.contains("This site is blocked"), "\(blocked)")
        #expect(blocked.contains("students-non-educational"), "\(blocked)")
        #expect(blocked.contains("Non-educational uses of the HPS Network including"), "\(blocked)")
        #expect(blocked.contains("help@browser-test.example"), "\(blocked)")
        #expect(try await browser.find("#name").property("value") as? String == "Jordan Lee")
        try await browser.fullPageScreenshot(to: shots.appendingPathComponent("04-block-page.png"))

        // The console: the administrator signs in and reads the acknowledgment report.
        try await browser.navigate(to: "\(district.web)/admin/login")
        try await browser.find("#username").sendKeys("dana")
        try await browser.find("#password").sendKeys(Self.adminPassword)
        try await browser.find("form[action='/admin/login'] button[type=submit]").click()
        let afterLogin = try await browser.waitForPath { $0 != "/admin/login" }
        let dashboard = try await browser.visibleText
        #expect(afterLogin == "/admin", "\(dashboard)")
        #expect(dashboard.contains("Dashboard"), "\(dashboard)")
        try await browser.navigate(to: "\(district.web)/admin/acknowledgments")
        let report = try await browser.visibleText
        #expect(report.contains("Acknowledgments, school year"), "\(report)")
        #expect(report.contains("1 of 2"), "\(report)")
        #expect(report.contains("Not yet signed (1)"), "\(report)")
        #expect(report.contains("Ana O'Brien-Núñez"), "\(report)")
        #expect(!report.contains("Jordan Lee"), "\(report)")
        try await browser.fullPageScreenshot(to: shots.appendingPathComponent("05-console-acknowledgments.png"))

        await browser.delete()
    }
}
