import Foundation
import Hummingbird
import NIOCore
import StewardPolicy
import StewardStore

/// The admin console (R10): administrators from the directory, each scoped by role and building.
/// Scoping is enforced here on the server for every request — a building administrator who edits a
/// URL to reach another building's person gets "not found" — and every look at a person's record
/// is written to the audit log.
extension WebApp {
    static let consoleCookie = "steward_console"

    /// Who is asking, with their scope: nil buildings means every building.
    struct Admin {
        var token: String
        var csrf: String
        var account: Administrators.Account
        var actor: String { "admin:\(account.username)" }
        var buildings: Set<String>? { account.role == .buildingAdmin ? Set(account.buildings) : nil }
        var mayChangePeople: Bool { account.role == .districtAdmin || account.role == .buildingAdmin }
        var isDistrictAdmin: Bool { account.role == .districtAdmin }

        /// Whether something in `building` (nil: no building, which only district-wide roles see)
        /// is within this administrator's scope.
        func sees(building: String?) -> Bool {
            guard let buildings else { return true }
            return building.map(buildings.contains) ?? false
        }

        func sees(_ person: Person) -> Bool { sees(building: person.building) }
    }

    func addConsole(to router: Router<WebContext>) {
        router.get("/admin/login") { request, _ in consoleLoginPage(request, error: nil) }
        router.post("/admin/login") { request, context in try await consoleLogin(request, context) }
        router.post("/admin/logout") { request, _ in try await consoleLogout(request) }
        router.get("/admin") { request, _ in try await consoleRoute(request) { try await dashboard($0) } }
        router.get("/admin/people") { request, _ in try await consoleRoute(request) { try await peopleSearch(request, $0) } }
        router.get("/admin/people/:id") { request, context in
            try await consoleRoute(request) { try await personDetail(context.parameters.get("id") ?? "", $0, message: nil) }
        }
        router.get("/admin/people/:id/record") { request, context in
            try await consoleRoute(request) { try await acknowledgmentRecord(context.parameters.get("id") ?? "", $0) }
        }
        router.post("/admin/people/:id/consent") { request, context in
            try await consoleForm(request) { admin, form in try await recordConsent(context.parameters.get("id") ?? "", form, admin) }
        }
        router.post("/admin/people/:id/link") { request, context in
            try await consoleForm(request) { admin, form in try await issueLink(context.parameters.get("id") ?? "", admin) }
        }
        router.get("/admin/acknowledgments") { request, _ in try await consoleRoute(request) { try await statusReport(request, $0) } }
        router.get("/admin/documents") { request, _ in try await consoleRoute(request) { try await documentsPage($0, message: nil) } }
        router.post("/admin/documents/:id/publish") { request, context in
            try await consoleForm(request) { admin, form in try await publishVersion(context.parameters.get("id") ?? "", form, admin) }
        }
        router.get("/admin/reviews") { request, _ in try await consoleRoute(request) { try await reviewsPage($0, message: nil) } }
        router.post("/admin/reviews/:id") { request, context in
            try await consoleForm(request) { admin, form in try await decideReview(context.parameters.get("id") ?? "", form, admin) }
        }
        router.get("/admin/groups") { request, _ in try await consoleRoute(request) { try await groupsPage($0, message: nil) } }
        router.post("/admin/groups/:id/work-only") { request, context in
            try await consoleForm(request) { admin, form in try await switchWorkOnly(context.parameters.get("id") ?? "", form, admin) }
        }
    }

    func currentAdmin(_ request: Request) -> Admin? {
        guard let token = request.cookies[Self.consoleCookie]?.value, let entry = consoleSessions.entry(token),
            let account = entry.admin
        else { return nil }
        return Admin(token: token, csrf: entry.csrf, account: account)
    }

    /// A console page: signed-in administrators only, else the sign-in page.
    func consoleRoute(_ request: Request, _ body: (Admin) async throws -> Response) async throws -> Response {
        guard let admin = currentAdmin(request) else { return redirect("/admin/login") }
        return try await body(admin)
    }

    /// A console form: signed in, and the CSRF token of that sign-in.
    func consoleForm(_ request: Request, _ body: (Admin, Form) async throws -> Response) async throws -> Response {
        guard let admin = currentAdmin(request) else {
            throw WebError(.forbidden, "Your console session has ended. Sign in again.")
        }
        let form = try await Form.read(request)
        guard let sent = form["csrf"], WebSessions.same(sent, admin.csrf) else {
            throw WebError(.forbidden, "This form has expired or did not come from this console. Reload the page and try again.")
        }
        return try await body(admin, form)
    }

    func consoleLoginPage(_ request: Request, error: String?, status: HTTPResponse.Status = .ok) -> Response {
        var token = request.cookies[Self.consoleCookie]?.value
        var entry = consoleSessions.entry(token)
        var cookies: [Cookie] = []
        if entry == nil {
            let created = consoleSessions.create()
            token = created.token
            entry = created.entry
            cookies.append(cookie(Self.consoleCookie, created.token, sameSite: .strict))
        }
        let body: HTML = """
            <h1>Console sign-in</h1>
            \(error.map { HTML("<p class=\"error\" role=\"alert\">\($0)</p>") } ?? "")
            <form method="post" action="/admin/login">\(Self.csrfField(entry?.csrf ?? ""))
            <label for="username">Administrator</label><input type="text" id="username" name="username" required maxlength="64" autocomplete="username">
            <label for="password">Password</label><input type="password" id="password" name="password" required maxlength="72" autocomplete="current-password">
            <button type="submit">Sign in</button></form>
            """
        return page(title: "Console sign-in", status: status, body: body, narrow: true, cookies: cookies)
    }

