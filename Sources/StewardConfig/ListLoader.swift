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
                        log.add(file: configFile, line: nil, path: path, error.description)
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

    /// A sizing hint for the name table: about one name per 20 bytes of list files (UT1 and
    /// typical block lists average 20–22 bytes a line).
    static func expectedNames(_ sources: [ListSource]) -> Int {
        var bytes = 0
        for source in sources {
            switch source.kind {
            case .file: bytes += fileSize(source.path)
            case .ut1:
                let enumerator = FileManager.default.enumerator(atPath: source.path)
                while let item = enumerator?.nextObject() as? String {
                    if item.hasSuffix("domains") || item.hasSuffix("urls") {
                        bytes += fileSize((source.path as NSString).appendingPathComponent(item))
                    }
                }
            }
        }
        return max(1024, bytes / 20)
    }

    private static func fileSize(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }
}
