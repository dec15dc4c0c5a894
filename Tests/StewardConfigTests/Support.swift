import Foundation
import StewardConfig
import StewardPolicy
import StewardTestSupport

/// Paths inside the repository, found from this file (tests may read the repo; the product never
/// reads anything outside its configuration).
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let demoConfig = root.appendingPathComponent("demo/steward.yaml").path

    /// The built `steward` executable.
    static var executable: String { BuiltProducts.steward }
}

/// The demo district, compiled once for all tests.
let demoDistrict: LoadedPolicy = {
    do {
        return try PolicyLoader.load(configFile: Repository.demoConfig)
    } catch {
        fatalError("the demo district does not load: \(error)")
    }
}()

/// A scratch directory with files written into it.
struct Scratch {
    let url: URL

    init() throws {
        url = TestDirectory.root.appendingPathComponent("steward-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Runs the real `steward` binary.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

func runSteward(_ arguments: [String]) async throws -> CommandResult {
    // Standard error is what the command-line tests check; run through a shell to keep it apart.
    let quoted = ([Repository.executable] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    let errorFile = TestDirectory.root.appendingPathComponent("steward-stderr-\(UUID().uuidString)")
    let result = try await ChildProcess.run(
        "/bin/sh", ["-c", quoted.joined(separator: " ") + " 2>'\(errorFile.path)'"], directory: Repository.root)
    let stderr = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
    try? FileManager.default.removeItem(at: errorFile)
    return CommandResult(status: result.status, stdout: result.output, stderr: stderr)
}
