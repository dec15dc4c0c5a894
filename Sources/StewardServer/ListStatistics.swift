import Foundation
import StewardConfig
import StewardPolicy

/// `steward lists stats`: per category, what loaded and what was refused; compile time and memory.
public struct ListStatistics: Sendable, Codable {
    public struct Row: Sendable, Codable {
        public var category: String
        public var kind: String
        public var usage: [String]
        public var domains: Int
        public var urls: Int
        public var addresses: Int
        public var duplicates: Int
        public var rejected: Int
    }

    public var rows: [Row]
    public var distinctNames: Int
    public var rejectedTotal: Int
    public var listSeconds: Double
    public var compileSeconds: Double
    public var tableBytes: Int
    public var residentBytes: Int?
    public var diagnostics: [String]

    public init(_ loaded: LoadedPolicy) {
        let lists = loaded.snapshot.lists
        rows = lists.categories.map { info in
            let stats = lists.stats[info.index]
            return Row(
                category: info.name, kind: info.kind.rawValue, usage: info.usage, domains: stats.domains,
                urls: stats.urls, addresses: stats.addresses, duplicates: stats.duplicates, rejected: stats.rejected)
        }
        distinctNames = lists.nameCount
        rejectedTotal = lists.rejectedTotal
        listSeconds = loaded.listSeconds
        compileSeconds = loaded.totalSeconds
        tableBytes = lists.memoryFootprint
        residentBytes = ProcessMemory.residentBytes()
        diagnostics = lists.diagnostics.map(\.description)
    }

    /// A fixed-width table for a terminal.
    public func table(showRejectedLines: Bool) -> String {
        var lines: [String] = []
        func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
            let padding = String(repeating: " ", count: max(0, width - text.count))
            return right ? padding + text : text + padding
        }
        let width = max(24, rows.map(\.category.count).max() ?? 0)
        lines.append(
            pad("category", width) + pad("domains", 10, right: true) + pad("urls", 8, right: true)
                + pad("addresses", 11, right: true) + pad("duplicates", 12, right: true) + pad("rejected", 10, right: true)
                + "  usage")
        for row in rows {
            lines.append(
                pad(row.category, width) + pad(String(row.domains), 10, right: true) + pad(String(row.urls), 8, right: true)
                    + pad(String(row.addresses), 11, right: true) + pad(String(row.duplicates), 12, right: true)
                    + pad(String(row.rejected), 10, right: true) + "  " + row.usage.joined(separator: " "))
        }
        lines.append("")
        lines.append("distinct names: \(distinctNames); lines rejected: \(rejectedTotal)")
        lines.append(String(format: "read and compiled lists in %.3f s; whole policy in %.3f s", listSeconds, compileSeconds))
        var memory = String(format: "compiled tables: %.1f MiB", Double(tableBytes) / 1_048_576)
        if let residentBytes { memory += String(format: "; process resident: %.1f MiB", Double(residentBytes) / 1_048_576) }
        lines.append(memory)
        if showRejectedLines, !diagnostics.isEmpty {
            lines.append("")
            lines.append("rejected lines\(rejectedTotal > diagnostics.count ? " (first \(diagnostics.count))" : ""):")
            lines.append(contentsOf: diagnostics.map { "  " + $0 })
        } else if rejectedTotal > 0 {
            lines.append("(run with --rejected to list the rejected lines with file and line number)")
        }
        return lines.joined(separator: "\n")
    }
}

/// The process's resident memory, from /proc (Linux).
public enum ProcessMemory {
    public static func residentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.split(whereSeparator: \.isWhitespace)
            if parts.count >= 2, let kib = Int(parts[1]) { return kib * 1024 }
        }
        return nil
    }
}
