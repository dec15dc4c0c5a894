import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import StewardActivity
import StewardConfig
import StewardDNS
import StewardPolicy
import StewardProxy
import StewardStore
import StewardWeb

extension HostPort {
    var socketAddress: SocketAddress {
        get throws { try SocketAddress(ipAddress: address.description, port: port) }
    }
}

/// The composition root of `steward serve`: configuration → services, in start order. A function,
/// not `main`, so tests build the same node on loopback.
///
/// Before any service starts, the store is opened and migrated, the configured roster (if any) is
/// imported into the directory, and the identity sessions are loaded, so the first query already
/// knows who is asking. Start order (the service group starts them in this order and stops them in
/// reverse): the activity writer first, so that nothing the filters record waits for it; the
/// policy reloader; the directory sync; the DNS server; metrics last. On shutdown the DNS server
/// stops answering before the writer flushes what is still queued.
public struct ServeNode: Sendable {
    public let holder: SnapshotHolder
    public let identities: ClientIdentities
    public let recorder: ActivityRecorder
    public let store: Store
    public let activity: ActivityRepository
    public let directorySync: DirectorySync
    public let dnsServer: DNSServer?
    public let dnsFilter: DNSFilter?
    public let proxyServer: ProxyServer?
    public let metricsServer: MetricsServer?
    public let webService: WebService?
    public let reloader: PolicyReloader
    public let services: [any Service]

