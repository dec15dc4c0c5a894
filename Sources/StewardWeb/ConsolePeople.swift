import Foundation
import Hummingbird
import StewardPolicy
import StewardStore

/// A person's record in the console: groups, sessions, acknowledgments, devices, consents; the
/// printable acknowledgment record for the personnel file. Every look is audited.
extension WebApp {
    func personDetail(_ id: String, _ admin: Admin, message: HTML?) async throws -> Response {
        let record = try await scopedPerson(id, admin)
        let person = record.person
        try await store.audit.append(actor: admin.actor, action: "person.view", subject: person.id, detail: "console: record")
        let snapshot = snapshots.snapshot
        let subject = snapshot.subject(for: person)
        let groups = snapshot.groups.enumerated().filter { subject.groups.contains($0.offset) }.map(\.element.name)
        let sessions = try await store.directory.sessions(of: person.id)
        let signatures = try await store.acknowledgments.signatures(of: person.id)
        let outstanding = try await store.acknowledgments.outstanding(for: person, schoolYear: schoolYear())
        let devices = try await store.directory.devices(ownerID: person.id)
        let consents = try await store.controls.consents(of: person.id)
        let status: String
        switch person.status {
        case .active: status = "active"
        case .inactive: status = "inactive"
        case .revoked(let until, let reason):
            status = "revoked" + (until.map { " until \(when(Int64($0.timeIntervalSince1970)))" } ?? "") + ": \(reason)"
        }
        var actions: HTML = ""
        if admin.mayChangePeople {
            actions = """
                <h2>Password</h2>
                <form method="post" action="/admin/people/\(HTML.urlComponent(person.id))/link">\(Self.csrfField(admin.csrf))
                <p class="muted">Make a one-time link (valid 7 days) the person opens to choose their district password.</p>
                <button type="submit">Make a password link</button></form>
                """
            if person.role == .student {
                actions = """
                    \(actions)<h2>Parental permission to publish work online (R18)</h2>
                    <form method="post" action="/admin/people/\(HTML.urlComponent(person.id))/consent">\(Self.csrfField(admin.csrf))
                    <label for="granted">Parent's answer on the signed form</label>
                    <select id="granted" name="granted"><option value="yes">Permission given</option><option value="no">Permission refused or withdrawn</option></select>
                    <label for="note">Note (who signed, form date)</label><input type="text" id="note" name="note" maxlength="500">
                    <button type="submit">Record</button></form>
                    """
            }
        }
        let body: HTML = """
            <h1>\(person.name)</h1>
            \(message ?? "")
            <table>
            <tr><th>ID</th><td>\(person.id)</td></tr><tr><th>Role</th><td>\(person.role.rawValue)</td></tr>
            <tr><th>Building</th><td>\(person.building ?? "—")\(record.buildingSince.map { " since \(when($0))" } ?? "")</td></tr>
            <tr><th>Grade</th><td>\(person.grade?.description ?? "—")</td></tr>
            <tr><th>Status</th><td>\(status)</td></tr>
            <tr><th>Groups</th><td>\(groups.joined(separator: ", "))</td></tr>
            <tr><th>Still to sign</th><td>\(outstanding.isEmpty ? "nothing" : outstanding.map(\.title).joined(separator: "; "))</td></tr>
            </table>
            <p><a href="/admin/people/\(HTML.urlComponent(person.id))/record">Printable acknowledgment record</a></p>
            <h2>Sessions</h2>
            <table><tr><th>Address</th><th>Source</th><th>Until</th></tr>
            \(sessions.html { "<tr><td>\($0.address.description)</td><td>\($0.source)</td><td>\(when($0.expiresAt))</td></tr>" })</table>
            <h2>Acknowledgments</h2>
            <table><tr><th>Signed</th><th>Document</th><th>Version</th><th>School year</th><th>Building</th><th>From</th></tr>
            \(signatures.html { "<tr><td>\(when($0.time))</td><td>\($0.documentID)</td><td>\($0.version)</td><td>\($0.schoolYear)</td><td>\($0.building ?? "—")</td><td>\($0.client)</td></tr>" })</table>
            <h2>Devices</h2>
            <table><tr><th>ID</th><th>Name</th><th>Hardware address</th></tr>
            \(devices.html { "<tr><td>\($0.id)</td><td>\($0.name ?? "")</td><td>\($0.hardwareAddress ?? "")</td></tr>" })</table>
            <h2>Consents</h2>
            <table><tr><th>When</th><th>Answer</th><th>Recorded by</th><th>Note</th></tr>
            \(consents.html { "<tr><td>\(when($0.time))</td><td>\($0.granted ? "permission given" : "no permission")</td><td>\($0.recordedBy)</td><td>\($0.note)</td></tr>" })</table>
            \(actions)
            """
        return consolePage(admin, title: person.name, body: body)
    }

