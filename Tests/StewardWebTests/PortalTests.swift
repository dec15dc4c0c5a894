import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import StewardPolicy
import StewardStore
import StewardWeb
import Testing

/// The captive portal over a live loopback server (the client address is what opens the network).
@Suite struct PortalTests {
    let loopback = IPAddress("127.0.0.1")!

    /// Signs in as `login` and signs every document offered, returning the last response.
    func signEverything(_ browser: Browser, login: String, name: String) async throws -> TestResponse {
        try await browser.get("/portal")
        var response = try await browser.post("/portal/sign-in", [("csrf", browser.csrf), ("login", login), ("password", "correct horse")])
        #expect(response.status == .seeOther)
        for _ in 0..<5 {
            response = try await browser.get("/portal/documents")
            guard response.status == .ok else { break }
            response = try await browser.post(
                "/portal/sign",
                [("csrf", browser.csrf), ("document", browser.field("document")), ("sha256", browser.field("sha256")),
                 ("agree", "yes"), ("typed-name", name)])
            #expect(response.status == .seeOther)
        }
        return response
    }

    @Test("before sign-in every captive-portal probe leads to the portal and the RFC 8908 API says captive")
    func probesBeforeSignIn() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.live) { client in
            for path in ["/hotspot-detect.html", "/generate_204", "/connecttest.txt", "/ncsi.txt", "/canonical.html", "/success.txt"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .found, "\(path)")
                #expect(response.headers[.location] == "http://portal.test.example/portal", "\(path)")
            }
            let api = try await client.execute(uri: "/api/captive", method: .get)
            #expect(api.headers[.contentType] == "application/captive+json")
            #expect(String(buffer: api.body).contains("\"captive\":true"))
            #expect(String(buffer: api.body).contains("\"user-portal-url\":\"http://portal.test.example/portal\""))
        }
    }

    @Test("a student signs in, reads and signs each document, and the network opens for this address")
    func studentSignsAndGoesOnline() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.live) { client in
            let browser = Browser(client)
            let last = try await signEverything(browser, login: "jordan.lee@test.example", name: "jordan  LEE")
            #expect(last.headers[.location] == "/portal/done")
            let done = try await browser.get("/portal/done")
            #expect(done.status == .ok)
            #expect(browser.lastBody.contains("You are online"))
            // The identity map has the person at once (the DNS filter reads it on the next query).
            #expect(fixture.identities.person(at: loopback, now: unixNow())?.id == "S1")
            let stored = try await fixture.store.directory.activeSessions()
            #expect(stored.map(\.session.personID) == ["S1"])
            let signatures = try await fixture.store.acknowledgments.signatures(of: "S1")
            #expect(Set(signatures.map(\.documentID)) == ["student-aup", "notice"])
            #expect(signatures.allSatisfy { $0.client == "127.0.0.1" && $0.building == "north-hs" && $0.typedName == "jordan  LEE" })
            #expect(try await fixture.store.acknowledgments.verify().broken == nil)
            // Now online: the probes answer "online", the API says not captive.
            let probe = try await client.execute(uri: "/generate_204", method: .get)
            #expect(probe.status == .noContent)
            let api = try await client.execute(uri: "/api/captive", method: .get)
            #expect(String(buffer: api.body).contains("\"captive\":false"))
        }
    }

    @Test("a signature with a name that is not the person's is refused and nothing is stored")
    func wrongNameIsRefused() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.live) { client in
            let browser = Browser(client)
            try await browser.get("/portal")
            try await browser.post("/portal/sign-in", [("csrf", browser.csrf), ("login", "S1"), ("password", "correct horse")])
            try await browser.get("/portal/documents")
            let response = try await browser.post(
                "/portal/sign",
                [("csrf", browser.csrf), ("document", browser.field("document")), ("sha256", browser.field("sha256")),
                 ("agree", "yes"), ("typed-name", "Someone Else")])
            #expect(response.status == .badRequest)
            #expect(browser.lastBody.contains("not the name on record"))
            #expect(try await fixture.store.acknowledgments.signatures(of: "S1").isEmpty)
            #expect(fixture.identities.person(at: loopback, now: unixNow()) == nil)
        }
    }

    @Test("forms without the session's CSRF token are refused and change nothing")
    func csrfIsRequired() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.live) { client in
            let browser = Browser(client)
            try await browser.get("/portal")
            var response = try await browser.post("/portal/sign-in", [("login", "S1"), ("password", "correct horse")])
            #expect(response.status == .forbidden)
            response = try await browser.post("/portal/sign-in", [("csrf", String(repeating: "0", count: 64)), ("login", "S1"), ("password", "correct horse")])
            #expect(response.status == .forbidden)
            response = try await browser.post("/portal/guest", [("name", "Pat Visitor"), ("contact", "pat@example.org"), ("accept", "yes")])
            #expect(response.status == .forbidden)
            // A token from another browser's session is no good either.
            let other = Browser(client)
            try await other.get("/portal")
            response = try await browser.post("/portal/sign-in", [("csrf", other.csrf), ("login", "S1"), ("password", "correct horse")])
            #expect(response.status == .forbidden)
            #expect(try await fixture.store.directory.people().filter { $0.person.role == .guest }.isEmpty)
        }
    }

    @Test("wrong passwords are refused and then the account is locked out, even with the right one")
    func signInThrottling() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.live) { client in
            let browser = Browser(client)
            try await browser.get("/portal")
            for _ in 0..<3 {
                let response = try await browser.post("/portal/sign-in", [("csrf", browser.csrf), ("login", "S2"), ("password", "wrong password")])
                #expect(response.status == .unauthorized)
            }
            let locked = try await browser.post("/portal/sign-in", [("csrf", browser.csrf), ("login", "S2"), ("password", "correct horse")])
            #expect(locked.status == .tooManyRequests)
            #expect(browser.lastBody.contains("Too many failed sign-ins"))
        }
    }

    @Test("a revoked student is told why and gets no network")
    func revokedStudent() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.live) { client in
            let browser = Browser(client)
            try await browser.get("/portal")
            let response = try await browser.post("/portal/sign-in", [("csrf", browser.csrf), ("login", "R1"), ("password", "correct horse")])
            #expect(response.status == .forbidden)
            #expect(browser.lastBody.contains("bypassing the filter"))
            #expect(fixture.identities.person(at: loopback, now: unixNow()) == nil)
        }
    }

    @Test("a visitor signs in with a name and contact, signs the documents for guests, and goes online")
    func visitor() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.live) { client in
            let browser = Browser(client)
            try await browser.get("/portal")
            var response = try await browser.post("/portal/guest", [("csrf", browser.csrf), ("name", "Pat Visitor"), ("contact", "not a contact"), ("accept", "yes")])
            #expect(response.status == .badRequest)
            response = try await browser.post("/portal/guest", [("csrf", browser.csrf), ("name", "Pat Visitor"), ("contact", "+1 (555) 010-2222"), ("accept", "yes")])
            #expect(response.status == .seeOther)
            try await browser.get("/portal/documents")
            #expect(browser.lastBody.contains("Notice of Electronic Monitoring"))
            #expect(browser.lastBody.contains("The last document to sign"))
            response = try await browser.post(
                "/portal/sign",
                [("csrf", browser.csrf), ("document", browser.field("document")), ("sha256", browser.field("sha256")),
                 ("agree", "yes"), ("typed-name", "Pat Visitor")])
            #expect(response.status == .seeOther)
            try await browser.get("/portal/documents")
            let person = fixture.identities.person(at: loopback, now: unixNow())
            #expect(person?.role == .guest)
            #expect(person?.name == "Pat Visitor")
        }
    }

    @Test("one address cannot create visitor records without end")
    func visitorFlood() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.application.test(.live) { client in
            let browser = Browser(client)
            try await browser.get("/portal")
            var statuses: [HTTPResponse.Status] = []
            for index in 0..<21 {
                let response = try await browser.post(
                    "/portal/guest", [("csrf", browser.csrf), ("name", "Visitor \(index)"), ("contact", "v\(index)@example.org"), ("accept", "yes")])
                statuses.append(response.status)
                try await browser.get("/portal")
            }
            #expect(statuses.prefix(20).allSatisfy { $0 == .seeOther })
            #expect(statuses.last == .tooManyRequests)
        }
        #expect(try await fixture.store.directory.people().filter { $0.person.role == .guest }.count == 20)
    }

    @Test("a new version, a move to another building and a new school year each ask for a new signature")
    func resigning() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        let acknowledgments = fixture.store.acknowledgments
        let person = try #require(try await fixture.store.directory.person(id: "S1")).person
        for document in try await acknowledgments.outstanding(for: person, schoolYear: "2026-2027") {
            try await acknowledgments.sign(
                person: person, documentID: document.id, sha256: document.current!.sha256, typedName: person.name,
                schoolYear: "2026-2027", client: "127.0.0.1", userAgent: "test")
        }
        #expect(try await acknowledgments.outstanding(for: person, schoolYear: "2026-2027").isEmpty)
        #expect(try await acknowledgments.outstanding(for: person, schoolYear: "2027-2028").map(\.id) == ["notice", "student-aup"])
        var moved = person
        moved.building = "south-ms"
        #expect(try await acknowledgments.outstanding(for: moved, schoolYear: "2026-2027").count == 2)
        try await acknowledgments.publish(documentID: "notice", text: "Monitoring, revised.\n", version: "2027", revised: "2026-11-01", actor: "test")
        #expect(try await acknowledgments.outstanding(for: person, schoolYear: "2026-2027").map(\.id) == ["notice"])
        // The old version can no longer be signed.
        await #expect(throws: StoreError.self) {
            try await acknowledgments.sign(
                person: person, documentID: "notice", sha256: Acknowledgments.sha256("Monitoring\nThe district monitors use; personal use may be ended at any time.\n"),
                typedName: person.name, schoolYear: "2026-2027", client: "127.0.0.1", userAgent: "test")
        }
    }

    @Test("the school year turns over on the configured day, in the district's time zone")
    func schoolYear() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        let formatter = ISO8601DateFormatter()
        #expect(fixture.app.schoolYear(at: formatter.date(from: "2026-07-01T04:30:00Z")!) == "2026-2027")
        // 23:30 on 30 June in New York is already 1 July in UTC.
        #expect(fixture.app.schoolYear(at: formatter.date(from: "2026-07-01T03:30:00Z")!) == "2025-2026")
    }

    @Test("acknowledgments cannot be edited or deleted in the database")
    func acknowledgmentsAreAppendOnly() async throws {
        let fixture = try await WebFixture.make()
        defer { Task { await fixture.close() } }
        let person = try #require(try await fixture.store.directory.person(id: "S1")).person
        let document = try #require(try await fixture.store.acknowledgments.documents().first { $0.id == "notice" })
        try await fixture.store.acknowledgments.sign(
            person: person, documentID: "notice", sha256: document.current!.sha256, typedName: person.name,
            schoolYear: "2026-2027", client: "127.0.0.1", userAgent: "test")
        await #expect(throws: (any Error).self) {
            try await fixture.store.connection.run { try await $0.raw("UPDATE acknowledgments SET typed_name = 'x'").run() }
        }
        await #expect(throws: (any Error).self) {
            try await fixture.store.connection.run { try await $0.raw("DELETE FROM acknowledgments").run() }
        }
        #expect(try await fixture.store.acknowledgments.verify() == (1, nil))
    }
}
