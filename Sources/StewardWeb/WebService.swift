import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import StewardPolicy
import StewardStore

/// The web service: the captive portal, the block page with its review requests, and the admin
/// console, on one Hummingbird application. Holds no policy of its own: it reads the snapshot in
/// force, writes to the store, and tells the node when the store's policy changed.
public struct WebService: Service {
    public struct Configuration: Sendable {
        public var listen: [SocketAddress]
        public var districtName = "District"
        public var contact: String?
        /// How pages name the portal (`http://portal.district.example`); nil: relative links.
        public var publicURL: String?
        public var timeZone = "UTC"
        public var schoolYearStartMonth = 7
        public var schoolYearStartDay = 1
        public var sessionMinutes = 480
        public var concurrentDevices = 3
        public var signInFailures = 5
        public var lockoutMinutes = 15
        public var consoleIdleMinutes = 30
        public var secureCookies = false
        /// The proxy auto-configuration script served at `/proxy.pac` and `/wpad.dat` (WPAD
        /// clients ask `http://wpad.<domain>/wpad.dat`, which is this service), when the proxy runs.
        public var pacScript: String?

        public init(listen: [SocketAddress]) { self.listen = listen }
    }

    public let app: WebApp
    let configuration: Configuration
    let logger: Logger

    public init(
        configuration: Configuration, store: Store, snapshots: SnapshotHolder, identities: ClientIdentities,
        logger: Logger, policyChanged: @escaping @Sendable () async -> Void
    ) {
        self.configuration = configuration
        self.logger = logger
        app = WebApp(
            configuration: configuration, store: store, snapshots: snapshots, identities: identities, logger: logger,
            policyChanged: policyChanged)
    }

    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for address in configuration.listen {
                let host = address.ipAddress ?? "127.0.0.1"
                let port = address.port ?? 80
                // Idle connections close after 30 s; request heads are bounded (16 KiB, 100 fields).
                var http = HTTP1Channel.Configuration(idleTimeout: .seconds(30))
                http.httpDecoder = .init(maxHeaderFieldSize: 8 * 1024, maxHeaderListSize: 16 * 1024, maxHeaderFieldCount: 100)
                let application = Application(
                    router: app.router(),
                    server: .http1(configuration: http),
                    configuration: .init(address: .hostname(host, port: port), serverName: nil),
                    logger: logger)
                group.addTask { try await application.runService() }
            }
        }
    }
}

/// The routes and what they share. A value, so tests build it and call `router()` directly.
public struct WebApp: Sendable {
    let configuration: WebService.Configuration
    let store: Store
    let snapshots: SnapshotHolder
    let identities: ClientIdentities
    let logger: Logger
    let policyChanged: @Sendable () async -> Void
    let portalSessions: WebSessions
    let consoleSessions: WebSessions
    let portalThrottle: SignInThrottle
    let consoleThrottle: SignInThrottle
    /// Visitor records and review requests one address may create per quarter hour (each is a row
    /// in the store; a script must not be able to fill it).
    let creationThrottle = SignInThrottle(failures: 20, lockoutSeconds: 900)

    public init(
        configuration: WebService.Configuration, store: Store, snapshots: SnapshotHolder, identities: ClientIdentities,
        logger: Logger, policyChanged: @escaping @Sendable () async -> Void
    ) {
        self.configuration = configuration
        self.store = store
        self.snapshots = snapshots
        self.identities = identities
        self.logger = logger
        self.policyChanged = policyChanged
        portalSessions = WebSessions(idleSeconds: 30 * 60)
        consoleSessions = WebSessions(idleSeconds: Int64(configuration.consoleIdleMinutes) * 60)
        let lockout = Int64(configuration.lockoutMinutes) * 60
        portalThrottle = SignInThrottle(failures: configuration.signInFailures, lockoutSeconds: lockout)
        consoleThrottle = SignInThrottle(failures: configuration.signInFailures, lockoutSeconds: lockout)
    }

    public func router() -> Router<WebContext> {
        let router = Router(context: WebContext.self)
        router.add(middleware: ErrorPages(app: self))
        router.add(middleware: ForeignHosts(app: self, ownHost: configuration.publicURL.flatMap { URL(string: $0)?.host?.lowercased() }))
        router.get("/healthz") { _, _ in Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        addPortal(to: router)
        addBlockPage(to: router)
        addConsole(to: router)
        return router
    }

    /// Refuses when this address has created too many records lately; otherwise counts one.
    func countCreation(_ client: IPAddress?) throws(WebError) {
        let keys = ["create:\(client?.description ?? "?")"]
        if creationThrottle.lockedFor(keys) != nil {
            throw WebError(.tooManyRequests, "Too many requests from this device. Please wait a few minutes, or ask the office.")
        }
        creationThrottle.failed(keys)
    }

    /// The school year a moment falls in, as `2026-2027`, in the district's time zone.
    public func schoolYear(at date: Date = Date()) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: configuration.timeZone) ?? .gmt
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        let year = parts.year ?? 2000
        let started =
            (parts.month ?? 1, parts.day ?? 1) >= (configuration.schoolYearStartMonth, configuration.schoolYearStartDay)
        return started ? "\(year)-\(year + 1)" : "\(year - 1)-\(year)"
    }

    /// A link to a path of the portal, absolute when the public URL is known.
    func link(_ path: String) -> String { (configuration.publicURL ?? "") + path }

    /// A local date and time for people to read.
    func when(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: configuration.timeZone) ?? .gmt
        formatter.dateFormat = "yyyy-MM-dd HH:mm zzz"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}

/// Turns errors into pages: a `WebError` or a refused store request shows its message with its
/// status; anything else is logged and shown as a plain 500 with no detail.
struct ErrorPages: RouterMiddleware {
    typealias Context = WebContext
    let app: WebApp

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as WebError {
            return app.page(title: "Sorry", status: error.status, body: "<h1>Sorry</h1><p class=\"error\">\(error.message)</p>")
        } catch let error as StoreError {
            let status: HTTPResponse.Status = error.kind == .notFound ? .notFound : error.kind == .refused ? .badRequest : .internalServerError
            if status == .internalServerError {
                context.logger.error("web request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
                return app.page(title: "Sorry", status: status, body: "<h1>Sorry</h1><p>Something went wrong on our side. Please try again.</p>")
            }
            return app.page(title: "Sorry", status: status, body: "<h1>Sorry</h1><p class=\"error\">\(error.message)</p>")
        } catch let error as HTTPError {
            return app.page(
                title: "Sorry", status: error.status,
                body: "<h1>\(error.status.reasonPhrase)</h1><p>\(error.body ?? "That page does not exist.")</p>")
        } catch {
            context.logger.error("web request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            return app.page(title: "Sorry", status: .internalServerError, body: "<h1>Sorry</h1><p>Something went wrong on our side. Please try again.</p>")
        }
    }
}
