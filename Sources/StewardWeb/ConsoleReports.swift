import Foundation
import Hummingbird
import StewardPolicy
import StewardStore

/// Acknowledgment status per building and role (with who has not signed, and its CSV export),
/// documents and their versions, review requests, and the "work only" switches.
extension WebApp {
    func statusReport(_ request: Request, _ admin: Admin) async throws -> Response {
        let year = schoolYear()
        let buildingFilter = request.uri.queryParameters.get("building").flatMap { $0.isEmpty ? nil : String($0) }
        let roleFilter = request.uri.queryParameters.get("role").flatMap { $0.isEmpty ? nil : String($0) }
        if let buildingFilter, !admin.sees(building: buildingFilter) {
            throw WebError(.notFound, "No building '\(buildingFilter)' in your buildings.")
        }
        let scope: Set<String>? = buildingFilter.map { [$0] } ?? admin.buildings
        let standings = try await store.acknowledgments.standings(
            buildings: scope, roles: roleFilter.map { [$0] } ?? [], schoolYear: year)
        let missing = standings.filter { !$0.outstanding.isEmpty }.sorted { ($0.person.building ?? "", $0.person.name) < ($1.person.building ?? "", $1.person.name) }
        let exporting = request.uri.queryParameters.get("format") == "csv"
        try await store.audit.append(
            actor: admin.actor, action: exporting ? "report.export" : "report.view", subject: "acknowledgments",
            detail: "year \(year), building \(buildingFilter ?? "all in scope"), role \(roleFilter ?? "all"), \(missing.count) not signed")
        if exporting {
            var csv = "id,name,role,building,grade,outstanding\r\n"
            for standing in missing {
                let person = standing.person
                csv += [person.id, person.name, person.role.rawValue, person.building ?? "", person.grade?.description ?? "",
                        standing.outstanding.joined(separator: " ")].map(Self.csvField).joined(separator: ",") + "\r\n"
            }
            var response = text(csv, type: "text/csv; charset=utf-8")
            response.headers[.contentDisposition] = "attachment; filename=\"acknowledgments-\(year).csv\""
            return response
        }
        struct Key: Hashable, Comparable {
            var building: String
            var role: String
            static func < (a: Key, b: Key) -> Bool { (a.building, a.role) < (b.building, b.role) }
        }
        var totals: [Key: (all: Int, signed: Int)] = [:]
        for standing in standings {
            let key = Key(building: standing.person.building ?? "—", role: standing.person.role.rawValue)
            var total = totals[key] ?? (0, 0)
            total.all += 1
            if standing.outstanding.isEmpty { total.signed += 1 }
            totals[key] = total
        }
        let summary: HTML = totals.keys.sorted().html { key in
            let total = totals[key] ?? (0, 0)
            let percent = total.all == 0 ? 100 : total.signed * 100 / total.all
            return "<tr><td>\(key.building)</td><td>\(key.role)</td><td>\(total.signed) of \(total.all)</td><td>\(percent)%</td></tr>"
        }
        let query = [buildingFilter.map { "building=\(HTML.urlComponent($0))" }, roleFilter.map { "role=\(HTML.urlComponent($0))" }, "format=csv"]
            .compactMap { $0 }.joined(separator: "&")
        let body: HTML = """
            <h1>Acknowledgments, school year \(year)</h1>
            <form method="get" action="/admin/acknowledgments" class="inline">
            <label for="building">Building</label><input type="text" id="building" name="building" value="\(buildingFilter ?? "")" maxlength="64">
            <label for="role">Role</label><input type="text" id="role" name="role" value="\(roleFilter ?? "")" maxlength="32">
            <button type="submit">Show</button></form>
            <table><tr><th>Building</th><th>Role</th><th>Signed everything</th><th></th></tr>\(summary)</table>
            <h2>Not yet signed (\(missing.count))</h2>
            <p><a href="/admin/acknowledgments?\(query)">Download as CSV</a></p>
            <table><tr><th>Name</th><th>ID</th><th>Role</th><th>Building</th><th>Still to sign</th></tr>
            \(missing.prefix(2000).html { standing in
                "<tr><td><a href=\"/admin/people/\(HTML.urlComponent(standing.person.id))\">\(standing.person.name)</a></td><td>\(standing.person.id)</td><td>\(standing.person.role.rawValue)</td><td>\(standing.person.building ?? "—")</td><td>\(standing.outstanding.joined(separator: ", "))</td></tr>"
            })</table>
            """
        return consolePage(admin, title: "Acknowledgments", body: body)
    }

