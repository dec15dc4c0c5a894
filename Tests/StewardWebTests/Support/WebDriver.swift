import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import StewardTestSupport

/// A minimal W3C WebDriver client (https://www.w3.org/TR/webdriver2/) for a real headless
/// Chromium driven by `chromedriver`: JSON over HTTP, one command at a time. Only what the browser
/// tests use: sessions, navigation, elements found by CSS selector, typing, clicking, the page's
/// source and URL, and screenshots.
struct WebDriverError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `chromedriver --port=N`, started in the background on a free loopback port.
final class ChromeDriver: Sendable {
    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"

    let process: BackgroundProcess
    let port: Int
    let endpoint: URL
    /// The browser's profile directory: unique to this driver, so that a browser left behind by a
    /// crash can be found (by this path in its command line) and ended, and nothing else.
    let profile: URL

    /// Fails with a message that says what to install when Chromium or its driver is missing.
    static func requireInstalled() throws {
        for (path, package) in [(chromium, "chromium"), (chromedriver, "chromium-driver")]
        where !FileManager.default.isExecutableFile(atPath: path) {
            throw WebDriverError(
                "\(path) is missing (Debian package \(package)): the browser tests need a real Chromium and its "
                    + "driver; install them with 'apt-get install -y chromium chromium-driver' (.ci/run does)")
        }
    }

    static func start() async throws -> ChromeDriver {
        try requireInstalled()
        var lastLog = ""
        for _ in 0..<3 {
            let port = try LoopbackPorts.freeTCP()
            let process = try BackgroundProcess(chromedriver, ["--port=\(port)", "--allowed-ips=127.0.0.1"])
            let endpoint = URL(string: "http://127.0.0.1:\(port)")!
            let profile = TestDirectory.root.appendingPathComponent("steward-chromium-\(UUID().uuidString)")
            let driver = ChromeDriver(process: process, port: port, endpoint: endpoint, profile: profile)
            let deadline = Date().addingTimeInterval(15)
            var lastAnswer = ""
            while Date() < deadline {
                do {
                    let status = try await WebDriverHTTP.send(.get, endpoint.appendingPathComponent("status"), nil, timeout: 2)
                    if let value = status as? [String: Any], Self.truth(value["ready"]) { return driver }
                    lastAnswer = "\(status)"
                } catch {
                    lastAnswer = "\(error)"
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            lastLog = ((try? String(contentsOf: process.log, encoding: .utf8)) ?? "") + "\nlast answer to /status: \(lastAnswer)"
            process.stop()
        }
        throw WebDriverError("chromedriver did not become ready: \(lastLog)")
    }

    /// A JSON boolean as Foundation decodes it (Bool, or NSNumber on some platforms).
    static func truth(_ value: Any?) -> Bool {
        if let flag = value as? Bool { return flag }
        return (value as? NSNumber)?.boolValue ?? false
    }

    private init(process: BackgroundProcess, port: Int, endpoint: URL, profile: URL) {
        self.process = process
        self.port = port
        self.endpoint = endpoint
        self.profile = profile
    }

    /// A new browser: headless Chromium with a window of 1280×1000 CSS pixels.
    func newSession() async throws -> WebDriverSession {
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": [
                        "binary": Self.chromium,
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
                            // Containers often have a small /dev/shm; Chromium then crashes on big pages.
                            "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                            "--user-data-dir=\(profile.path)",
                        ],
                    ],
                ]
            ]
        ]
        let value = try await WebDriverHTTP.send(.post, endpoint.appendingPathComponent("session"), capabilities, timeout: 60)
        guard let object = value as? [String: Any], let id = object["sessionId"] as? String else {
            throw WebDriverError("chromedriver answered a new session without an id: \(value)")
        }
        return WebDriverSession(base: endpoint.appendingPathComponent("session").appendingPathComponent(id), id: id)
    }

    /// Ends chromedriver and any browser of this driver's profile that is still running (after a
    /// crash or a session that was never deleted), by process id, then removes the profile.
    func stop() {
        process.stop()
        for pid in Self.processes(mentioning: profile.path) { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(at: profile)
    }

    /// The driver's log so far (for failure messages).
    var log: String { (try? String(contentsOf: process.log, encoding: .utf8)) ?? "" }

    static func processes(mentioning text: String) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), pid != getpid(),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { return nil }
            return String(decoding: data, as: UTF8.self).contains(text) ? pid : nil
        }
    }
}

