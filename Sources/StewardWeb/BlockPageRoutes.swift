import Foundation
import Hummingbird
import NIOCore
import StewardPolicy
import StewardStore

/// The block page that tells the truth (R9): the site, the category, the rule and the clause it
/// enforces with its words, whom to contact, and a way to ask for a review. Also the operating
/// systems' captive-portal probes, answered so that devices open the sign-in sheet by themselves.
extension WebApp {
    enum Probe: Sendable {
        case apple, android, windowsConnect, windowsNCSI, firefoxCanonical, firefoxSuccess
    }

    static let probes: [String: Probe] = [
        "/hotspot-detect.html": .apple, "/library/test/success.html": .apple, "/generate_204": .android,
        "/gen_204": .android, "/connecttest.txt": .windowsConnect, "/ncsi.txt": .windowsNCSI,
        "/canonical.html": .firefoxCanonical, "/success.txt": .firefoxSuccess,
    ]

    func addBlockPage(to router: Router<WebContext>) {
        for (path, probe) in Self.probes {
            router.get(RouterPath(path)) { _, context in answerProbe(probe, context) }
        }
        router.get("/blocked") { request, context in
            try await blockPage(request.uri.queryParameters.get("host"), request, context, error: nil, submitted: nil)
        }
        router.post("/review") { request, context in try await submitReview(request, context) }
        if let script = configuration.pacScript {
            for path in ["/proxy.pac", "/wpad.dat"] {
                router.get(RouterPath(path)) { _, _ in
                    var response = text(script, type: "application/x-ns-proxy-autoconfig")
                    response.headers[.cacheControl] = "max-age=300"
                    return response
                }
            }
        }
    }

    /// Whether a client must sign in before anything else (a sign-in zone, nobody signed in).
    func mustSignIn(_ client: IPAddress?) -> Bool {
        guard let client else { return false }
        let snapshot = snapshots.snapshot
        return identities.mustSignIn(client, zone: snapshot.zone(for: client), snapshot: snapshot, now: unixNow())
    }

    /// Before sign-in every probe is sent to the portal (the device then shows the sign-in sheet);
    /// after it, each gets the answer its system expects for "online".
    func answerProbe(_ probe: Probe, _ context: WebContext) -> Response {
        if mustSignIn(context.client) { return redirect(link("/portal"), status: .found) }
        switch probe {
        case .apple: return text("<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>", type: "text/html")
        case .android: return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        case .windowsConnect: return text("Microsoft Connect Test")
        case .windowsNCSI: return text("Microsoft NCSI")
        case .firefoxCanonical:
            return text(
                "<meta http-equiv=\"refresh\" content=\"0;url=https://support.mozilla.org/kb/captive-portal\"/>",
                type: "text/html")
        case .firefoxSuccess: return text("success\n")
        }
    }

    /// The subject behind a client address: its session's person, else its zone's default group.
    func subject(for client: IPAddress?, _ snapshot: PolicySnapshot) -> (subject: Subject, zone: Int32, person: Person?) {
        guard let client else { return (snapshot.subject(forZone: -1), -1, nil) }
        let zone = snapshot.zone(for: client)
        let (subject, person) = identities.subject(at: client, zone: zone, snapshot: snapshot, now: unixNow())
        return (subject, zone, person)
    }