    /// One CSV field (RFC 4180), with spreadsheet formula starts neutralised.
    public static func csvField(_ value: String) -> String {
        var text = value
        if let first = text.first, "=+-@\t\r".contains(first) { text = "'" + text }
        if text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return text
    }

    func documentsPage(_ admin: Admin, message: HTML?) async throws -> Response {
        let documents = try await store.acknowledgments.documents()
        var sections: [HTML] = []
        for document in documents {
            let versions = try await store.acknowledgments.versions(of: document.id)
            let publish: HTML =
                admin.isDistrictAdmin
                ? """
                <details><summary>Publish a new version (everyone it applies to signs again)</summary>
                <form method="post" action="/admin/documents/\(HTML.urlComponent(document.id))/publish">\(Self.csrfField(admin.csrf))
                <label for="v-\(document.id)">Version label</label><input type="text" id="v-\(document.id)" name="version" maxlength="40" required>
                <label for="r-\(document.id)">Revised on (YYYY-MM-DD)</label><input type="text" id="r-\(document.id)" name="revised" maxlength="10">
                <label for="t-\(document.id)">Full text</label><textarea id="t-\(document.id)" name="text" rows="10" required>\(document.current?.text ?? "")</textarea>
                <button type="submit">Publish</button></form></details>
                """ : ""
            sections.append(
                """
                <h2>\(document.title)</h2>
                <p class="muted">\(document.id) · audience: \(document.audience.joined(separator: ", ")) · \(document.acknowledge ? "signed at the portal" : "shown, not signed")</p>
                <table><tr><th>#</th><th>Version</th><th>Published</th><th>By</th><th>SHA-256</th></tr>
                \(versions.html { "<tr><td>\($0.number)</td><td>\($0.version)</td><td>\(when($0.publishedAt))</td><td>\($0.publishedBy)</td><td><code>\(String($0.sha256.prefix(16)))…</code></td></tr>" })</table>
                \(publish)
                """)
        }
        return consolePage(admin, title: "Documents", body: "<h1>Documents</h1>\(message ?? "")\(sections)")
    }

    func publishVersion(_ id: String, _ form: Form, _ admin: Admin) async throws -> Response {
        guard admin.isDistrictAdmin else { throw WebError(.forbidden, "Only a district administrator publishes documents.") }
        guard let text = form["text"], let label = form.value("version"), label.count <= 40 else {
            throw WebError(.badRequest, "A new version needs its label and its text.")
        }
        let revised = form.value("revised")
        if let revised, !PolicySnapshot.isISODay(revised) {
            throw WebError(.badRequest, "'\(revised)' is not a date (YYYY-MM-DD).")
        }
        let version = try await store.acknowledgments.publish(documentID: id, text: text, version: label, revised: revised, actor: admin.actor)
        return try await documentsPage(
            admin, message: "<p class=\"ok\" role=\"status\">Version \(version.version) of \(id) is in force; everyone it applies to signs it at their next sign-in.</p>")
    }

