#if canImport(Glibc)
    import Glibc
#endif
import Foundation

/// One folder per test process for every file and folder the tests make, removed when the
/// process exits; folders left by test processes that died (killed, crashed) are removed by the
/// next run. Tests use it instead of the system's temporary directory, so a suite run leaves
/// nothing behind.
public enum TestDirectory {
    static let prefix = "steward-tests-"

    public static let root: URL = {
        let system = FileManager.default.temporaryDirectory
        removeAbandoned(in: system)
        let directory = system.appendingPathComponent("\(prefix)\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        atexit {
            try? FileManager.default.removeItem(at: TestDirectory.root)
        }
        return directory
    }()

    /// Folders of test processes that no longer run.
    private static func removeAbandoned(in system: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: system.path)) ?? []
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(at: system.appendingPathComponent(name))
            }
        }
    }
}
