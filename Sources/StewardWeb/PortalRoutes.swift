import Foundation
import Hummingbird
import NIOCore
import StewardPolicy
import StewardStore

/// The captive portal (R5, R7, R8): sign in with district credentials or as a visitor, read and
/// sign each document that applies, then the network opens for this device's address.
extension WebApp {
    static let portalCookie = "steward_portal"

    func addPortal(to router: Router<WebContext>) {
        router.get("/") { request, context in try await portalHome(request, context) }
        router.get("/portal") { request, context in try await portalHome(request, context) }
        router.post("/portal/sign-in") { request, context in try await portalSignIn(request, context) }
        router.post("/portal/guest") { request, context in try await portalGuest(request, context) }
        router.get("/portal/documents") { request, context in try await portalDocuments(request, context, error: nil) }
        router.post("/portal/sign") { request, context in try await portalSign(request, context) }
        router.get("/portal/done") { request, context in try await portalDone(request, context) }
        router.get("/portal/password") { request, context in try await passwordPage(request, context) }
        router.post("/portal/password") { request, context in try await passwordSet(request, context) }
        router.get("/documents/:id") { request, context in try await publicDocument(request, context) }
        router.get("/api/captive") { request, context in captiveAPI(request, context) }
    }

    /// The portal session for this browser, made on first sight.
    func portalEntry(_ request: Request) -> (token: String, entry: WebSessions.Entry, cookie: Cookie?) {
        let token = request.cookies[Self.portalCookie]?.value
        if let token, let entry = portalSessions.entry(token) { return (token, entry, nil) }
        let (fresh, entry) = portalSessions.create()
        return (fresh, entry, cookie(Self.portalCookie, fresh, sameSite: .lax))
    }

    func portalForm(_ request: Request) async throws -> (token: String, entry: WebSessions.Entry, form: Form) {
        let form = try await Form.read(request, maxBytes: 16 * 1024)
        guard let token = request.cookies[Self.portalCookie]?.value, let entry = portalSessions.entry(token) else {
            throw WebError(.forbidden, "Your sign-in page expired. Open the portal again and start over.")
        }
        try Self.checkCSRF(form, entry)
        return (token, entry, form)
    }

    func portalHome(_ request: Request, _ context: WebContext, error: String? = nil, status: HTTPResponse.Status = .ok)
        async throws -> Response
    {
        let (_, entry, newCookie) = portalEntry(request)
        let now = unixNow()
        var signedIn: HTML = ""
        if let client = context.client, let session = identities.session(at: client), session.expires > now {
            signedIn = """
                <p class="ok">This device is signed in as \(session.person.name) until \(when(session.expires)).</p>
                """
        }
        let notices = try await store.acknowledgments.documents().filter { $0.audience.contains("everyone") }
        let noticeList: HTML = notices.html { document in
            "<li><a href=\"/documents/\(HTML.urlComponent(document.id))\">\(document.title)</a></li>"
        }
        let csrf = Self.csrfField(entry.csrf)
        let body: HTML = """
            <h1>Welcome to the \(configuration.districtName) network</h1>
            \(signedIn)
            \(error.map { HTML("<p class=\"error\" role=\"alert\">\($0)</p>") } ?? "")
            <p>Before using the network, everyone signs the district's acceptable-use policy. Use of the network is
            monitored; read the notice before you continue:</p>
            <ul class="notice">\(noticeList)</ul>
            <h2>Students and staff</h2>
            <form method="post" action="/portal/sign-in">\(csrf)
            <label for="login">District username, e-mail or ID</label>
            <input type="text" id="login" name="login" autocomplete="username" required maxlength="254">
            <label for="password">District password</label>
            <input type="password" id="password" name="password" autocomplete="current-password" required maxlength="72">
            <p class="muted">Only your district account. Steward never asks for the password of a personal account
            (e-mail, social media or any other personal online account).</p>
            <button type="submit">Sign in</button></form>
            <h2>Visitors</h2>
            <form method="post" action="/portal/guest">\(csrf)
            <label for="guest-name">Your full name</label>
            <input type="text" id="guest-name" name="name" required maxlength="120" autocomplete="name">
            <label for="guest-contact">E-mail address or phone number</label>
            <input type="text" id="guest-contact" name="contact" required maxlength="254">
            <label class="check"><input type="checkbox" name="accept" value="yes" required>
            I will use the network under the district's guest policy, which I will read and sign next.</label>
            <button type="submit" class="secondary">Continue as a visitor</button></form>
            """
        return page(title: "Sign in", status: status, body: body, narrow: true, cookies: newCookie.map { [$0] } ?? [])
    }

