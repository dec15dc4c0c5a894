import StewardPolicy

/// SafeSearch and YouTube restricted mode by DNS rewrite (R3): the search engines' own enforcement
/// names, answered as a CNAME from the name asked for. These are the names the engines document for
/// network-level enforcement.
enum SafeSearch {
    struct Rewrite {
        /// Names (and their `www.`) that are rewritten.
        let names: [String]
        let target: String
    }

    static let google = Rewrite(
        names: ["google.com", "google.co.uk", "google.ca", "google.com.au", "google.de", "google.fr", "google.es",
            "google.it", "google.co.in", "google.com.mx", "google.com.br", "google.nl", "google.ie"],
        target: "forcesafesearch.google.com")
    static let bing = Rewrite(names: ["bing.com"], target: "strict.bing.com")
    static let duckDuckGo = Rewrite(names: ["duckduckgo.com"], target: "safe.duckduckgo.com")
    static let youTubeNames = [
        "youtube.com", "m.youtube.com", "youtubei.googleapis.com", "youtube.googleapis.com",
        "www.youtube-nocookie.com",
    ]

    /// The enforcement name for `name` (lower case, no trailing dot) and this subject, if any.
    static func target(for name: String, subject: Subject) -> String? {
        if subject.safeSearch {
            for rewrite in [google, bing, duckDuckGo] {
                for base in rewrite.names where name == base || name == "www." + base {
                    return rewrite.target
                }
            }
        }
        if subject.youTube != .off, youTubeNames.contains(name) || name == "www.youtube.com" {
            return subject.youTube == .strict ? "restrict.youtube.com" : "restrictmoderate.youtube.com"
        }
        return nil
    }
}
