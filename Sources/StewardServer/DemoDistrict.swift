import Foundation

/// Finds the shipped demo district (`demo/steward.yaml`) when no configuration is named: from the
/// working directory and from the executable's directory, upwards, then the installed share path.
public enum DemoDistrict {
    public static let relativePath = "demo/steward.yaml"

    public static func locate(
        workingDirectory: String = FileManager.default.currentDirectoryPath,
        executable: String = CommandLine.arguments.first ?? ""
    ) throws(StewardError) -> String {
        var searched: [String] = []
        var starts = [URL(fileURLWithPath: workingDirectory)]
        if !executable.isEmpty {
            starts.append(URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        for start in starts {
            var directory = start.standardizedFileURL
            for _ in 0..<6 {
                let candidate = directory.appendingPathComponent(relativePath).path
                searched.append(directory.path)
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        for shared in ["/usr/local/share/steward", "/usr/share/steward"] {
            let candidate = shared + "/" + relativePath
            searched.append(shared)
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        throw .noDemoDistrict(searched: searched)
    }

    /// The configuration file to use: the one given, or the demo district.
    public static func configFile(_ given: String?) throws(StewardError) -> String {
        if let given { return given }
        return try locate()
    }
}