    func portalSignIn(_ request: Request, _ context: WebContext) async throws -> Response {
        let (token, _, form) = try await portalForm(request)
        guard let login = form.value("login"), let password = form["password"], !password.isEmpty else {
            return try await portalHome(request, context, error: "Give your username and password.", status: .badRequest)
        }
        let keys = ["login:\(login.lowercased())", "address:\(context.client?.description ?? "?")"]
        if let wait = portalThrottle.lockedFor(keys) {
            return try await portalHome(
                request, context,
                error: "Too many failed sign-ins. Try again in \(max(1, (wait + 59) / 60)) minutes, or ask the office.",
                status: .tooManyRequests)
        }
        guard let record = try await store.credentials.authenticate(login: login, password: password) else {
            portalThrottle.failed(keys)
            return try await portalHome(request, context, error: "That username and password do not match.", status: .unauthorized)
        }
        portalThrottle.succeeded(keys)
        switch record.person.status {
        case .active: break
        case .inactive:
            throw WebError(.forbidden, "Your account is not active. \(configuration.contact.map { "Contact \($0)." } ?? "")")
        case .revoked(let until, let reason):
            let end = until.map { " until \(when(Int64($0.timeIntervalSince1970)))" } ?? ""
            throw WebError(
                .forbidden,
                "Your network access is suspended\(end): \(reason). \(configuration.contact.map { "Contact \($0)." } ?? "")")
        }
        let fresh = portalSessions.renew(token)
        portalSessions.update(fresh) { $0.personID = record.person.id }
        return redirect("/portal/documents", cookies: [cookie(Self.portalCookie, fresh, sameSite: .lax)])
    }

    func portalGuest(_ request: Request, _ context: WebContext) async throws -> Response {
        let (token, _, form) = try await portalForm(request)
        guard form.value("accept") == "yes" else {
            return try await portalHome(request, context, error: "Visitors accept the guest policy to continue.", status: .badRequest)
        }
        try countCreation(context.client)
        let person: Person
        do {
            person = try await store.directory.addGuest(
                name: form.value("name") ?? "", contact: form.value("contact") ?? "",
                actor: "portal:\(context.client?.description ?? "?")")
        } catch let error as StoreError where error.kind == .refused {
            return try await portalHome(request, context, error: error.message, status: .badRequest)
        }
        let fresh = portalSessions.renew(token)
        portalSessions.update(fresh) { $0.personID = person.id }
        return redirect("/portal/documents", cookies: [cookie(Self.portalCookie, fresh, sameSite: .lax)])
    }

    /// The signed-in person of this portal session, as stored now.
    func portalPerson(_ request: Request) async throws -> (token: String, entry: WebSessions.Entry, person: Person)? {
        guard let token = request.cookies[Self.portalCookie]?.value, let entry = portalSessions.entry(token),
            let personID = entry.personID, let record = try await store.directory.person(id: personID)
        else { return nil }
        return (token, entry, record.person)
    }

