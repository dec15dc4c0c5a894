import Foundation
import StewardPolicy

/// Reads the service sections (`dns`, `activity`, `metrics`).
enum ServiceSettingsReader {
    static func dns(_ value: YAMLValue) -> DNSSettings {
        var settings = DNSSettings()
        let keys = [
            "listen", "upstreams", "clients", "block-answer", "block-page", "blocked-ttl", "cache", "timeout-ms",
            "attempts", "rate-limit", "tcp-idle-timeout", "tcp-max-connections", "tcp-max-per-client",
            "block-private-relay", "batched-udp",
        ]
        guard let fields = value.mapping(keys: keys, required: ["upstreams"]) else { return settings }
        if let listen = fields["listen"] {
            settings.listen = addresses(listen, "an address to serve on", example: "127.0.0.1:53, [::1]:53")
        }
        if let upstreams = fields["upstreams"] {
            settings.upstreams = addresses(upstreams, "an upstream resolver", example: "9.9.9.9, 192.0.2.53:5353")
        }
        if let clients = fields["clients"] {
            for text in clients.strings() {
                if let network = IPNetwork(text) { settings.clients.append(network) } else {
                    clients.problem("'\(text)' is not a network in CIDR notation")
                }
            }
        }
        if let answer = fields["block-answer"]?.oneOf(BlockAnswer.self) { settings.blockAnswer = answer }
        if let page = fields["block-page"] {
            for text in page.strings() {
                guard let address = IPAddress(text) else {
                    page.problem("'\(text)' is not an IP address")
                    continue
                }
                if address.isIPv4 { settings.blockPageIPv4 = address } else { settings.blockPageIPv6 = address }
            }
        }
        if settings.blockAnswer == .blockPage, settings.blockPageIPv4 == nil, settings.blockPageIPv6 == nil {
            value.problem("block-answer is block-page, so block-page must give the page's address")
        }
        if let ttl = fields["blocked-ttl"]?.int(in: 0...86_400) { settings.blockedTTL = UInt32(ttl) }
        if let cache = fields["cache"]?.mapping(keys: ["size", "min-ttl", "max-ttl", "negative-max-ttl"]) {
            if let size = cache["size"]?.int(in: 0...10_000_000) { settings.cacheSize = size }
            if let ttl = cache["min-ttl"]?.int(in: 0...86_400) { settings.cacheMinTTL = UInt32(ttl) }
            if let ttl = cache["max-ttl"]?.int(in: 1...604_800) { settings.cacheMaxTTL = UInt32(ttl) }
            if let ttl = cache["negative-max-ttl"]?.int(in: 0...86_400) { settings.negativeMaxTTL = UInt32(ttl) }
            if settings.cacheMinTTL > settings.cacheMaxTTL { value.problem("cache min-ttl is above max-ttl") }
        }
        if let timeout = fields["timeout-ms"]?.int(in: 50...30_000) { settings.timeoutMilliseconds = timeout }
        if let attempts = fields["attempts"]?.int(in: 1...10) { settings.attempts = attempts }
        if let limit = fields["rate-limit"]?.mapping(keys: ["queries-per-second", "burst"], required: ["queries-per-second"]) {
            if let rate = limit["queries-per-second"]?.int(in: 0...1_000_000) { settings.rateLimitQueriesPerSecond = rate }
            settings.rateLimitBurst = limit["burst"]?.int(in: 1...10_000_000) ?? settings.rateLimitQueriesPerSecond * 2
        }
        if let idle = fields["tcp-idle-timeout"]?.int(in: 1...600) { settings.tcpIdleTimeoutSeconds = idle }
        if let most = fields["tcp-max-connections"]?.int(in: 1...100_000) { settings.tcpMaxConnections = most }
        if let most = fields["tcp-max-per-client"]?.int(in: 1...100_000) { settings.tcpMaxPerClient = most }
        if let relay = fields["block-private-relay"]?.bool() { settings.blockPrivateRelay = relay }
        if let batched = fields["batched-udp"]?.bool() { settings.batchedUDP = batched }
        return settings
    }

    /// A list of `address[:port]` (port 53 when left out), at least one.
    static func addresses(_ value: YAMLValue, _ what: String, example: String) -> [HostPort] {
        let texts = value.strings()
        if texts.isEmpty { value.problem("give at least \(what.replacingOccurrences(of: "an ", with: "one "))") }
        return texts.compactMap { text in
            guard let parsed = HostPort.parse(text, defaultPort: 53) else {
                value.problem("'\(text)' is not \(what): an IP address with an optional port (\(example))")
                return nil
            }
            return parsed
        }
    }