    func consoleLogin(_ request: Request, _ context: WebContext) async throws -> Response {
        let form = try await Form.read(request, maxBytes: 8 * 1024)
        guard let token = request.cookies[Self.consoleCookie]?.value, let entry = consoleSessions.entry(token) else {
            return consoleLoginPage(request, error: "The sign-in page expired; try again.", status: .forbidden)
        }
        try Self.checkCSRF(form, entry)
        let username = form.value("username") ?? ""
        let keys = ["admin:\(username.lowercased())", "address:\(context.client?.description ?? "?")"]
        if let wait = consoleThrottle.lockedFor(keys) {
            return consoleLoginPage(
                request, error: "Too many failed sign-ins. Try again in \(max(1, (wait + 59) / 60)) minutes.",
                status: .tooManyRequests)
        }
        guard let account = try await store.administrators.authenticate(username: username, password: form["password"] ?? "")
        else {
            consoleThrottle.failed(keys)
            try await store.audit.append(
                actor: "console:\(context.client?.description ?? "?")", action: "admin.login.failed", subject: "admin:\(username.prefix(64))")
            return consoleLoginPage(request, error: "That name and password do not match.", status: .unauthorized)
        }
        consoleThrottle.succeeded(keys)
        let fresh = consoleSessions.renew(token)
        consoleSessions.update(fresh) { $0.admin = account }
        try await store.audit.append(
            actor: "admin:\(account.username)", action: "admin.login", subject: "admin:\(account.username)",
            detail: "from \(context.client?.description ?? "?")")
        return redirect("/admin", cookies: [cookie(Self.consoleCookie, fresh, sameSite: .strict)])
    }

    func consoleLogout(_ request: Request) async throws -> Response {
        if let admin = currentAdmin(request) {
            let form = try await Form.read(request, maxBytes: 4096)
            if let sent = form["csrf"], WebSessions.same(sent, admin.csrf) { consoleSessions.remove(admin.token) }
        }
        return redirect("/admin/login", cookies: [expiredCookie(Self.consoleCookie, sameSite: .strict)])
    }

    func consolePage(_ admin: Admin, title: String, status: HTTPResponse.Status = .ok, body: HTML) -> Response {
        let scope = admin.buildings.map { "buildings " + $0.sorted().joined(separator: ", ") } ?? "every building"
        let footer: HTML = """
            <hr><form method="post" action="/admin/logout" class="muted">\(Self.csrfField(admin.csrf))
            Signed in as \(admin.account.username) (\(admin.account.role.rawValue), \(scope)).
            <button type="submit" class="secondary">Sign out</button></form>
            """
        return page(title: title, status: status, body: "\(body)\(footer)", console: true)
    }

    func dashboard(_ admin: Admin) async throws -> Response {
        let year = schoolYear()
        let standings = try await store.acknowledgments.standings(buildings: admin.buildings, schoolYear: year)
        let missing = standings.filter { !$0.outstanding.isEmpty }.count
        let reviews = try await store.reviews.list(status: .open, buildings: admin.buildings).count
        let snapshot = snapshots.snapshot
        let body: HTML = """
            <h1>Dashboard</h1>
            <table>
            <tr><th>School year</th><td>\(year)</td></tr>
            <tr><th>Active people in scope</th><td>\(standings.count)</td></tr>
            <tr><th>Still to sign this year</th><td><a href="/admin/acknowledgments">\(missing)</a></td></tr>
            <tr><th>Open review requests</th><td><a href="/admin/reviews">\(reviews)</a></td></tr>
            <tr><th>Devices signed in (this node)</th><td>\(identities.count)</td></tr>
            <tr><th>Policy</th><td>\(snapshot.ruleDefinitions.count) rules, \(snapshot.lists.nameCount) listed names, compiled \(when(Int64(snapshot.compiledAt.timeIntervalSince1970)))</td></tr>
            </table>
            <form method="get" action="/admin/people"><label for="q">Find a person</label>
            <input type="search" id="q" name="q" maxlength="100"><button type="submit">Search</button></form>
            """
        return consolePage(admin, title: "Dashboard", body: body)
    }

    func peopleSearch(_ request: Request, _ admin: Admin) async throws -> Response {
        let query = String((request.uri.queryParameters.get("q") ?? "").prefix(100))
        let results = query.isEmpty ? [] : try await store.directory.search(query, buildings: admin.buildings)
        let rows: HTML = results.html { record in
            """
            <tr><td><a href="/admin/people/\(HTML.urlComponent(record.person.id))">\(record.person.name)</a></td>
            <td>\(record.person.id)</td><td>\(record.person.role.rawValue)</td><td>\(record.person.building ?? "—")</td></tr>
            """
        }
        let body: HTML = """
            <h1>People</h1>
            <form method="get" action="/admin/people"><label for="q">Name, ID, username or e-mail</label>
            <input type="search" id="q" name="q" value="\(query)" maxlength="100"><button type="submit">Search</button></form>
            \(query.isEmpty ? "" : "<p class=\"muted\">\(results.count) found\(admin.buildings == nil ? "" : " in your buildings")</p>" as HTML)
            <table><tr><th>Name</th><th>ID</th><th>Role</th><th>Building</th></tr>\(rows)</table>
            """
        return consolePage(admin, title: "People", body: body)
    }

    /// The person, if they exist and the administrator may see them (else "not found", the same
    /// answer either way so that a URL edit learns nothing).
    func scopedPerson(_ id: String, _ admin: Admin) async throws -> Directory.Record {
        guard let record = try await store.directory.person(id: id), admin.sees(record.person) else {
            throw WebError(.notFound, "No person '\(id)' in your buildings.")
        }
        return record
    }
}