    func portalDocuments(_ request: Request, _ context: WebContext, error: String?) async throws -> Response {
        guard let (_, entry, person) = try await portalPerson(request) else { return redirect("/portal") }
        let year = schoolYear()
        let outstanding = try await store.acknowledgments.outstanding(for: person, schoolYear: year)
        guard let document = outstanding.first, let version = document.current else {
            return try await openNetwork(person: person, context: context)
        }
        let earlier = try await store.acknowledgments.signatures(of: person.id).first { $0.documentID == document.id }
        var why: HTML = ""
        if let earlier {
            let reason =
                earlier.schoolYear != year
                ? "a new school year has started (\(year))"
                : earlier.building != person.building ? "you are now in a different building" : "the district has published a new version"
            why = "<p class=\"notice\">You signed this before; please sign again because \(reason).</p>"
        }
        let dates = [version.adopted.map { "adopted \($0)" }, version.revised.map { "revised \($0)" }].compactMap { $0 }
        let body: HTML = """
            <h1>\(document.title)</h1>
            <p class="muted">\(outstanding.count == 1 ? "The last document to sign" : "\(outstanding.count) documents left to sign") · version \(version.version)\
            \(dates.isEmpty ? "" : " · " + dates.joined(separator: ", "))</p>
            \(why)
            \(error.map { HTML("<p class=\"error\" role=\"alert\">\($0)</p>") } ?? "")
            <pre class="document" tabindex="0">\(version.text)</pre>
            <p class="muted">SHA-256 of this text: <code>\(version.sha256)</code></p>
            <form method="post" action="/portal/sign">\(Self.csrfField(entry.csrf))
            <input type="hidden" name="document" value="\(document.id)">
            <input type="hidden" name="sha256" value="\(version.sha256)">
            <label class="check"><input type="checkbox" name="agree" value="yes" required>
            I have read this document and agree to follow it. I understand that use of the network is monitored.</label>
            <label for="typed-name">Type your full name to sign (\(person.name))</label>
            <input type="text" id="typed-name" name="typed-name" required maxlength="200" autocomplete="off">
            <button type="submit">Sign</button></form>
            """
        return page(title: document.title, status: error == nil ? .ok : .badRequest, body: body)
    }

    func portalSign(_ request: Request, _ context: WebContext) async throws -> Response {
        let (token, _, form) = try await portalForm(request)
        guard let entry = portalSessions.entry(token), let personID = entry.personID,
            let person = try await store.directory.person(id: personID)?.person
        else { return redirect("/portal") }
        guard form.value("agree") == "yes" else {
            return try await portalDocuments(request, context, error: "Tick the box to say you have read the document.")
        }
        guard let documentID = form.value("document"), let hash = form.value("sha256"), let typed = form.value("typed-name") else {
            return try await portalDocuments(request, context, error: "Type your full name to sign.")
        }
        do {
            try await store.acknowledgments.sign(
                person: person, documentID: documentID, sha256: hash, typedName: typed, schoolYear: schoolYear(),
                client: context.client?.description ?? "unknown",
                userAgent: request.headers[.userAgent] ?? "")
        } catch let error as StoreError where error.kind == .refused || error.kind == .notFound {
            return try await portalDocuments(request, context, error: error.message)
        }
        return redirect("/portal/documents")
    }

    /// Everything is signed: the session for this address opens, in the store (every node) and in
    /// this node's identity map at once, so the next DNS query already gets the person's policy.
    func openNetwork(person: Person, context: WebContext) async throws -> Response {
        guard let client = context.client else { throw WebError(.badRequest, "Steward cannot tell this device's address.") }
        let snapshot = snapshots.snapshot
        guard snapshot.zone(for: client) >= 0 else {
            throw WebError(.forbidden, "This device (\(client)) is not on one of the district's networks.")
        }
        let now = unixNow()
        let expires = now + Int64(configuration.sessionMinutes) * 60
        try await store.directory.openSession(
            address: client, personID: person.id, source: "portal", expiresAt: expires,
            concurrentDevices: configuration.concurrentDevices, actor: "portal:\(person.id)", now: now)
        identities.open(ClientIdentities.Session(person: person, expires: expires, source: "portal"), for: client)
        return redirect("/portal/done")
    }