    public static func make(
        loaded: LoadedPolicy, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) async throws -> ServeNode {
        let configuration = loaded.configuration
        var loaded = loaded
        let holder = SnapshotHolder(loaded.snapshot)
        let identities = ClientIdentities()
        let recorder = ActivityRecorder(capacity: configuration.activity.queueCapacity)
        let store = try await Store.open(StoreBackend(configuration), logger: logger)
        let activity: ActivityRepository
        let directorySync = DirectorySync(store: store, identities: identities, logger: logger)
        do {
            try await Self.importConfiguredRoster(configuration, into: store, logger: logger)
            try await directorySync.refresh(force: true)
            try await store.acknowledgments.sync(Self.documentSeeds(configuration), actor: "steward (configuration)")
            let held = try await Self.overrides(store)
            if !held.isEmpty {
                // The store holds policy of its own (approved exceptions, "work only" switches):
                // compile it in before the first query is answered.
                let file = configuration.file
                loaded = try await NIOThreadPool.singleton.runIfActive {
                    try PolicyLoader.load(configFile: file, overrides: held)
                }
                holder.replace(with: loaded.snapshot)
            }
            activity = try await store.openActivity()
        } catch {
            await store.close()
            throw error
        }
        var writerConfiguration = ActivityWriter.Configuration()
        writerConfiguration.retention = .seconds(configuration.activity.retentionDays * 86_400)
        let reloader = PolicyReloader(
            loaded: loaded, holder: holder, logger: logger,
            reloaded: { loaded in
                do {
                    try await Self.importConfiguredRoster(loaded.configuration, into: store, logger: logger)
                    try await store.acknowledgments.sync(Self.documentSeeds(loaded.configuration), actor: "steward (configuration)")
                } catch {
                    logger.error("the configured roster or documents were not brought in", metadata: ["error": "\(error)"])
                }
            },
            overrides: { try await Self.overrides(store) },
            storeVersion: { try await store.controls.version() })
        reloader.noteStoreVersion(try await store.controls.version())
        var services: [any Service] = [
            ActivityWriter(recorder: recorder, store: activity, configuration: writerConfiguration, logger: logger),
            reloader,
            directorySync,
        ]

        var dnsServer: DNSServer? = nil
        var dnsFilter: DNSFilter? = nil
        if let dns = configuration.dns {
            var forwarding = DNSForwarder.Configuration(upstreams: try dns.upstreams.map { try $0.socketAddress })
            forwarding.timeout = .milliseconds(Int64(dns.timeoutMilliseconds))
            forwarding.attempts = dns.attempts
            let forwarder = DNSForwarder(configuration: forwarding, group: group, logger: logger)
            let cache =
                dns.cacheSize > 0
                ? DNSCache(
                    capacity: dns.cacheSize, minTTL: dns.cacheMinTTL, maxTTL: dns.cacheMaxTTL,
                    negativeMaxTTL: dns.negativeMaxTTL) : nil
            var filtering = DNSFilter.Configuration()
            filtering.clients = dns.clients
            filtering.blockAnswer = {
                switch dns.blockAnswer {
                case .nxdomain: .nxdomain
                case .null: .null
                case .blockPage: .blockPage
                }
            }()
            filtering.blockPageIPv4 = dns.blockPageIPv4
            filtering.blockPageIPv6 = dns.blockPageIPv6
            filtering.syntheticTTL = dns.blockedTTL
            filtering.blockPrivateRelay = dns.blockPrivateRelay
            filtering.rateLimitQueriesPerSecond = dns.rateLimitQueriesPerSecond
            filtering.rateLimitBurst = dns.rateLimitBurst
            if let web = configuration.web {
                filtering.portalIPv4 = web.portalIPv4
                filtering.portalIPv6 = web.portalIPv6
                var allowed = Set(web.allowBeforeSignIn)
                if let host = Self.publicURL(configuration).flatMap({ URL(string: $0)?.host?.lowercased() }), IPAddress(host) == nil {
                    allowed.insert(host)
                }
                filtering.allowBeforeSignIn = allowed
            }
            let filter = DNSFilter(
                configuration: filtering, identities: identities, cache: cache, upstream: forwarder, recorder: recorder)
            var serving = DNSServer.Configuration(listen: try dns.listen.map { try $0.socketAddress })
            serving.tcpIdleTimeout = .seconds(Int64(dns.tcpIdleTimeoutSeconds))
            serving.batchedUDP = dns.batchedUDP
            serving.maxTCPConnections = dns.tcpMaxConnections
            serving.maxTCPConnectionsPerClient = dns.tcpMaxPerClient
            let server = DNSServer(configuration: serving, filter: filter, snapshots: holder, group: group, logger: logger)
            services.append(server)
            dnsServer = server
            dnsFilter = filter
        }

        var proxyServer: ProxyServer? = nil
        if let proxy = configuration.proxy {
            var proxying = ProxyServer.Configuration(listen: try proxy.listen.map { try $0.socketAddress })
            proxying.clients = proxy.clients
            proxying.connectPorts = Set(proxy.connectPorts)
            proxying.connectTimeout = .seconds(Int64(proxy.connectTimeoutSeconds))
            proxying.idleTimeout = .seconds(Int64(proxy.idleTimeoutSeconds))
            proxying.maxConnectionsPerClient = proxy.maxConnectionsPerClient
            proxying.maxConnections = proxy.maxConnections
            proxying.contact = configuration.policy.contact
            proxying.reviewURL = Self.publicURL(configuration).map { $0 + "/blocked" }
            proxying.pacProxy = proxy.pacProxy
            proxying.directNetworks = proxy.direct ?? configuration.policy.zones.flatMap(\.networks)
            proxying.requestHeadTimeout = .seconds(Int64(proxy.requestHeadTimeoutSeconds))
            proxying.responseTimeout = .seconds(Int64(proxy.responseTimeoutSeconds))
            proxying.helloTimeout = .seconds(Int64(proxy.helloTimeoutSeconds))
            proxying.tunnelRelay = proxy.tunnelRelay
            proxying.ownServices =
                ((configuration.web?.listen ?? []) + (configuration.dns?.listen ?? [])
                + (configuration.metrics.listen.map { [$0] } ?? [])).compactMap { try? $0.socketAddress }
            proxying.originPoolPerOrigin = proxy.originPoolPerOrigin
            proxying.originPoolTotal = proxy.originPoolTotal
            proxying.originIdleTimeout = .seconds(Int64(proxy.originIdleSeconds))
            if proxy.nonPriorityKiBPerSecond > 0 {
                proxying.bandwidth = BandwidthLimiter.Configuration(
                    bytesPerSecond: proxy.nonPriorityKiBPerSecond * 1024, busyAbove: proxy.busyAboveKiBPerSecond * 1024)
            }
            if let login = proxy.authentication {
                proxying.authentication = Self.proxyAuthentication(login, store: store, web: configuration.web, logger: logger)
            }
            let server = ProxyServer(
                configuration: proxying, snapshots: holder, identities: identities, recorder: recorder, group: group,
                logger: logger)
            services.append(server)
            proxyServer = server
        }

        var webService: WebService? = nil
        if let web = configuration.web {
            var serving = WebService.Configuration(listen: try web.listen.map { try $0.socketAddress })
            serving.districtName = configuration.districtName
            serving.contact = configuration.policy.contact
            serving.publicURL = Self.publicURL(configuration)
            serving.timeZone = configuration.policy.timeZone
            serving.schoolYearStartMonth = web.schoolYearStartMonth
            serving.schoolYearStartDay = web.schoolYearStartDay
            serving.sessionMinutes = configuration.directory.sessionMinutes
            serving.concurrentDevices = configuration.directory.concurrentDevices
            serving.signInFailures = web.signInFailures
            serving.lockoutMinutes = web.lockoutMinutes
            serving.consoleIdleMinutes = web.consoleIdleMinutes
            serving.secureCookies = web.secureCookies
            if let proxy = configuration.proxy {
                // WPAD: the web service serves the proxy's PAC file too; it names the configured
                // pac-proxy, else the proxy's first address unless that is a wildcard.
                let named = proxy.pacProxy ?? proxy.listen.first.flatMap { listen in
                    listen.address == IPAddress("0.0.0.0") || listen.address == IPAddress("::") || listen.port == 0
                        ? nil : listen.description
                }
                if let named {
                    serving.pacScript = ProxyPages.pac(
                        proxy: named, directNetworks: proxy.direct ?? configuration.policy.zones.flatMap(\.networks))
                } else {
                    logger.warning("the web service does not serve /proxy.pac: set proxy.pac-proxy to the address browsers reach the proxy at")
                }
            }
            let service = WebService(
                configuration: serving, store: store, snapshots: holder, identities: identities, logger: logger
            ) {
                await reloader.reload(filesChanged: false)
            }
            services.append(service)
            webService = service
        }

        var metricsServer: MetricsServer? = nil
        if let listen = configuration.metrics.listen {
            let filter = dnsFilter
            let proxyMetrics = proxyServer?.metrics
            let metrics = MetricsServer(address: try listen.socketAddress, group: group, logger: logger) {
                var text = filter?.metrics.prometheusText() ?? ""
                text += proxyMetrics?.prometheusText() ?? ""
                text += "# HELP steward_activity_dropped_total Activity events dropped because the writer fell behind.\n"
                text += "# TYPE steward_activity_dropped_total counter\n"
                text += "steward_activity_dropped_total \(recorder.dropped)\n"
                text += "# TYPE steward_activity_recorded_total counter\n"
                text += "steward_activity_recorded_total \(recorder.recorded)\n"
                text += "# HELP steward_identity_sessions Identity sessions in the in-memory map.\n"
                text += "# TYPE steward_identity_sessions gauge\n"
                text += "steward_identity_sessions \(identities.count)\n"
                text += "# TYPE steward_policy_generation gauge\n"
                text += "steward_policy_generation \(holder.generation)\n"
                return text
            }
            services.append(metrics)
            metricsServer = metrics
        }
        return ServeNode(
            holder: holder, identities: identities, recorder: recorder, store: store, activity: activity,
            directorySync: directorySync, dnsServer: dnsServer, dnsFilter: dnsFilter, proxyServer: proxyServer,
            metricsServer: metricsServer, webService: webService, reloader: reloader,
            services: services)
    }

