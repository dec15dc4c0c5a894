import StewardConfig
import StewardStore

/// The server module's one error type: what a command reports to the person running it.
public enum StewardError: Error, CustomStringConvertible {
    case configuration(ConfigError)
    case noDemoDistrict(searched: [String])
    case unknownUser(String)
    case badClientAddress(String)
    case clientOutsideZones(String)
    case badURL(String, String)
    case badDomain(String, String)
    case badTime(String)
    case usage(String)
    case store(StoreError)

    public var description: String {
        switch self {
        case .configuration(let error): error.description
        case .noDemoDistrict(let searched):
            "no --config given and the demo district was not found (looked for demo/steward.yaml in "
                + searched.joined(separator: ", ") + ")"
        case .unknownUser(let id): "unknown user '\(id)': no person with that id in the roster"
        case .badClientAddress(let text): "'\(text)' is not an IPv4 or IPv6 address"
        case .clientOutsideZones(let text): "client \(text) is in no configured network zone"
        case .badURL(let text, let why): "malformed URL '\(text)': \(why)"
        case .badDomain(let text, let why): "malformed domain name '\(text)': \(why)"
        case .badTime(let text):
            "'\(text)' is not an ISO-8601 time (e.g. 2026-11-24T10:15:00-05:00, or 2026-11-24T10:15 in the district's zone)"
        case .usage(let message): message
        case .store(let error): error.description
        }
    }
}