/// One browser session.
struct WebDriverSession: Sendable {
    let base: URL
    let id: String

    struct Element: Sendable {
        let session: WebDriverSession
        let id: String

        func sendKeys(_ text: String) async throws {
            _ = try await session.command(.post, "element/\(id)/value", ["text": text])
        }

        func click() async throws {
            _ = try await session.command(.post, "element/\(id)/click", [:])
        }

        func clear() async throws {
            _ = try await session.command(.post, "element/\(id)/clear", [:])
        }

        var text: String {
            get async throws { try await session.command(.get, "element/\(id)/text", nil) as? String ?? "" }
        }

        func property(_ name: String) async throws -> Any? {
            try await session.command(.get, "element/\(id)/property/\(name)", nil)
        }
    }

    /// The W3C web element identifier key.
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    func command(_ method: HTTPRequest.Method, _ path: String, _ body: [String: Any]?) async throws -> Any {
        try await WebDriverHTTP.send(method, path.isEmpty ? base : base.appendingPathComponent(path), body, timeout: 60)
    }

    func navigate(to url: String) async throws {
        _ = try await command(.post, "url", ["url": url])
    }

    var currentURL: String {
        get async throws { try await command(.get, "url", nil) as? String ?? "" }
    }

    /// The path of the current URL (`/portal/documents`).
    var currentPath: String {
        get async throws { URLComponents(string: try await currentURL)?.path ?? "" }
    }

    var pageSource: String {
        get async throws { try await command(.get, "source", nil) as? String ?? "" }
    }

    var title: String {
        get async throws { try await command(.get, "title", nil) as? String ?? "" }
    }

    /// The first element matching a CSS selector; throws when there is none.
    func find(_ selector: String) async throws -> Element {
        let value = try await command(.post, "element", ["using": "css selector", "value": selector])
        guard let object = value as? [String: Any], let id = object[Self.elementKey] as? String else {
            throw WebDriverError("no element id for '\(selector)' in \(value)")
        }
        return Element(session: self, id: id)
    }

    /// Every element matching a CSS selector (possibly none).
    func findAll(_ selector: String) async throws -> [Element] {
        let value = try await command(.post, "elements", ["using": "css selector", "value": selector])
        return (value as? [[String: Any]] ?? []).compactMap { $0[Self.elementKey] as? String }.map { Element(session: self, id: $0) }
    }

    /// The page's body text as rendered (what a person reads).
    var visibleText: String {
        get async throws { try await find("body").text }
    }

    /// A PNG of the viewport, decoded from base64 and written to `file`.
    @discardableResult
    func screenshot(to file: URL) async throws -> Data {
        guard let encoded = try await command(.get, "screenshot", nil) as? String,
            let png = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters)
        else { throw WebDriverError("the screenshot was not base64 data") }
        try png.write(to: file)
        return png
    }

    /// A PNG of the whole page: the window is made as tall as the page first, then restored.
    @discardableResult
    func fullPageScreenshot(to file: URL) async throws -> Data {
        let height = try await command(.post, "execute/sync", ["script": "return document.documentElement.scrollHeight", "args": []])
        let rect = try await command(.get, "window/rect", nil) as? [String: Any] ?? [:]
        let width = rect["width"] as? Int ?? 1280
        let originalHeight = rect["height"] as? Int ?? 1000
        if let pageHeight = height as? Int, pageHeight + 140 > originalHeight {
            _ = try await command(.post, "window/rect", ["width": width, "height": min(pageHeight + 140, 8000)])
        }
        let png = try await screenshot(to: file)
        _ = try await command(.post, "window/rect", ["width": width, "height": originalHeight])
        return png
    }

    /// Waits until `condition` holds for the current path (after a click that submits a form).
    func waitForPath(timeout: TimeInterval = 15, _ condition: (String) -> Bool) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var path = try await currentPath
        while !condition(path) {
            guard Date() < deadline else { throw WebDriverError("the browser stayed at \(try await currentURL)") }
            try await Task.sleep(for: .milliseconds(100))
            path = try await currentPath
        }
        return path
    }

    /// Ends the session (Chromium quits).
    func delete() async {
        _ = try? await WebDriverHTTP.send(.delete, base, nil, timeout: 20)
    }
}