    static func activity(_ value: YAMLValue) -> ActivitySettings {
        var settings = ActivitySettings()
        guard let fields = value.mapping(keys: ["retention-days", "queue"]) else { return settings }
        if let days = fields["retention-days"]?.int(in: 1...3650) { settings.retentionDays = days }
        if let queue = fields["queue"]?.int(in: 1024...100_000_000) { settings.queueCapacity = queue }
        return settings
    }

    static func store(_ value: YAMLValue) -> StoreSettings {
        var settings = StoreSettings()
        guard let fields = value.mapping(keys: ["url"]) else { return settings }
        if let url = fields["url"], let text = url.string() {
            if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
                settings.url = text
            } else {
                url.problem("'\(redactingPassword(text))' is not a PostgreSQL URL (postgres://user:password@host:5432/database)")
            }
        }
        return settings
    }

    static func directory(_ value: YAMLValue) -> DirectorySettings {
        var settings = DirectorySettings()
        guard let fields = value.mapping(keys: ["concurrent-devices", "session-minutes"]) else { return settings }
        if let devices = fields["concurrent-devices"]?.int(in: 1...100) { settings.concurrentDevices = devices }
        if let minutes = fields["session-minutes"]?.int(in: 5...10_080) { settings.sessionMinutes = minutes }
        return settings
    }

    static func proxy(_ value: YAMLValue) -> ProxySettings {
        var settings = ProxySettings()
        let keys = [
            "listen", "clients", "connect-ports", "connect-timeout", "idle-timeout", "max-connections-per-client",
            "max-connections", "pac-proxy", "direct", "request-head-timeout", "response-timeout", "hello-timeout",
            "origin-pool", "authentication", "bandwidth", "tunnel-relay",
        ]
        guard let fields = value.mapping(keys: keys) else { return settings }
        if let listen = fields["listen"] { settings.listen = listenAddresses(listen, defaultPort: 3128) }
        for (key, keyPath) in [("clients", \ProxySettings.clients)] {
            guard let entry = fields[key] else { continue }
            for text in entry.strings() {
                if let network = IPNetwork(text) { settings[keyPath: keyPath].append(network) } else {
                    entry.problem("'\(text)' is not a network in CIDR notation")
                }
            }
        }
        if let direct = fields["direct"] {
            settings.direct = direct.strings().compactMap { text in
                guard let network = IPNetwork(text) else {
                    direct.problem("'\(text)' is not a network in CIDR notation")
                    return nil
                }
                return network
            }
        }
        if let ports = fields["connect-ports"] {
            settings.connectPorts = ports.strings().compactMap { text in
                guard let port = Int(text), (1...65535).contains(port) else {
                    ports.problem("'\(text)' is not a port (1–65535)")
                    return nil
                }
                return port
            }
        }
        if let seconds = fields["connect-timeout"]?.int(in: 1...120) { settings.connectTimeoutSeconds = seconds }
        if let seconds = fields["idle-timeout"]?.int(in: 5...86_400) { settings.idleTimeoutSeconds = seconds }
        if let count = fields["max-connections-per-client"]?.int(in: 1...100_000) { settings.maxConnectionsPerClient = count }
        if let count = fields["max-connections"]?.int(in: 1...1_000_000) { settings.maxConnections = count }
        if let pac = fields["pac-proxy"]?.string() { settings.pacProxy = pac }
        if let seconds = fields["request-head-timeout"]?.int(in: 1...3_600) { settings.requestHeadTimeoutSeconds = seconds }
        if let seconds = fields["response-timeout"]?.int(in: 1...3_600) { settings.responseTimeoutSeconds = seconds }
        if let seconds = fields["hello-timeout"]?.int(in: 1...3_600) { settings.helloTimeoutSeconds = seconds }
        if let relay = fields["tunnel-relay"]?.bool() { settings.tunnelRelay = relay }
        if let pool = fields["origin-pool"]?.mapping(keys: ["per-origin", "total", "idle-timeout"]) {
            if let count = pool["per-origin"]?.int(in: 0...10_000) { settings.originPoolPerOrigin = count }
            if let count = pool["total"]?.int(in: 0...1_000_000) { settings.originPoolTotal = count }
            if let seconds = pool["idle-timeout"]?.int(in: 1...3_600) { settings.originIdleSeconds = seconds }
        }
        if let bandwidth = fields["bandwidth"]?.mapping(keys: ["non-priority-kib-per-second", "when-busy-above-kib-per-second"], required: ["non-priority-kib-per-second"]) {
            if let rate = bandwidth["non-priority-kib-per-second"]?.int(in: 0...10_000_000) { settings.nonPriorityKiBPerSecond = rate }
            if let busy = bandwidth["when-busy-above-kib-per-second"]?.int(in: 0...100_000_000) { settings.busyAboveKiBPerSecond = busy }
        }
        if let authentication = fields["authentication"] {
            var login = ProxyAuthenticationSettings()
            if case .scalar = authentication.node {
                // `authentication: required` or `optional`.
                if let mode = authentication.oneOf(ProxyAuthenticationSettings.Mode.self) { login.mode = mode }
                settings.authentication = login
            } else if let keys = authentication.mapping(keys: ["mode", "realm"]) {
                if let mode = keys["mode"]?.oneOf(ProxyAuthenticationSettings.Mode.self) { login.mode = mode }
                if let realm = keys["realm"]?.string() {
                    if realm.isEmpty || realm.count > 100 || realm.contains(where: { $0 == "\"" || $0.isNewline }) {
                        keys["realm"]?.problem("the realm is shown in the browser's sign-in box: 1–100 characters, no quotes")
                    } else {
                        login.realm = realm
                    }
                }
                settings.authentication = login
            }
        }
        return settings
    }

    /// Addresses a service listens on, each with an optional port.
    static func listenAddresses(_ value: YAMLValue, defaultPort: Int) -> [HostPort] {
        value.strings().compactMap { text in
            guard let parsed = HostPort.parse(text, defaultPort: defaultPort) else {
                value.problem("'\(text)' is not an address to serve on: an IP address with an optional port (127.0.0.1:\(defaultPort))")
                return nil
            }
            return parsed
        }
    }

    static func web(_ value: YAMLValue) -> WebSettings {
        var settings = WebSettings()
        let keys = [
            "listen", "portal-address", "public-url", "allow-before-sign-in", "school-year-starts", "sign-in-failures",
            "lockout-minutes", "console-idle-minutes", "secure-cookies",
        ]
        guard let fields = value.mapping(keys: keys) else { return settings }
        if let listen = fields["listen"] { settings.listen = listenAddresses(listen, defaultPort: 80) }
        if let portal = fields["portal-address"] {
            for text in portal.strings() {
                guard let address = IPAddress(text) else {
                    portal.problem("'\(text)' is not an IP address")
                    continue
                }
                if address.isIPv4 { settings.portalIPv4 = address } else { settings.portalIPv6 = address }
            }
        }
        if let url = fields["public-url"], let text = url.string() {
            if (text.hasPrefix("http://") || text.hasPrefix("https://")), URL(string: text)?.host != nil {
                settings.publicURL = text.hasSuffix("/") ? String(text.dropLast()) : text
            } else {
                url.problem("'\(text)' is not an http:// or https:// URL")
            }
        }
        if let names = fields["allow-before-sign-in"] {
            settings.allowBeforeSignIn = names.strings().compactMap { text in
                let name = text.lowercased().hasSuffix(".") ? String(text.lowercased().dropLast()) : text.lowercased()
                guard !name.isEmpty, name.count <= 253, !name.contains(" ") else {
                    names.problem("'\(text)' is not a domain name")
                    return nil
                }
                return name
            }
        }
        if let start = fields["school-year-starts"], let text = start.string() {
            let parts = text.split(separator: "-").compactMap { Int($0) }
            if parts.count == 2, (1...12).contains(parts[0]), (1...31).contains(parts[1]) {
                settings.schoolYearStartMonth = parts[0]
                settings.schoolYearStartDay = parts[1]
            } else {
                start.problem("'\(text)' is not a month and day (MM-DD, e.g. 07-01)")
            }
        }
        if let count = fields["sign-in-failures"]?.int(in: 1...100) { settings.signInFailures = count }
        if let minutes = fields["lockout-minutes"]?.int(in: 1...1440) { settings.lockoutMinutes = minutes }
        if let minutes = fields["console-idle-minutes"]?.int(in: 1...1440) { settings.consoleIdleMinutes = minutes }
        if let secure = fields["secure-cookies"]?.bool() { settings.secureCookies = secure }
        return settings
    }

    static func metrics(_ value: YAMLValue) -> MetricsSettings {
        var settings = MetricsSettings()
        guard let fields = value.mapping(keys: ["listen"]) else { return settings }
        if let listen = fields["listen"], let text = listen.string() {
            settings.listen = HostPort.parse(text, defaultPort: nil)
            if settings.listen == nil { listen.problem("'\(text)' is not an address with a port (127.0.0.1:9153)") }
        }
        return settings
    }
}

/// `192.0.2.1:53`, `[2001:db8::1]:53`, `192.0.2.1` (default port).
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var port: Int

    public static func parse(_ text: String, defaultPort: Int?) -> HostPort? {
        var host = Substring(text)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Int(rest.dropFirst()) else { return nil }
                port = value
            }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            guard let value = Int(host[host.index(after: colon)...]) else { return nil }
            port = value
            host = host[..<colon]
        }
        guard let address = IPAddress(host), let port, (0...65535).contains(port) else { return nil }
        return HostPort(address: address, port: port)
    }

    public var description: String { address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)" }
}
