import Foundation
import Logging
import StewardStore
import StewardTestSupport

/// A real PostgreSQL server for the repository suite: the one `STEWARD_TEST_POSTGRES_URL` names, or
/// else a private cluster this process starts on loopback (initdb + pg_ctl from the installed
/// server; as the `postgres` account when the tests run as root) and stops when it exits. Each test
/// gets a database of its own. No server and no URL is a failure with the reason, never a skip.
actor PostgresServer {
    static let shared = PostgresServer()

    private var starting: Task<String, any Error>?

    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    /// A fresh, empty database's URL.
    func freshDatabase() async throws -> String {
        let admin = try await start()
        let name = "steward_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let connection = try await StoreConnection.open(.postgres(url: admin), logger: Logger(label: "test"))
        try await connection.run { database in
            try await database.raw("CREATE DATABASE \(unsafeRaw: String(name))").run()
        }
        await connection.close()
        guard let slash = admin.lastIndex(of: "/") else { throw Unavailable(description: "bad admin URL \(admin)") }
        return String(admin[...slash]) + name
    }

    /// Starts the server once; tests that ask meanwhile wait for the same start.
    private func start() async throws -> String {
        if let starting { return try await starting.value }
        let task = Task { try await Self.launch() }
        starting = task
        return try await task.value
    }

    private static func launch() async throws -> String {
        if let given = ProcessInfo.processInfo.environment["STEWARD_TEST_POSTGRES_URL"], !given.isEmpty {
            return given
        }
        guard let bin = serverBinaries() else {
            throw Unavailable(
                description: "no PostgreSQL server found (looked in /usr/lib/postgresql/*/bin and PATH): install "
                    + "postgresql (.ci/run does) or set STEWARD_TEST_POSTGRES_URL")
        }
        let directory = "/tmp/steward-pg-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var prefix: [String] = []
        if getuid() == 0 {
            // PostgreSQL refuses to run as root: the cluster belongs to the postgres account.
            guard let account = getpwnam("postgres") else {
                throw Unavailable(description: "running as root and there is no 'postgres' account to run the server as")
            }
            chown(directory, account.pointee.pw_uid, account.pointee.pw_gid)
            prefix = ["/usr/sbin/runuser", "-u", "postgres", "--"]
        }
        let runAs = prefix.isEmpty ? "" : "runuser -u postgres -- "
        let log = directory + "/setup.log"
        func run(_ command: String) async throws {
            let status = await ChildProcess.shell(runAs + command + " >> '\(log)' 2>&1")
            guard status == 0 else {
                let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw Unavailable(description: "\(command) failed (\(status)): \(output)")
            }
        }
        let data = directory + "/data"
        try await run("'\(bin)/initdb' -D '\(data)' -U steward --auth=trust -E UTF8 --no-sync")
        let port = Int.random(in: 20_000...40_000)
        try await run(
            "'\(bin)/pg_ctl' -D '\(data)' -l '\(directory)/server.log' -w -t 60 -o "
                + "'-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200' start")
        PostgresCleanup.register(stop: (prefix + [bin + "/pg_ctl", "-D", data, "-m", "immediate", "stop"]), directory: directory)
        return "postgres://steward@127.0.0.1:\(port)/postgres"
    }

    static func serverBinaries() -> String? {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(base)/\(version)/bin/initdb") {
            return "\(base)/\(version)/bin"
        }
        for path in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where FileManager.default.isExecutableFile(atPath: "\(path)/initdb") && FileManager.default.isExecutableFile(atPath: "\(path)/pg_ctl") {
            return String(path)
        }
        return nil
    }
}

/// Stops the private cluster when the test process exits.
enum PostgresCleanup {
    nonisolated(unsafe) static var command: String?

    static func register(stop: [String], directory: String) {
        command = stop.map { "'\($0)'" }.joined(separator: " ") + " >/dev/null 2>&1; rm -rf '\(directory)'"
        atexit {
            if let command = PostgresCleanup.command { _ = system(command) }
        }
    }
}