/// One WebDriver command: JSON out, the `value` member of the JSON answer back; a WebDriver
/// error (`{"value": {"error": …, "message": …}}`) becomes a `WebDriverError`.
///
/// Over HummingbirdTesting's NIO client, not FoundationNetworking's `URLSession`: on Linux the
/// latter fails every chromedriver answer with "Failed writing header", because chromedriver writes
/// its header lines without a space after the colon (`Content-Length:249`, valid HTTP/1.1).
enum WebDriverHTTP {
    struct Answer: Sendable {
        let status: Int
        let body: Data
    }

    /// One request on a connection of its own.
    static func request(_ method: HTTPRequest.Method, _ url: URL, body: Data?, timeout: TimeInterval) async throws -> Answer {
        guard let host = url.host, let port = url.port else { throw WebDriverError("\(url) names no host and port") }
        var target = url.path.isEmpty ? "/" : url.path
        if let query = url.query { target += "?" + query }
        var headers: HTTPFields = [.accept: "application/json"]
        if body != nil { headers[.contentType] = "application/json; charset=utf-8" }
        let requestTarget = target
        let requestHeaders = headers
        let response = try await TestClient.withClient(
            host: host, port: port, configuration: .init(timeout: .milliseconds(Int64(timeout * 1000)))
        ) { client in
            try await client.execute(
                TestClient.Request(
                    requestTarget, method: method, authority: "\(host):\(port)", headers: requestHeaders,
                    body: body.map { ByteBuffer(bytes: $0) }))
        }
        return Answer(status: response.status.code, body: response.body.map { Data($0.readableBytesView) } ?? Data())
    }

    static func send(_ method: HTTPRequest.Method, _ url: URL, _ body: [String: Any]?, timeout: TimeInterval) async throws -> Any {
        let answer = try await request(method, url, body: try body.map { try JSONSerialization.data(withJSONObject: $0) }, timeout: timeout)
        let json = try? JSONSerialization.jsonObject(with: answer.body, options: [.fragmentsAllowed])
        let value = (json as? [String: Any])?["value"] ?? NSNull()
        guard (200..<300).contains(answer.status) else {
            let error = value as? [String: Any]
            throw WebDriverError(
                "\(method) \(url.path): HTTP \(answer.status) \(error?["error"] as? String ?? ""): "
                    + "\(error?["message"] as? String ?? String(decoding: answer.body.prefix(2000), as: UTF8.self))")
        }
        return value
    }
}

/// Free loopback ports, found by binding port 0 and closing again (a small race with other
/// programs, acceptable for tests; callers retry on a failed start).
enum LoopbackPorts {
    /// A port free for TCP on 127.0.0.1.
    static func freeTCP() throws -> Int {
        try bindZero(stream)
    }

    /// A port free for both UDP and TCP on 127.0.0.1 (a DNS server listens on both).
    static func freeUDPAndTCP() throws -> Int {
        for _ in 0..<50 {
            let port = try bindZero(datagram)
            if canBind(stream, port: port) { return port }
        }
        throw WebDriverError("no loopback port free for both UDP and TCP")
    }

    #if canImport(Glibc)
        private static let stream = Int32(SOCK_STREAM.rawValue)
        private static let datagram = Int32(SOCK_DGRAM.rawValue)
    #else
        private static let stream = SOCK_STREAM
        private static let datagram = SOCK_DGRAM
    #endif

    private static func withSocket<T>(_ type: Int32, _ body: (Int32) throws -> T) throws -> T {
        let descriptor = socket(AF_INET, type, 0)
        guard descriptor >= 0 else { throw WebDriverError("socket() failed: errno \(errno)") }
        defer { close(descriptor) }
        return try body(descriptor)
    }

    private static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private static func bindLoopback(_ descriptor: Int32, port: Int) -> Bool {
        var address = address(port: port)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func bindZero(_ type: Int32) throws -> Int {
        try withSocket(type) { descriptor in
            guard bindLoopback(descriptor, port: 0) else { throw WebDriverError("bind() failed: errno \(errno)") }
            var bound = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &bound) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) == 0 }
            }
            guard ok else { throw WebDriverError("getsockname() failed: errno \(errno)") }
            return Int(UInt16(bigEndian: bound.sin_port))
        }
    }

    private static func canBind(_ type: Int32, port: Int) -> Bool {
        (try? withSocket(type) { bindLoopback($0, port: port) }) ?? false
    }
}
