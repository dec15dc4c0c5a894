import Foundation
import StewardConfig
import StewardPolicy

/// `steward check`: who (a person, a client address, or both), what (a URL or a name) and when,
/// decided and explained against a compiled policy.
public struct DecisionCheck: Sendable {
    public var user: String?
    public var client: String?
    public var url: String?
    public var domain: String?
    public var at: String?

    public init(user: String? = nil, client: String? = nil, url: String? = nil, domain: String? = nil, at: String? = nil) {
        self.user = user
        self.client = client
        self.url = url
        self.domain = domain
        self.at = at
    }

    /// The decision with everything that went into it.
    public struct Outcome: Sendable {
        public var explanation: Explanation
        public var subject: String
        public var destination: String
        public var time: Date
        public var zone: String?
    }

    /// `person` is the user as the directory has them now (a revocation or a move there counts);
    /// without it the configured roster in the snapshot is used.
    public func run(on snapshot: PolicySnapshot, person directoryPerson: Person? = nil) throws(StewardError) -> Outcome {
        guard user != nil || client != nil else { throw .usage("give --user ID or --client IP (or both)") }
        guard (url == nil) != (domain == nil) else { throw .usage("give exactly one of --url URL or --domain NAME") }

        var zone: Int32 = -1
        var clientAddress: IPAddress? = nil
        if let client {
            guard let address = IPAddress(client) else { throw .badClientAddress(client) }
            clientAddress = address
            zone = snapshot.zone(for: address)
        }
        let subject: Subject
        let who: String
        if let user {
            guard let person = directoryPerson ?? snapshot.person(id: user) else { throw .unknownUser(user) }
            subject = snapshot.subject(for: person)
            let details = [person.role.rawValue, person.building, person.grade.map { "grade \($0)" }].compactMap { $0 }
            who = "\(person.id) \(person.name) (\(details.joined(separator: ", ")))"
        } else {
            guard zone >= 0, let clientAddress else { throw .clientOutsideZones(client ?? "") }
            subject = snapshot.subject(forZone: zone)
            who = "unidentified client \(clientAddress) in zone \(snapshot.zones[Int(zone)].id)"
        }

        let destination: Destination
        let what: String
        if let url {
            switch RequestTarget.parse(url) {
            case .success(let target):
                destination = .url(host: target.host, path: target.path)
                what = "\(target.host)\(target.path)"
            case .failure(let problem):
                throw .badURL(url, problem.description)
            }
        } else if let domain {
            if let address = IPAddress(domain) {
                destination = .address(address)
                what = address.description
            } else {
                switch DomainName.normalize(domain) {
                case .success(let name):
                    destination = .name(name)
                    what = name
                case .failure(let problem):
                    throw .badDomain(domain, problem.description)
                }
            }
        } else {
            throw .usage("give --url URL or --domain NAME")
        }

        let time = try Self.parseTime(at, timeZone: snapshot.definition.timeZone)
        let file = url.flatMap { Self.fileInfo(of: $0) }
        let decision = snapshot.decide(
            destination, subject: subject, zone: zone, at: Int64(time.timeIntervalSince1970.rounded(.down)), file: file)
        return Outcome(
            explanation: snapshot.explain(decision, subject: subject), subject: who, destination: what, time: time,
            zone: zone >= 0 ? snapshot.zones[Int(zone)].id : nil)
    }

    /// The file extension of a URL's last path segment (for download rules).
    static func fileInfo(of url: String) -> FileInfo? {
        guard case .success(let target) = RequestTarget.parse(url) else { return nil }
        return target.fileInfo
    }

    /// ISO 8601 with a zone, or a local time (`2026-11-24T10:15`) read in the district's zone.
    static func parseTime(_ text: String?, timeZone: String) throws(StewardError) -> Date {
        guard let text else { return Date() }
        let zoned = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [
            [.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds],
        ] {
            zoned.formatOptions = options
            if let date = zoned.date(from: text) { return date }
        }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = TimeZone(identifier: timeZone)
        for format in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm", "yyyy-MM-dd"] {
            local.dateFormat = format
            if let date = local.date(from: text) { return date }
        }
        throw .badTime(text)
    }
}
