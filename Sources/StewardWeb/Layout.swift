import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Page chrome, security headers and the small response helpers every route uses.
extension WebApp {
    static let style: HTML = """
        <style>
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1f24;background:#f6f7f9;line-height:1.45}
        header{background:#14375e;color:#fff;padding:.7em 1.2em;display:flex;gap:1.2em;align-items:center;flex-wrap:wrap}
        header a{color:#fff;text-decoration:none} header .district{font-weight:600;margin-right:auto}
        main{max-width:60em;margin:1.2em auto;padding:0 1em 2em;background:#fff;border-radius:6px;box-shadow:0 1px 3px #0002}
        main.narrow{max-width:34em} h1{font-size:1.5em;padding-top:.8em} h2{font-size:1.15em;margin-top:1.6em}
        label{display:block;margin:.8em 0 .2em;font-weight:600} input[type=text],input[type=password],input[type=email],input[type=search],select,textarea{width:100%;box-sizing:border-box;padding:.5em;font-size:1em;border:1px solid #9aa4b1;border-radius:4px}
        label.check{font-weight:400;display:flex;gap:.5em;align-items:flex-start}
        button{margin-top:1em;padding:.55em 1.3em;font-size:1em;background:#14375e;color:#fff;border:0;border-radius:4px;cursor:pointer}
        button.secondary{background:#5a6675} .error{color:#a30000;font-weight:600} .ok{color:#0a6b2d;font-weight:600}
        blockquote{border-left:4px solid #14375e;margin:1em 0;padding:.3em 1em;background:#eef2f7}
        pre.document{white-space:pre-wrap;max-height:28em;overflow:auto;border:1px solid #ccd3db;padding:1em;background:#fafbfc;font-family:Georgia,serif;font-size:.95em}
        table{border-collapse:collapse;width:100%;font-size:.93em} th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid #e1e5ea;vertical-align:top}
        .muted{color:#5a6675;font-size:.9em} .pill{display:inline-block;padding:0 .5em;border-radius:1em;background:#e1e8f0;font-size:.85em}
        .notice{background:#fff8e1;border:1px solid #e0c46c;padding:.6em 1em;border-radius:4px}
        code{overflow-wrap:anywhere} ul.notice{padding-left:2em}
        form.inline label,form.inline input{display:inline-block;width:auto;margin-right:.6em} form.inline{margin-bottom:1em}
        @media print{header,form,nav,button{display:none!important} main{box-shadow:none;margin:0;max-width:none}}
        </style>
        """

    /// A whole page with the district's header. `console` adds the console's navigation.
    func page(
        title: String, status: HTTPResponse.Status = .ok, body: HTML, narrow: Bool = false, console: Bool = false,
        cookies: [Cookie] = []
    ) -> Response {
        let navigation: HTML =
            console
            ? """
            <a href="/admin">Dashboard</a><a href="/admin/people">People</a><a href="/admin/acknowledgments">Acknowledgments</a>\
            <a href="/admin/documents">Documents</a><a href="/admin/reviews">Reviews</a><a href="/admin/groups">Groups</a>
            """ : ""
        let html: HTML = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · \(configuration.districtName)</title>\(Self.style)</head>
            <body><header><span class="district">\(configuration.districtName)</span>\(navigation)</header>
            <main\(narrow ? " class=\"narrow\"" as HTML : "")>\(body)</main></body></html>
            """
        var response = Response(status: status, headers: Self.securityHeaders(type: "text/html; charset=utf-8"), body: .init(byteBuffer: ByteBuffer(string: html.text)))
        for cookie in cookies { response.setCookie(cookie) }
        return response
    }

    static func securityHeaders(type: String) -> HTTPFields {
        [
            .contentType: type,
            .cacheControl: "no-store",
            HTTPField.Name("Content-Security-Policy")!:
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
            HTTPField.Name("X-Frame-Options")!: "DENY",
        ]
    }

    func text(_ body: String, status: HTTPResponse.Status = .ok, type: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: Self.securityHeaders(type: type), body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// 303 See Other (after a form) or 302 (captive probes), never cached.
    func redirect(_ location: String, status: HTTPResponse.Status = .seeOther, cookies: [Cookie] = []) -> Response {
        var response = Response(status: status, headers: [.location: location, .cacheControl: "no-store"])
        for cookie in cookies { response.setCookie(cookie) }
        return response
    }

    func cookie(_ name: String, _ value: String, sameSite: Cookie.SameSite) -> Cookie {
        Cookie(name: name, value: value, path: "/", secure: configuration.secureCookies, httpOnly: true, sameSite: sameSite)
    }

    func expiredCookie(_ name: String, sameSite: Cookie.SameSite) -> Cookie {
        Cookie(name: name, value: "", maxAge: 0, path: "/", secure: configuration.secureCookies, httpOnly: true, sameSite: sameSite)
    }

    static func csrfField(_ token: String) -> HTML { "<input type=\"hidden\" name=\"csrf\" value=\"\(token)\">" }

    /// Refuses a form whose CSRF token is not the session's.
    static func checkCSRF(_ form: Form, _ entry: WebSessions.Entry) throws(WebError) {
        guard let sent = form["csrf"], WebSessions.same(sent, entry.csrf) else {
            throw WebError(.forbidden, "This form has expired or did not come from this site. Go back, reload the page and try again.")
        }
    }
}
