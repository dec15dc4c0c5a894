/// A problem found while compiling a policy, with where it was written.
public struct PolicyProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var location: SourceLocation?
    /// Key path when no location is known (`rules[3].match.groups[0]`).
    public var path: String
    public var message: String

    public init(location: SourceLocation?, path: String, message: String) {
        self.location = location
        self.path = path
        self.message = message
    }

    public var description: String {
        if let location { return "\(location.file):\(location.line): \(path): \(message)" }
        return "\(path): \(message)"
    }
}

/// The policy module's one error type: every problem found, not just the first.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    public var problems: [PolicyProblem]
    public init(problems: [PolicyProblem]) { self.problems = problems }
    public var description: String {
        "policy has \(problems.count) problem\(problems.count == 1 ? "" : "s"):\n"
            + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
