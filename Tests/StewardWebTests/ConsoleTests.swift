import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import StewardPolicy
import StewardStore
import StewardWeb
import Testing

/// The admin console through the router: sign-in, scoping by building, CSRF, roles, the audit of
/// every look at a person, reports, documents, reviews and the "work only" switch.
@Suite struct ConsoleTests {
    @Test("console pages send a signed-out visitor to the sign-in page, and forms are refused")
    func signedOut() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.router) { client in
            let browser = Browser(client)
            for path in ["/admin", "/admin/people?q=a", "/admin/people/S1", "/admin/acknowledgments", "/admin/reviews", "/admin/groups"] {
                let response = try await browser.get(path)
                #expect(response.status == .seeOther, "\(path)")
                #expect(response.headers[.location] == "/admin/login", "\(path)")
            }
            let post = try await browser.post("/admin/groups/staff/work-only", [("on", "yes")])
            #expect(post.status == .forbidden)
        }
    }

    @Test("a wrong administrator password is refused, and the sign-in cookie is HttpOnly and SameSite=Strict")
    func signIn() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.router) { client in
            let browser = Browser(client)
            let page = try await browser.get("/admin/login")
            let cookie = page.headers[.setCookie] ?? ""
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
            let wrong = try await browser.post("/admin/login", [("csrf", browser.csrf), ("username", "north"), ("password", "nope nope")])
            #expect(wrong.status == .unauthorized)
            let noToken = try await browser.post("/admin/login", [("username", "north"), ("password", "north pass")])
            #expect(noToken.status == .forbidden)
            let right = try await browser.consoleSignIn("north", "north pass")
            #expect(right.status == .seeOther)
            #expect(try await browser.get("/admin").status == .ok)
            #expect(browser.lastBody.contains("Dashboard"))
        }
    }

    @Test("a building administrator cannot read another building's people by editing the URL, nor find them")
    func buildingScope() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.router) { client in
            let browser = Browser(client)
            try await browser.consoleSignIn("north", "north pass")
            let own = try await browser.get("/admin/people/S1")
            #expect(own.status == .ok)
            #expect(browser.lastBody.contains("Jordan Lee"))
            let other = try await browser.get("/admin/people/S2")
            #expect(other.status == .notFound)
            #expect(!browser.lastBody.contains("Sam Ortiz"))
            #expect(try await browser.get("/admin/people/S2/record").status == .notFound)
            try await browser.get("/admin/people?q=o")
            #expect(browser.lastBody.contains("Jordan Lee"))
            #expect(!browser.lastBody.contains("Sam Ortiz"))
            #expect(try await browser.get("/admin/acknowledgments?building=south-ms").status == .notFound)
            try await browser.get("/admin/acknowledgments")
            #expect(!browser.lastBody.contains("Sam Ortiz"))
            // The district administrator sees both.
            let district = Browser(client)
            try await district.consoleSignIn("district", "district pass")
            #expect(try await district.get("/admin/people/S2").status == .ok)
        }
        // Who looked at whom is in the audit log; the refused look is not a look.
        let views = try await fixture.store.audit.entries().filter { $0.action == "person.view" }
        #expect(views.map(\.subject) == ["S1", "S2"])
        #expect(views.map(\.actor) == ["admin:north", "admin:district"])
    }

    @Test("names from the roster are escaped on every page")
    func escaping() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.router) { client in
            let browser = Browser(client)
            try await browser.consoleSignIn("district", "district pass")
            try await browser.get("/admin/people?q=kim")
            #expect(browser.lastBody.contains("&lt;script&gt;alert(1)&lt;/script&gt; Kim"))
            #expect(!browser.lastBody.contains("<script>"))
            try await browser.get("/admin/people/S3")
            #expect(!browser.lastBody.contains("<script>"))
            try await browser.get("/blocked?host=%3Cscript%3E.example")
            #expect(!browser.lastBody.contains("<script>"))
        }
    }

    @Test("console forms need the sign-in's CSRF token, and roles limit what may change")
    func csrfAndRoles() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.router) { client in
            let district = Browser(client)
            try await district.consoleSignIn("district", "district pass")
            try await district.get("/admin/groups")
            let noToken = try await district.post("/admin/groups/staff/work-only", [("on", "yes")])
            #expect(noToken.status == .forbidden)
            let north = Browser(client)
            try await north.consoleSignIn("north", "north pass")
            try await north.get("/admin/groups")
            let stolen = try await north.post("/admin/groups/staff/work-only", [("csrf", district.csrf), ("on", "yes")])
            #expect(stolen.status == .forbidden)
            let notAllowed = try await north.post("/admin/groups/staff/work-only", [("csrf", north.csrf), ("on", "yes")])
            #expect(notAllowed.status == .forbidden)
            let publish = try await north.post("/admin/documents/notice/publish", [("csrf", north.csrf), ("version", "x"), ("text", "new")])
            #expect(publish.status == .forbidden)
            let auditor = Browser(client)
            try await auditor.consoleSignIn("auditor", "auditor pass")
            try await auditor.get("/admin/people/S1")
            #expect(!auditor.lastBody.contains("Make a password link"))
            let link = try await auditor.post("/admin/people/S1/link", [("csrf", auditor.csrf)])
            #expect(link.status == .forbidden)
        }
        #expect(try await fixture.store.controls.workOnlySwitches().isEmpty)
        #expect(try await fixture.store.acknowledgments.versions(of: "notice").count == 1)
    }

    @Test("the work-only switch blocks personal-use categories for the group at once")
    func workOnly() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        let teacher = try #require(try await fixture.store.directory.person(id: "T1")).person
        func decision() -> RuleAction {
            let snapshot = fixture.holder.snapshot
            return snapshot.decide(.name("games.example"), subject: snapshot.subject(for: teacher), zone: 0, at: unixNow()).action
        }
        #expect(decision() == .allow)
        try await fixture.application.test(.router) { client in
            let browser = Browser(client)
            try await browser.consoleSignIn("district", "district pass")
            try await browser.get("/admin/groups")
            let response = try await browser.post("/admin/groups/staff/work-only", [("csrf", browser.csrf), ("on", "yes")])
            #expect(response.status == .ok)
        }
        #expect(decision() == .block)
        #expect(try await fixture.store.controls.workOnlySwitches() == ["staff": true])
    }

    @Test("a review request from the block page reaches its building's administrators, and approval unblocks the site there")
    func reviewFlow() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        let student = try #require(try await fixture.store.directory.person(id: "S1")).person
        let elsewhere = try #require(try await fixture.store.directory.person(id: "S2")).person
        func decision(_ person: Person) -> RuleAction {
            let snapshot = fixture.holder.snapshot
            return snapshot.decide(.name("games.example"), subject: snapshot.subject(for: person), zone: -1, at: unixNow()).action
        }
        #expect(decision(student) == .block)
        fixture.identities.open(.init(person: student, expires: unixNow() + 600, source: "portal"), for: IPAddress("127.0.0.1")!)
        try await fixture.application.test(.live) { client in
            let browser = Browser(client)
            let page = try await browser.get("/blocked?host=games.example")
            #expect(page.status == .forbidden)
            #expect(browser.lastBody.contains("no-games-for-students"))
            #expect(browser.lastBody.contains("Non-educational uses including games"))
            #expect(browser.lastBody.contains("Student Acceptable Use"))
            #expect(browser.lastBody.contains("help@test.example"))
            let sent = try await browser.post(
                "/review", [("csrf", browser.csrf), ("host", "games.example"), ("name", "Jordan Lee"), ("contact", "jordan.lee@test.example"), ("reason", "Chemistry lab simulation")])
            #expect(sent.status == .forbidden)  // the block page again, now with the confirmation
            #expect(browser.lastBody.contains("was sent to the north-hs"))
        }
        let request = try #require(try await fixture.store.reviews.list(buildings: nil).first)
        #expect(request.building == "north-hs")
        #expect(request.requesterID == "S1")
        #expect(request.rule == "no-games-for-students")
        try await fixture.application.test(.router) { client in
            let district = Browser(client)
            try await district.consoleSignIn("district", "district pass")
            // Declining needs a reason.
            try await district.get("/admin/reviews")
            let noReason = try await district.post("/admin/reviews/\(request.id)", [("csrf", district.csrf), ("decision", "decline")])
            #expect(noReason.status == .badRequest)
            let north = Browser(client)
            try await north.consoleSignIn("north", "north pass")
            try await north.get("/admin/reviews")
            #expect(north.lastBody.contains("Chemistry lab simulation"))
            let approved = try await north.post("/admin/reviews/\(request.id)", [("csrf", north.csrf), ("decision", "approve"), ("reason", "Used in class")])
            #expect(approved.status == .ok)
            let again = try await north.post("/admin/reviews/\(request.id)", [("csrf", north.csrf), ("decision", "decline"), ("reason", "no")])
            #expect(again.status == .badRequest)
        }
        #expect(fixture.policyChanges.value == 1)
        #expect(decision(student) == .allow)
        #expect(decision(elsewhere) == .block)
    }

    @Test("the status report lists who has not signed, per building and role, and exports safe CSV")
    func statusReport() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.router) { client in
            let browser = Browser(client)
            try await browser.consoleSignIn("district", "district pass")
            try await browser.get("/admin/acknowledgments?building=north-hs&role=student")
            #expect(browser.lastBody.contains("Jordan Lee"))
            #expect(!browser.lastBody.contains("Sam Ortiz"))
            let csv = try await browser.get("/admin/acknowledgments?format=csv")
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            let lines = browser.lastBody.split(separator: "\r\n").map(String.init)
            #expect(lines.first == "id,name,role,building,grade,outstanding")
            #expect(lines.contains("S1,Jordan Lee,student,north-hs,10,notice student-aup"))
            #expect(lines.contains("S2,Sam Ortiz,student,south-ms,7,notice student-aup"))
        }
        let exports = try await fixture.store.audit.entries().filter { $0.action == "report.export" }
        #expect(exports.count == 1)
        #expect(WebApp.csvField("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
    }

    @Test("publishing a new version from the console asks everyone it applies to to sign again")
    func publish() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        let person = try #require(try await fixture.store.directory.person(id: "T1")).person
        let year = fixture.app.schoolYear()
        for document in try await fixture.store.acknowledgments.outstanding(for: person, schoolYear: year) {
            try await fixture.store.acknowledgments.sign(
                person: person, documentID: document.id, sha256: document.current!.sha256, typedName: person.name,
                schoolYear: year, client: "127.0.0.1", userAgent: "test")
        }
        #expect(try await fixture.store.acknowledgments.outstanding(for: person, schoolYear: year).isEmpty)
        try await fixture.application.test(.router) { client in
            let browser = Browser(client)
            try await browser.consoleSignIn("district", "district pass")
            try await browser.get("/admin/documents")
            let bad = try await browser.post("/admin/documents/notice/publish", [("csrf", browser.csrf), ("version", "2027"), ("revised", "31/12/2026"), ("text", "x")])
            #expect(bad.status == .badRequest)
            try await browser.get("/admin/documents")
            let ok = try await browser.post(
                "/admin/documents/notice/publish", [("csrf", browser.csrf), ("version", "2027"), ("revised", "2026-11-20"), ("text", "Revised notice.")])
            #expect(ok.status == .ok)
            #expect(browser.lastBody.contains("Version 2027 of notice is in force"))
        }
        #expect(try await fixture.store.acknowledgments.outstanding(for: person, schoolYear: year).map(\.id) == ["notice"])
    }
}
