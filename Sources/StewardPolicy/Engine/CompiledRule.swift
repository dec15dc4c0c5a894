/// A rule in the form `decide` reads: every condition is a bit set or a short array.
struct CompiledRule: Sendable {
    let definition: RuleDefinition
    /// nil means "any".
    let groups: BitSet512?
    let zones: BitSet512?
    let destinations: BitSet512?
    let fileTypes: [String]
    let mimeTypes: [String]
    let during: [Int]
    let outside: [Int]

    var needsClock: Bool { !during.isEmpty || !outside.isEmpty }

    func matches(file: FileInfo?) -> Bool {
        if fileTypes.isEmpty && mimeTypes.isEmpty { return true }
        guard let file else { return false }
        if let ext = file.fileExtension, fileTypes.contains(ext) { return true }
        if let mime = file.mimeType {
            for pattern in mimeTypes {
                if pattern == mime { return true }
                if pattern.hasSuffix("/*"), mime.hasPrefix(pattern.dropLast()) { return true }
            }
        }
        return false
    }
}

/// A schedule as bit masks: for each window, the days (bit n = weekday n) and minutes.
struct CompiledSchedule: Sendable {
    let windows: [(days: UInt8, start: Int, end: Int)]

    init(_ definition: ScheduleDefinition) {
        windows = definition.windows.map { window in
            (window.days.reduce(0) { $0 | UInt8(1) << UInt8($1) }, window.start, window.end)
        }
    }

    func contains(weekday: Int, minute: Int) -> Bool {
        let today = UInt8(1) << UInt8(weekday)
        let yesterday = UInt8(1) << UInt8((weekday + 6) % 7)
        for window in windows {
            if window.start <= window.end {
                if window.days & today != 0, minute >= window.start, minute < window.end { return true }
            } else {
                // Over midnight: belongs to the day it starts on.
                if window.days & today != 0, minute >= window.start { return true }
                if window.days & yesterday != 0, minute < window.end { return true }
            }
        }
        return false
    }
}
