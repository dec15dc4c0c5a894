import Foundation
import StewardPolicy

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads the configured list files into a `ListCompiler`: one category per file, or one per
/// sub-directory of a UT1-layout directory (`domains`, `urls`, `usage`).
public enum ListLoader {
    static let chunkSize = 1 << 20

    /// A compiler holding `sources`, sized and filled exactly as `steward serve` does it, not yet
    /// built (a policy may still add its rules' own lists). For tools and benchmarks.
    public static func compiler(for sources: [ListSource], configFile: String = "lists") throws(ConfigError) -> ListCompiler {
        let log = ProblemLog()
        let sizing = sizing(sources)
        var compiler = ListCompiler(expectedNames: sizing.names, expectedBytes: sizing.bytes)
        load(sources, into: &compiler, log: log, configFile: configFile)
        guard log.isEmpty else { throw ConfigError(problems: log.problems) }
        return compiler
    }

    /// Registers and ingests every configured list. Problems (a missing category in `only`, an
    /// unreadable file, too many categories) are added to `log`.
    static func load(_ sources: [ListSource], into compiler: inout ListCompiler, log: ProblemLog, configFile: String) {
        for (position, source) in sources.enumerated() {
            let path = "lists[\(position)]"
            switch source.kind {
            case .file:
                do {
                    let category = try compiler.addCategory(name: source.name, source: source.path)
                    ingest(file: source.path, category: category, format: source.format, into: &compiler, log: log)
                } catch {
                    log.add(file: configFile, line: nil, path: path, error.description)
                }
            case .ut1:
                let directories = (try? FileManager.default.contentsOfDirectory(atPath: source.path)) ?? []
                var found: Set<String> = []
                for name in directories.sorted() {
                    let folder = (source.path as NSString).appendingPathComponent(name)
                    var isDirectory: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue,
                        !name.hasPrefix(".")
                    else { continue }
                    if !source.only.isEmpty, !source.only.contains(name) { continue }
                    found.insert(name)
                    let usage = readUsage((folder as NSString).appendingPathComponent("usage"))
                    do {
                        let category = try compiler.addCategory(name: source.name + name, source: folder, usage: usage)
                        for (file, format) in [("domains", ListFormat.domains), ("urls", ListFormat.urls)] {
                            let filePath = (folder as NSString).appendingPathComponent(file)
                            if FileManager.default.fileExists(atPath: filePath) {
                                ingest(file: filePath, category: category, format: format, into: &compiler, log: log)
                            }
                        }
                    } catch {
                        var message = error.description
                        if case .reservedCategory = error {
                            message +=
                                " (\(folder): give the directory a name prefix, or leave the category out with 'only')"
                        }
                        log.add(file: configFile, line: nil, path: path, message)
                    }
                }
                for name in source.only where !found.contains(name) {
                    log.add(file: configFile, line: nil, path: path + ".only", "no category '\(name)' in \(source.path)")
                }
            }
        }
    }

    /// The `usage` file's words, comments skipped.
    static func readUsage(_ path: String) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(whereSeparator: \.isNewline)
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
            .flatMap { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
    }

    static func ingest(
        file: String, category: Int, format: ListFormat, into compiler: inout ListCompiler, log: ProblemLog
    ) {
        if let failure = ingest(file: file, category: category, format: format, into: &compiler) {
            log.add(file: file, line: nil, path: "", failure)
        }
    }

    /// Streams one file into the compiler in 1 MiB chunks (no file is held in memory whole).
    /// - Returns: why the file could not be read, if it could not.
    @discardableResult
    public static func ingest(
        file: String, category: Int, format: ListFormat, into compiler: inout ListCompiler
    ) -> String? {
        let descriptor = open(file, O_RDONLY)
        guard descriptor >= 0 else { return "cannot open list file: \(String(cString: strerror(errno)))" }
        defer { close(descriptor) }
        var failure: String? = nil
        compiler.ingest(file: file, category: category, format: format) { chunk in
            chunk = [UInt8](unsafeUninitializedCapacity: chunkSize) { buffer, count in
                var got = 0
                repeat {
                    got = read(descriptor, buffer.baseAddress, chunkSize)
                } while got < 0 && errno == EINTR
                if got < 0 { failure = String(cString: strerror(errno)) }
                count = max(got, 0)
            }
            return !chunk.isEmpty
        }
        return failure.map { "cannot read list file: \($0)" }
    }

    /// Sizing for the name table: the number of lines and bytes of the `domains`-type files, upper
    /// bounds on the names and their bytes, so the table never regrows while it fills (regrowing
    /// holds the old and the new slots at once: the peak memory of a large compile).
    static func sizing(_ sources: [ListSource]) -> (names: Int, bytes: Int) {
        var files: [String] = []
        for source in sources {
            switch source.kind {
            case .file: files.append(source.path)
            case .ut1:
                let enumerator = FileManager.default.enumerator(atPath: source.path)
                while let item = enumerator?.nextObject() as? String {
                    if item.hasSuffix("domains") || item.hasSuffix("urls") {
                        files.append((source.path as NSString).appendingPathComponent(item))
                    }
                }
            }
        }
        var lines = 0
        var bytes = 0
        for file in files {
            let (fileLines, fileBytes) = countLines(file)
            lines += fileLines
            bytes += fileBytes
        }
        return (max(1024, lines), max(16_384, bytes))
    }

    /// Lines (newlines, plus a final unterminated line) and bytes of a file, read in chunks.
    static func countLines(_ file: String) -> (Int, Int) {
        let descriptor = open(file, O_RDONLY)
        guard descriptor >= 0 else { return (0, 0) }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        var lines = 0
        var bytes = 0
        var last: UInt8 = 0x0A
        while true {
            let got = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, chunkSize) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { break }
            bytes += got
            for index in 0..<got where buffer[index] == 0x0A { lines += 1 }
            last = buffer[got - 1]
        }
        return (lines + (last == 0x0A ? 0 : 1), bytes)
    }
}