    /// The acknowledgment record for the personnel file (001 form): every signature with the exact
    /// text's hash, time, address and browser; prints cleanly.
    func acknowledgmentRecord(_ id: String, _ admin: Admin) async throws -> Response {
        let person = try await scopedPerson(id, admin).person
        try await store.audit.append(actor: admin.actor, action: "person.view", subject: person.id, detail: "console: printable acknowledgment record")
        let signatures = try await store.acknowledgments.signatures(of: person.id)
        let documents = Dictionary(try await store.acknowledgments.documents().map { ($0.id, $0.title) }, uniquingKeysWith: { a, _ in a })
        let rows: HTML = signatures.html { signature in
            """
            <tr><td>\(when(signature.time))</td><td>\(documents[signature.documentID] ?? signature.documentID)<br>
            <span class="muted">version \(signature.version) · SHA-256 <code>\(signature.sha256)</code></span></td>
            <td>\(signature.typedName)</td><td>\(signature.schoolYear)<br>\(signature.building ?? "—")</td>
            <td>\(signature.client)<br><span class="muted">\(String(signature.userAgent.prefix(80)))</span></td>
            <td><code>\(String(signature.hash.prefix(16)))…</code></td></tr>
            """
        }
        let body: HTML = """
            <h1>Acknowledgment record</h1>
            <p><strong>\(person.name)</strong> · \(person.id) · \(person.role.rawValue) · \(person.building ?? "no building")</p>
            <p class="muted">\(configuration.districtName). Printed \(when(unixNow())) by \(admin.account.username).
            Each signature is kept unchanged and chained to the one before it (record hash shown).</p>
            <table><tr><th>Signed</th><th>Document</th><th>Typed name</th><th>Year / building</th><th>Address / browser</th><th>Record</th></tr>
            \(rows)</table>
            """
        return page(title: "Acknowledgment record: \(person.name)", body: body)
    }

    func recordConsent(_ id: String, _ form: Form, _ admin: Admin) async throws -> Response {
        guard admin.mayChangePeople else { throw WebError(.forbidden, "Your role reads records; it does not change them.") }
        let person = try await scopedPerson(id, admin).person
        guard let answer = form.value("granted"), answer == "yes" || answer == "no" else {
            throw WebError(.badRequest, "Choose whether permission was given.")
        }
        try await store.controls.recordConsent(personID: person.id, granted: answer == "yes", note: form.value("note") ?? "", actor: admin.actor)
        return try await personDetail(person.id, admin, message: "<p class=\"ok\" role=\"status\">Recorded.</p>")
    }

    func issueLink(_ id: String, _ admin: Admin) async throws -> Response {
        guard admin.mayChangePeople else { throw WebError(.forbidden, "Your role reads records; it does not change them.") }
        let person = try await scopedPerson(id, admin).person
        let token = try await store.credentials.issueLink(personID: person.id, actor: admin.actor)
        let url = link("/portal/password?token=\(token)")
        return try await personDetail(
            person.id, admin,
            message: "<p class=\"ok\" role=\"status\">Give this link to \(person.name) (it works once, for 7 days): <code>\(url)</code></p>")
    }
}