    /// The configured public URL, else the first web address (`http://127.0.0.1:8080`).
    public static func publicURL(_ configuration: StewardConfiguration) -> String? {
        guard let web = configuration.web else { return nil }
        if let url = web.publicURL { return url }
        guard let first = web.listen.first else { return nil }
        let host = first.address.isIPv4 ? first.address.description : "[\(first.address)]"
        return "http://\(host)" + (first.port == 80 ? "" : ":\(first.port)")
    }

    /// The configured documents with their text, as the acknowledgment store takes them.
    public static func documentSeeds(_ configuration: StewardConfiguration) -> [Acknowledgments.Seed] {
        configuration.policy.documents.compactMap { document in
            guard let text = document.text else { return nil }
            return Acknowledgments.Seed(
                id: document.id, title: document.title, audience: document.audience, acknowledge: document.acknowledge,
                text: text, version: document.version, adopted: document.adopted, revised: document.revised)
        }
    }

    /// The policy the store holds: "work only" switches and exceptions from approved reviews.
    public static func overrides(_ store: Store) async throws -> PolicyOverrides {
        let exceptions = try await store.reviews.exceptions().map {
            PolicyDefinition.Exception(id: $0.reviewID ?? $0.id, host: $0.host, building: $0.building)
        }
        return PolicyOverrides(workOnly: try await store.controls.workOnlySwitches(), exceptions: exceptions)
    }