    static func normalizedHost(_ text: String) -> String? {
        var host = text.trimmingCharacters(in: .whitespaces).lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        guard !host.isEmpty, host.utf8.count <= 253,
            host.unicodeScalars.allSatisfy({ CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789.-_:").contains($0) })
        else { return nil }
        return host
    }

    func blockPage(
        _ site: String?, _ request: Request, _ context: WebContext, error: String?, submitted: Reviews.Request?
    ) async throws -> Response {
        guard let host = Self.normalizedHost(site ?? "") else {
            throw WebError(.badRequest, "The block page needs the name of the site (host=…).")
        }
        // A device that must sign in first is sent to the portal (the DNS does the same).
        if mustSignIn(context.client) { return redirect(link("/portal"), status: .found) }
        let snapshot = snapshots.snapshot
        let (subject, zone, person) = subject(for: context.client, snapshot)
        let decision = snapshot.decide(.name(host), subject: subject, zone: zone, at: unixNow())
        let explanation = snapshot.explain(decision, subject: subject)
        let (entry, newCookie) = { () -> (WebSessions.Entry, Cookie?) in
            let (_, entry, cookie) = portalEntry(request)
            return (entry, cookie)
        }()
        guard decision.action == .block || decision.action == .warn else {
            let body: HTML = """
                <h1>Not blocked</h1><p><code>\(host)</code> is not blocked for you now.
                If your browser still shows this page, wait a minute and <a href="http://\(host)/">try the site again</a>.</p>
                """
            return page(title: "Not blocked", body: body, narrow: true, cookies: newCookie.map { [$0] } ?? [])
        }
        var clauseHTML: HTML = ""
        if let clause = explanation.clause {
            clauseHTML = """
                <p>This enforces <strong>\(clause.document)</strong>, section \(clause.section):</p>
                <blockquote>\(clause.text)</blockquote>
                """
        }
        let contact: HTML =
            configuration.contact.map { "<p>Questions? Contact \($0).</p>" } ?? "<p>Questions? Ask your teacher or the school office.</p>"
        var review: HTML
        if let submitted {
            review = """
                <p class="ok" role="status">Your request \(submitted.id) was sent to the \(submitted.building ?? "district")
                administrators. They will approve it or tell you why not.</p>
                """
        } else {
            review = """
                <h2>Ask for a review</h2>
                <p>If this site is needed for school work (for example a teacher's lesson), ask for it to be reviewed.</p>
                \(error.map { HTML("<p class=\"error\" role=\"alert\">\($0)</p>") } ?? "")
                <form method="post" action="/review">\(Self.csrfField(entry.csrf))
                <input type="hidden" name="host" value="\(host)">
                <label for="name">Your name</label>
                <input type="text" id="name" name="name" required maxlength="120" value="\(person?.name ?? "")">
                <label for="contact">E-mail or phone</label>
                <input type="text" id="contact" name="contact" required maxlength="254" value="\(person?.email ?? "")">
                <label for="reason">Why is it needed?</label>
                <textarea id="reason" name="reason" rows="3" required maxlength="2000"></textarea>
                <button type="submit">Ask for a review</button></form>
                """
        }
        let categories = explanation.categories.isEmpty ? "none listed" : explanation.categories.joined(separator: ", ")
        let body: HTML = """
            <h1>This site is blocked</h1>
            <p><strong>\(explanation.reason)</strong></p>
            <table>
            <tr><th>Site</th><td><code>\(host)</code></td></tr>
            <tr><th>Category</th><td>\(categories)</td></tr>
            <tr><th>Rule</th><td>\(explanation.rule ?? "—")</td></tr>
            </table>
            \(clauseHTML)
            \(contact)
            \(review)
            """
        return page(title: "Blocked: \(host)", status: .forbidden, body: body, narrow: true, cookies: newCookie.map { [$0] } ?? [])
    }

    func submitReview(_ request: Request, _ context: WebContext) async throws -> Response {
        let (_, _, form) = try await portalForm(request)
        guard let host = Self.normalizedHost(form["host"] ?? "") else { throw WebError(.badRequest, "The form names no site.") }
        guard let name = form.value("name"), name.count <= 120, let contact = form.value("contact"), contact.count <= 254,
            let reason = form.value("reason"), reason.count <= 2000
        else { return try await blockPage(host, request, context, error: "Give your name, how to reach you, and why the site is needed.", submitted: nil) }
        try countCreation(context.client)
        let snapshot = snapshots.snapshot
        let (subject, zone, person) = subject(for: context.client, snapshot)
        let decision = snapshot.decide(.name(host), subject: subject, zone: zone, at: unixNow())
        let explanation = snapshot.explain(decision, subject: subject)
        let building = person?.building ?? (zone >= 0 ? snapshot.zones[Int(zone)].building : nil)
        let stored = try await store.reviews.submit(
            Reviews.Request(
                host: host, url: nil, categories: explanation.categories.joined(separator: ","), rule: explanation.rule,
                requester: name, requesterID: person?.id, contact: contact, building: building, reason: reason))
        return try await blockPage(host, request, context, error: nil, submitted: stored)
    }
}

/// Requests for names other than the portal's own arrive when the DNS filter pointed a blocked
/// name (or, before sign-in, every name) at Steward. Probes are answered; a client that must sign
/// in is sent to the portal; anyone else to the block page for that name, on the portal's own
/// origin (where its form and cookie belong).
struct ForeignHosts: RouterMiddleware {
    typealias Context = WebContext
    let app: WebApp
    let ownHost: String?

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws
        -> Response
    {
        guard let authority = request.head.authority else { return try await next(request, context) }
        let host = Self.hostPart(authority)
        if host.isEmpty || host == "localhost" || IPAddress(host) != nil || host == ownHost {
            return try await next(request, context)
        }
        // WPAD: browsers ask `wpad.<their domain>` for the auto-configuration script.
        if app.configuration.pacScript != nil, request.uri.path == "/wpad.dat" || request.uri.path == "/proxy.pac" {
            return try await next(request, context)
        }
        if let probe = WebApp.probes[request.uri.path] { return app.answerProbe(probe, context) }
        if app.mustSignIn(context.client) { return app.redirect(app.link("/portal"), status: .found) }
        guard let name = WebApp.normalizedHost(host) else { return app.redirect(app.link("/portal"), status: .found) }
        return app.redirect(app.link("/blocked?host=\(HTML.urlComponent(name))"), status: .found)
    }

    /// The host of a Host header: `[v6]:port`, `name:port`, `name`.
    static func hostPart(_ authority: String) -> String {
        var text = authority.lowercased()
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            return String(text[text.index(after: text.startIndex)..<close])
        }
        if let colon = text.lastIndex(of: ":"), text.filter({ $0 == ":" }).count == 1 { text = String(text[..<colon]) }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
