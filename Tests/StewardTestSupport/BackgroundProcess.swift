import Foundation

/// A server the tests start (a TLS origin, say) and stop when done; its output goes to a file.
public final class BackgroundProcess: @unchecked Sendable {
    // `Process` is a class; this wrapper is used by one test at a time.
    let process = Process()
    public let log: URL

    public init(_ executable: String, _ arguments: [String], directory: URL? = nil) throws {
        log = TestDirectory.root.appendingPathComponent("steward-bg-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: log)
    }
}
