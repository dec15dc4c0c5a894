import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import StewardConfig
import StewardPolicy
import StewardServer
import StewardStore
import StewardTestSupport
import StewardWeb

/// A small district for the web tests: two buildings, a student document and the monitoring
/// notice, a loopback zone that requires sign-in, real SQLite in a temporary directory, and the
/// web application built exactly as the node builds it.
final class WebFixture: @unchecked Sendable {
    // @unchecked: the fields are set once in `make` and only read afterwards.
    let directory: URL
    let configFile: String
    let store: Store
    let holder: SnapshotHolder
    let identities = ClientIdentities()
    var app: WebApp!
    let policyChanges = Counter()

    final class Counter: @unchecked Sendable {
        // @unchecked: guarded by the lock.
        private let lock = NSLock()
        private var count = 0
        func bump() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }

    static let config = """
        district:
          name: Test District
          timezone: America/New_York
          contact: "Help desk, help@test.example"
        data-dir: data
        documents:
          - id: student-aup
            title: Student Acceptable Use
            file: student.txt
            audience: students
            version: "2024"
          - id: notice
            title: Notice of Electronic Monitoring
            file: notice.txt
            audience: everyone
        lists:
          - name: games
            path: games.txt
            format: domains
        roster: roster.csv
        groups:
          - id: students
            roles: student
          - id: staff
            roles: [staff, teacher]
          - id: guests
            roles: guest
          - id: unidentified
        zones:
          - id: loopback
            networks: [127.0.0.0/8]
            building: north-hs
            default-group: unidentified
            portal: true
        work-only:
          categories: [games]
          clause:
            document: notice
            section: Monitoring
            text: personal use may be ended at any time
        policies:
          - rules:
              - id: no-games-for-students
                description: Games during school
                action: block
                match:
                  groups: [students, guests]
                  categories: [games]
                clause:
                  document: student-aup
                  section: Unacceptable use
                  text: Non-educational uses including games
        web:
          listen: ["127.0.0.1:0"]
          portal-address: 127.0.0.2
          public-url: "http://portal.test.example"
          sign-in-failures: 3
        """

    static let roster = """
        id,name,role,building,grade,email
        S1,Jordan Lee,student,north-hs,10,jordan.lee@test.example
        S2,Sam Ortiz,student,south-ms,7,sam.ortiz@test.example
        S3,<script>alert(1)</script> Kim,student,north-hs,9,
        T1,Dana Okafor,teacher,north-hs,,dana@test.example
        R1,Riley Stone,student,north-hs,11,
        """

