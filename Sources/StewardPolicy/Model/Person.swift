import Foundation

/// A role as the roster gives it. Steward's own are `student`, `staff` and `guest`; the
/// OneRoster 1.1 roles (`teacher`, `administrator`, `aide`, `proctor`, `parent`, `guardian`,
/// `relative`) are kept as they come, so groups can select them.
public struct Role: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue.lowercased() }
    public init(_ value: String) { self.init(rawValue: value) }

    public static let student = Role("student")
    public static let staff = Role("staff")
    public static let guest = Role("guest")
    public static let teacher = Role("teacher")
    public static let administrator = Role("administrator")
    public static let aide = Role("aide")

    /// Roles known here; anything else in a roster is refused with the list.
    public static let known: [Role] = [
        .student, .staff, .guest, .teacher, .administrator, .aide, Role("proctor"), Role("parent"),
        Role("guardian"), Role("relative"),
    ]

    /// Whether the role is an adult's. CIPA's "harmful to minors" filtering may be relaxed only for
    /// adults (47 U.S.C. 254(h)(5)(D)); students and guests are never treated as adults.
    public var isAdult: Bool { self != .student && self != .guest }

    public var description: String { rawValue }
}

/// A person's standing.
public enum PersonStatus: Hashable, Sendable {
    case active
    /// Left the district or not yet started: no access.
    case inactive
    /// Access revoked (R13) until `until` (nil: until restored), with the reason given.
    case revoked(until: Date?, reason: String)
}

/// A person of the district, as the roster knows them.
public struct Person: Hashable, Sendable {
    public var id: String
    public var name: String
    public var role: Role
    public var building: String?
    public var grade: Grade?
    public var email: String?
    public var status: PersonStatus

    public init(
        id: String, name: String, role: Role, building: String? = nil, grade: Grade? = nil, email: String? = nil,
        status: PersonStatus = .active
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.building = building
        self.grade = grade
        self.email = email
        self.status = status
    }
}

/// A grade level, ordered: pre-kindergarten, kindergarten, 1–13. Reads the spellings rosters use
/// (`PK`, `KG`, `K`, `01`, `9`, OneRoster's `PR`/`TK`/`PS`).
public struct Grade: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let level: Int

    public init?(_ text: String) {
        let value = text.trimmingCharacters(in: .whitespaces).uppercased()
        switch value {
        case "PK", "PREK", "PRE-K", "PR", "PS", "IT", "TK": level = -1
        case "K", "KG", "KINDERGARTEN": level = 0
        default:
            guard let number = Int(value), (1...13).contains(number) else { return nil }
            level = number
        }
    }

    public init(level: Int) { self.level = level }

    public static func < (lhs: Grade, rhs: Grade) -> Bool { lhs.level < rhs.level }

    public var description: String {
        switch level {
        case -1: "PK"
        case 0: "KG"
        default: String(level)
        }
    }

    /// Parses `9-12`, `K-5`, `PK-2` or a single grade into the grades it covers.
    public static func range(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", maxSplits: 1).map(String.init)
        if parts.count == 1 {
            guard let grade = Grade(parts[0]) else { return nil }
            return grade.level...grade.level
        }
        guard let low = Grade(parts[0]), let high = Grade(parts[1]), low <= high else { return nil }
        return low.level...high.level
    }
}
