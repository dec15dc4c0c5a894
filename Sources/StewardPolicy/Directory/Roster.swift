/// A roster as a district brings it (OneRoster bulk files or a plain sheet), read and checked,
/// ready for the directory to import.
public struct Roster: Sendable {
    public enum Kind: String, Sendable {
        case oneRoster = "oneroster"
        case csv
    }

    public struct Entry: Sendable, Hashable {
        public var person: Person
        /// What the person signs in with (OneRoster `username`; the sheet's email or id).
        public var username: String?

        public init(person: Person, username: String?) {
            self.person = person
            self.username = username
        }
    }

    public struct Building: Sendable, Hashable {
        public var id: String
        public var name: String

        public init(id: String, name: String) {
            self.id = id
            self.name = name
        }
    }

    public var kind: Kind
    /// Where it was read from (a directory or a file), for the import record.
    public var source: String
    /// A complete roster (OneRoster `bulk`, or a sheet): people it no longer lists are deactivated.
    /// A OneRoster `delta` changes only the people it lists.
    public var complete: Bool
    public var entries: [Entry]
    public var buildings: [Building]

    public init(kind: Kind, source: String, complete: Bool, entries: [Entry], buildings: [Building]) {
        self.kind = kind
        self.source = source
        self.complete = complete
        self.entries = entries
        self.buildings = buildings
    }
}