    /// Brings the directory in step with the roster files the configuration names (a district that
    /// imports OneRoster files names none).
    static func importConfiguredRoster(_ configuration: StewardConfiguration, into store: Store, logger: Logger)
        async throws
    {
        guard let roster = try RosterFiles.configured(configuration) else { return }
        let report = try await store.directory.importRoster(roster, actor: "steward (configured roster)")
        if !report.changedNothing {
            logger.info(
                "configured roster imported",
                metadata: [
                    "added": "\(report.added.count)", "updated": "\(report.updated.count)",
                    "deactivated": "\(report.deactivated.count)",
                ])
        }
    }

    /// Runs every service until SIGTERM or SIGINT, then shuts down in reverse order.
    public func run(logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}

extension StoreBackend {
    /// PostgreSQL when the configuration gives a URL; otherwise `steward.sqlite` in the data directory.
    public init(_ configuration: StewardConfiguration) {
        if let url = configuration.store.url {
            self = .postgres(url: url)
        } else {
            self = .sqlite(path: (configuration.dataDirectory as NSString).appendingPathComponent("steward.sqlite"))
        }
    }
}

extension ServeNode {
    /// Proxy login against the directory's passwords, with the portal's lockout rule (failures per
    /// account and per address) kept by a throttle of its own.
    static func proxyAuthentication(
        _ settings: ProxyAuthenticationSettings, store: Store, web: WebSettings?, logger: Logger
    ) -> ProxyAuthentication {
        let throttle = SignInThrottle(
            failures: web?.signInFailures ?? 5, lockoutSeconds: Int64(web?.lockoutMinutes ?? 15) * 60)
        let mode: ProxyAuthentication.Mode = settings.mode == .required ? .required : .optional
        return ProxyAuthentication(mode: mode, realm: settings.realm) { login, password, client in
            let keys = ["login:\(login.lowercased())", "address:\(client)"]
            if throttle.lockedFor(keys) != nil { return .lockedOut }
            do {
                guard let record = try await store.credentials.authenticate(login: login, password: password) else {
                    throttle.failed(keys)
                    return .rejected
                }
                throttle.succeeded(keys)
                return .person(record.person)
            } catch {
                logger.error("proxy login could not be checked", metadata: ["error": "\(error)"])
                return .rejected
            }
        }
    }
}