    func reviewsPage(_ admin: Admin, message: HTML?) async throws -> Response {
        let requests = try await store.reviews.list(buildings: admin.buildings)
        let mayDecide = admin.mayChangePeople
        let rows: HTML = requests.html { request in
            let decide: HTML =
                request.status == .open && mayDecide
                ? """
                <form method="post" action="/admin/reviews/\(HTML.urlComponent(request.id))">\(Self.csrfField(admin.csrf))
                <label for="why-\(request.id)">Reason (told to the requester)</label><input type="text" id="why-\(request.id)" name="reason" maxlength="500">
                <button type="submit" name="decision" value="approve">Approve</button>
                <button type="submit" name="decision" value="decline" class="secondary">Decline</button></form>
                """ : "\(request.status.rawValue)\(request.decidedBy.map { " by \($0)" } ?? "")\(request.decisionReason.map { ": \($0)" } ?? "")"
            return """
                <tr><td>\(when(request.time))<br><span class="muted">\(request.id)</span></td><td><code>\(request.host)</code><br>
                <span class="muted">\(request.categories) \(request.rule ?? "")</span></td><td>\(request.requester)<br>
                <span class="muted">\(request.contact)</span></td><td>\(request.building ?? "—")</td><td>\(request.reason)</td><td>\(decide)</td></tr>
                """
        }
        let body: HTML = """
            <h1>Review requests</h1>\(message ?? "")
            <table><tr><th>When</th><th>Site</th><th>Requester</th><th>Building</th><th>Why</th><th>Decision</th></tr>\(rows)</table>
            """
        return consolePage(admin, title: "Review requests", body: body)
    }

    func decideReview(_ id: String, _ form: Form, _ admin: Admin) async throws -> Response {
        guard admin.mayChangePeople else { throw WebError(.forbidden, "Your role reads requests; it does not decide them.") }
        guard let request = try await store.reviews.request(id: id), admin.sees(building: request.building) else { throw WebError(.notFound, "No review request '\(id)' in your buildings.") }
        let approve: Bool
        switch form["decision"] {
        case "approve": approve = true
        case "decline": approve = false
        default: throw WebError(.badRequest, "Choose approve or decline.")
        }
        try await store.reviews.decide(id: id, approve: approve, reason: form.value("reason") ?? "", actor: admin.actor)
        if approve { await policyChanged() }
        return try await reviewsPage(
            admin,
            message: "<p class=\"ok\" role=\"status\">\(approve ? "Approved: \(request.host) is allowed for \(request.building ?? "the district") now." : "Declined.")</p>")
    }

    func groupsPage(_ admin: Admin, message: HTML?) async throws -> Response {
        let snapshot = snapshots.snapshot
        let switches = try await store.controls.workOnlySwitches()
        let rows: HTML = snapshot.groups.filter { !$0.id.hasPrefix("building:") }.html { group in
            let on = switches[group.id] ?? group.workOnly
            let control: HTML =
                admin.isDistrictAdmin
                ? """
                <form method="post" action="/admin/groups/\(HTML.urlComponent(group.id))/work-only">\(Self.csrfField(admin.csrf))
                <input type="hidden" name="on" value="\(on ? "no" : "yes")">
                <button type="submit" class="\(on ? "secondary" : "")">\(on ? "Allow personal use again" : "Switch to work only")</button></form>
                """ : ""
            return "<tr><td>\(group.name)<br><span class=\"muted\">\(group.id)</span></td><td>\(on ? "work only" : "personal use allowed")</td><td>\(control)</td></tr>"
        }
        let body: HTML = """
            <h1>Groups</h1>\(message ?? "")
            <p>"Work only" blocks the personal-use categories for everyone in the group at once (R20:
            the Superintendent may end personal use for any or all employees at any time).</p>
            <table><tr><th>Group</th><th>Now</th><th></th></tr>\(rows)</table>
            """
        return consolePage(admin, title: "Groups", body: body)
    }

    func switchWorkOnly(_ id: String, _ form: Form, _ admin: Admin) async throws -> Response {
        guard admin.isDistrictAdmin else { throw WebError(.forbidden, "Only a district administrator switches groups to work only.") }
        let snapshot = snapshots.snapshot
        guard snapshot.groupIndex(id: id) != nil, !id.hasPrefix("building:") else { throw WebError(.notFound, "No group '\(id)'.") }
        guard snapshot.definition.workOnlyClause != nil else {
            throw WebError(.badRequest, "The configuration names no work-only clause and categories (work-only:), so there is nothing to switch on.")
        }
        let on = form["on"] == "yes"
        try await store.controls.setWorkOnly(groupID: id, on: on, actor: admin.actor)
        await policyChanged()
        return try await groupsPage(admin, message: "<p class=\"ok\" role=\"status\">\(id) is \(on ? "work only" : "allowed personal use") now.</p>")
    }
}