    static func make() async throws -> WebFixture {
        let directory = TestDirectory.root.appendingPathComponent("steward-web-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try config.write(to: directory.appendingPathComponent("steward.yaml"), atomically: true, encoding: .utf8)
        try roster.write(to: directory.appendingPathComponent("roster.csv"), atomically: true, encoding: .utf8)
        try "Student policy.\nNon-educational uses including games are not allowed.\n".write(
            to: directory.appendingPathComponent("student.txt"), atomically: true, encoding: .utf8)
        try "Monitoring\nThe district monitors use; personal use may be ended at any time.\n".write(
            to: directory.appendingPathComponent("notice.txt"), atomically: true, encoding: .utf8)
        try "games.example\nplay.example\n".write(to: directory.appendingPathComponent("games.txt"), atomically: true, encoding: .utf8)
        let file = directory.appendingPathComponent("steward.yaml").path
        let loaded = try PolicyLoader.load(configFile: file)
        let logger = Logger(label: "test")
        let store = try await Store.open(.sqlite(path: directory.appendingPathComponent("steward.sqlite").path), logger: logger)
        let roster = try RosterFiles.configured(loaded.configuration)!
        _ = try await store.directory.importRoster(roster, actor: "test")
        try await store.acknowledgments.sync(ServeNode.documentSeeds(loaded.configuration), actor: "test")
        for id in ["S1", "S2", "S3", "T1", "R1"] {
            try await store.credentials.setPassword(personID: id, password: "correct horse", actor: "test", cost: 4)
        }
        try await store.directory.revoke("R1", until: nil, reason: "bypassing the filter", actor: "test")
        try await store.administrators.create(username: "district", password: "district pass", role: .districtAdmin, buildings: [], actor: "test", cost: 4)
        try await store.administrators.create(username: "north", password: "north pass", role: .buildingAdmin, buildings: ["north-hs"], actor: "test", cost: 4)
        try await store.administrators.create(username: "auditor", password: "auditor pass", role: .auditor, buildings: [], actor: "test", cost: 4)
        let fixture = WebFixture(directory: directory, configFile: file, store: store, holder: SnapshotHolder(loaded.snapshot))
        var configuration = WebService.Configuration(listen: [])
        configuration.districtName = "Test District"
        configuration.contact = "Help desk, help@test.example"
        configuration.publicURL = "http://portal.test.example"
        configuration.timeZone = "America/New_York"
        configuration.signInFailures = 3
        fixture.app = WebApp(
            configuration: configuration, store: store, snapshots: fixture.holder, identities: fixture.identities, logger: logger
        ) { [fixture] in
            // What the node's reloader does: compile the configuration with the store's policy.
            fixture.policyChanges.bump()
            if let held = try? await ServeNode.overrides(fixture.store),
                let loaded = try? PolicyLoader.load(configFile: fixture.configFile, overrides: held)
            {
                fixture.holder.replace(with: loaded.snapshot)
            }
        }
        return fixture
    }

    private init(directory: URL, configFile: String, store: Store, holder: SnapshotHolder) {
        self.directory = directory
        self.configFile = configFile
        self.store = store
        self.holder = holder
    }

    func close() async {
        await store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    var application: some ApplicationProtocol { Application(router: app.router()) }
}

/// A browser's worth of state over a test client: cookies, and the CSRF token of the last page.
final class Browser: @unchecked Sendable {
    // @unchecked: used by one test task at a time.
    let client: any TestClientProtocol
    var cookies: [String: String] = [:]
    var lastBody = ""

    init(_ client: any TestClientProtocol) { self.client = client }

    var csrf: String {
        guard let range = lastBody.range(of: "name=\"csrf\" value=\"") else { return "" }
        return String(lastBody[range.upperBound...].prefix { $0 != "\"" })
    }

    func field(_ name: String) -> String {
        guard let range = lastBody.range(of: "name=\"\(name)\" value=\"") else { return "" }
        return String(lastBody[range.upperBound...].prefix { $0 != "\"" })
    }

    @discardableResult
    func get(_ uri: String, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        try await send(uri, .get, body: nil, headers: extra)
    }

    @discardableResult
    func post(_ uri: String, _ fields: [(String, String)]) async throws -> TestResponse {
        let body = fields.map { "\(HTML.urlComponent($0.0))=\(HTML.urlComponent($0.1))" }.joined(separator: "&")
        return try await send(uri, .post, body: ByteBuffer(string: body), headers: [.contentType: "application/x-www-form-urlencoded"])
    }

    func send(_ uri: String, _ method: HTTPRequest.Method, body: ByteBuffer?, headers extra: HTTPFields) async throws -> TestResponse {
        var headers = extra
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        let response = try await client.executeRequest(uri: uri, method: method, headers: headers, body: body)
        for value in response.headers[values: .setCookie] {
            let pair = value.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            if pair.count == 2 {
                if value.contains("Max-Age=0") { cookies.removeValue(forKey: String(pair[0])) } else {
                    cookies[String(pair[0])] = String(pair[1])
                }
            }
        }
        lastBody = String(buffer: response.body)
        return response
    }

    /// Signs in at the console.
    func consoleSignIn(_ username: String, _ password: String) async throws -> TestResponse {
        try await get("/admin/login")
        return try await post("/admin/login", [("csrf", csrf), ("username", username), ("password", password)])
    }
}
