/// A connection URL as messages and logs may show it: the password replaced
/// (`postgres://steward:***@db/steward`). The store and the configuration reader both name
/// database URLs in what they say.
public func redactingPassword(_ url: String) -> String {
    guard let at = url.lastIndex(of: "@"), let scheme = url.range(of: "://") else { return url }
    guard let colon = url[scheme.upperBound..<at].firstIndex(of: ":") else { return url }
    return String(url[..<colon]) + ":***" + String(url[at...])
}