    func portalDone(_ request: Request, _ context: WebContext) async throws -> Response {
        guard let (_, _, person) = try await portalPerson(request) else { return redirect("/portal") }
        let session = context.client.flatMap { identities.session(at: $0) }
        guard let session, session.person.id == person.id, session.expires > unixNow() else {
            return redirect("/portal/documents")
        }
        let signed = try await store.acknowledgments.signatures(of: person.id).filter { $0.schoolYear == schoolYear() }
        let titles = Dictionary(try await store.acknowledgments.documents().map { ($0.id, $0.title) }, uniquingKeysWith: { a, _ in a })
        let body: HTML = """
            <h1>You are online</h1>
            <p class="ok">Thank you, \(person.name). This device can use the network until \(when(session.expires)).</p>
            <h2>What you signed this school year</h2>
            <ul>\(signed.html { "<li>\(titles[$0.documentID] ?? $0.documentID), version \($0.version), signed \(when($0.time))</li>" })</ul>
            <p class="muted">If a site is blocked, the page that says so tells you why and how to ask for a review.</p>
            """
        return page(title: "Online", body: body, narrow: true)
    }

    func publicDocument(_ request: Request, _ context: WebContext) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard let document = try await store.acknowledgments.documents().first(where: { $0.id == id }),
            let version = document.current
        else { throw WebError(.notFound, "There is no document '\(id)'.") }
        let body: HTML = """
            <h1>\(document.title)</h1><p class="muted">Version \(version.version)\
            \(version.adopted.map { " · adopted \($0)" } ?? "")\(version.revised.map { " · revised \($0)" } ?? "")</p>
            <pre class="document">\(version.text)</pre><p><a href="/portal">Back to sign-in</a></p>
            """
        return page(title: document.title, body: body)
    }

    func passwordPage(_ request: Request, _ context: WebContext, error: String? = nil) async throws -> Response {
        let token = request.uri.queryParameters.get("token") ?? ""
        guard token.count <= 64, try await store.credentials.personForLink(token) != nil else {
            throw WebError(.notFound, "This link has expired or was already used. Ask the office for a new one.")
        }
        let (_, entry, newCookie) = portalEntry(request)
        let body: HTML = """
            <h1>Choose your district password</h1>
            \(error.map { HTML("<p class=\"error\">\($0)</p>") } ?? "")
            <form method="post" action="/portal/password">\(Self.csrfField(entry.csrf))
            <input type="hidden" name="token" value="\(token)">
            <label for="password">New password (8 to 72 characters)</label>
            <input type="password" id="password" name="password" minlength="8" maxlength="72" required autocomplete="new-password">
            <label for="again">The same again</label>
            <input type="password" id="again" name="again" minlength="8" maxlength="72" required autocomplete="new-password">
            <button type="submit">Set password</button></form>
            """
        return page(title: "Choose a password", body: body, narrow: true, cookies: newCookie.map { [$0] } ?? [])
    }

    func passwordSet(_ request: Request, _ context: WebContext) async throws -> Response {
        let (_, _, form) = try await portalForm(request)
        let token = form["token"] ?? ""
        guard let password = form["password"], password == form["again"] else {
            throw WebError(.badRequest, "The two passwords are not the same. Go back and type them again.")
        }
        do {
            _ = try await store.credentials.redeemLink(token, password: password)
        } catch let error as StoreError where error.kind == .refused {
            throw WebError(.badRequest, error.message)
        }
        return page(
            title: "Password set", body: "<h1>Password set</h1><p class=\"ok\">Your password is set. <a href=\"/portal\">Sign in</a>.</p>",
            narrow: true)
    }

    /// RFC 8908: the captive-portal API that DHCP option 114 (RFC 8910) points devices at.
    func captiveAPI(_ request: Request, _ context: WebContext) -> Response {
        let now = unixNow()
        var fields = ["\"user-portal-url\":\"\(jsonEscape(link("/portal")))\""]
        if let client = context.client, let session = identities.session(at: client), session.expires > now {
            fields.insert("\"captive\":false", at: 0)
            fields.append("\"seconds-remaining\":\(session.expires - now)")
            fields.append("\"can-extend-session\":false")
        } else {
            fields.insert("\"captive\":true", at: 0)
        }
        return text("{" + fields.joined(separator: ",") + "}\n", type: "application/captive+json")
    }

    func jsonEscape(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
