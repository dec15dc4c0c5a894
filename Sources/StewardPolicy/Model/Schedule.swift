/// A named set of weekly time windows in the district's time zone ("school-hours").
public struct ScheduleDefinition: Hashable, Sendable {
    public struct Window: Hashable, Sendable {
        /// Days the window starts on, 0 = Sunday … 6 = Saturday.
        public var days: Set<Int>
        /// Minutes after local midnight; `end` may be less than `start` for a window over midnight.
        public var start: Int
        public var end: Int

        public init(days: Set<Int>, start: Int, end: Int) {
            self.days = days
            self.start = start
            self.end = end
        }
    }

    public var id: String
    public var windows: [Window]
    public var location: SourceLocation?

    public init(id: String, windows: [Window], location: SourceLocation? = nil) {
        self.id = id
        self.windows = windows
        self.location = location
    }

    public static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses `mon`, `monday`, `mon-fri`, `weekdays`, `weekends`, `daily` into day numbers.
    public static func days(_ text: String) -> Set<Int>? {
        let value = text.lowercased()
        switch value {
        case "weekdays": return [1, 2, 3, 4, 5]
        case "weekends": return [0, 6]
        case "daily", "everyday", "all": return Set(0...6)
        default: break
        }
        func day(_ word: Substring) -> Int? {
            let key = word.prefix(3)
            guard word.count >= 3 else { return nil }
            let full = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
            guard let index = dayNames.firstIndex(of: String(key)), full[index].hasPrefix(word) else { return nil }
            return index
        }
        let parts = value.split(separator: "-", maxSplits: 1)
        if parts.count == 2 {
            guard let first = day(parts[0]), let last = day(parts[1]) else { return nil }
            var result: Set<Int> = []
            var current = first
            while true {
                result.insert(current)
                if current == last { break }
                current = (current + 1) % 7
            }
            return result
        }
        return day(value[...]).map { [$0] }
    }

    /// Parses `HH:MM` (24-hour) into minutes after midnight; `24:00` is allowed as an end.
    public static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[1].count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]),
            (0...24).contains(hour), (0...59).contains(minute), hour * 60 + minute <= 24 * 60
        else { return nil }
        return hour * 60 + minute
    }
}

/// The clause of an adopted policy document that a rule enforces: which document, which section,
/// and its exact words.
public struct Clause: Hashable, Sendable, Codable {
    /// The document's id in the configuration (e.g. `hps-student-aup`).
    public var document: String
    public var section: String
    public var text: String

    public init(document: String, section: String, text: String) {
        self.document = document
        self.section = section
        self.text = text
    }
}

/// An adopted policy document that clauses quote.
public struct PolicyDocument: Hashable, Sendable {
    public var id: String
    public var title: String
    /// The full text, used to check that every quoted clause is really in it.
    public var text: String?
    public var source: String?
    /// Who signs it at the portal: `everyone`, `staff`, `students`, `guests`, or role names.
    public var audience: [String]
    /// Whether the portal asks for a signature (false: shown and kept, not signed).
    public var acknowledge: Bool
    /// The district's version label and dates, as printed on the acknowledgment record.
    public var version: String?
    public var adopted: String?
    public var revised: String?

    public static let audiences = ["everyone", "staff", "students", "guests"]

    public init(
        id: String, title: String, text: String? = nil, source: String? = nil, audience: [String] = ["everyone"],
        acknowledge: Bool = true, version: String? = nil, adopted: String? = nil, revised: String? = nil
    ) {
        self.id = id
        self.title = title
        self.text = text
        self.source = source
        self.audience = audience
        self.acknowledge = acknowledge
        self.version = version
        self.adopted = adopted
        self.revised = revised
    }
}
