import Foundation
import NIOCore
import NIOHTTP1
import StewardPolicy

/// The pages the proxy answers with itself: the block page (it names the site, the category, the
/// rule and the clause in the adopted policy's words, and whom to contact), refusals, and the PAC
/// file. Everything taken from a request or a configuration is HTML-escaped.
public enum ProxyPages {
    static func escape(_ text: String) -> String { htmlEscaped(text) }

    /// `reviewURL`: the web service's block page (`…/blocked`), where the person can ask for a
    /// review; linked with the site's host when the web service runs.
    static func blockPage(
        site: String, host: String, decision: Decision, snapshot: PolicySnapshot, contact: String?, reviewURL: String?
    ) -> String {
        let categories = snapshot.lists.listCategoryNames(of: decision.categories)
        let rule = snapshot.rule(at: decision.rule)
        var clauseHTML = ""
        if let clause = snapshot.clause(for: decision) {
            let title = snapshot.document(id: clause.document)?.title ?? clause.document
            clauseHTML = """
                <p>This enforces <strong>\(escape(title))</strong>, \(escape(clause.section)):</p>
                <blockquote>\(escape(clause.text))</blockquote>
                """
        }
        let why: String
        switch decision.cause {
        case .revoked: why = "Your network access has been suspended."
        case .inactive: why = "Your account is not active."
        case .workOnly: why = "This network is for work use only right now."
        default: why = "This site is blocked by the district's acceptable-use policy."
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Blocked: \(escape(site))</title>
            <meta name="viewport" content="width=device-width, initial-scale=1"></head>
            <body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em">
            <h1>Blocked</h1>
            <p>\(escape(why))</p>
            <p>Site: <code>\(escape(site))</code></p>
            \(categories.isEmpty ? "" : "<p>Category: \(escape(categories.joined(separator: ", ")))</p>")
            \(rule.map { "<p>Rule: \(escape($0.id))</p>" } ?? "")
            \(clauseHTML)
            \(contact.map { "<p>Questions, or a site you need for class? Contact \(escape($0)).</p>" } ?? "")
            \(reviewURL.map { "<p><a href=\"\(escape($0 + "?host=" + percentEncoded(host)))\">Ask for a review of this site</a></p>" } ?? "")
            </body></html>
            """
    }

    /// A query value: everything but unreserved characters percent-encoded.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func message(_ status: HTTPResponseStatus, _ text: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(status.code) \(escape(status.reasonPhrase))</title></head>
        <body><h1>\(status.code) \(escape(status.reasonPhrase))</h1><p>\(escape(text))</p></body></html>
        """
    }

    /// A PAC file: web traffic through the proxy, the district's own networks and plain host names
    /// direct. Served by the proxy itself and by the web service (WPAD).
    public static func pac(proxy: String, directNetworks: [IPNetwork]) -> String {
        var lines = ["function FindProxyForURL(url, host) {", "  if (isPlainHostName(host)) return \"DIRECT\";"]
        for network in directNetworks where network.address.isIPv4 {
            let mask = ipv4Mask(prefix: network.prefixLength128 - 96)
            lines.append("  if (isInNet(host, \"\(network.address)\", \"\(mask)\")) return \"DIRECT\";")
        }
        lines.append("  if (url.substring(0, 5) == \"http:\" || url.substring(0, 6) == \"https:\") return \"PROXY \(proxy)\";")
        lines.append("  return \"DIRECT\";")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    static func ipv4Mask(prefix: Int) -> String {
        let value: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - UInt32(prefix))
        return [24, 16, 8, 0].map { String((value >> UInt32($0)) & 0xFF) }.joined(separator: ".")
    }
}
