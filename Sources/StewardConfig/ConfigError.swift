/// One problem in the configuration: the file, the line, the key path, and what is wrong.
public struct ConfigProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var path: String
    public var message: String

    public init(file: String, line: Int?, path: String, message: String) {
        self.file = file
        self.line = line
        self.path = path
        self.message = message
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return path.isEmpty ? "\(place): \(message)" : "\(place): \(path): \(message)"
    }
}

/// The configuration module's one error type: every problem found, all at once.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]

    public init(problems: [ConfigProblem]) { self.problems = problems }

    public var description: String {
        if problems.count == 1 { return "configuration error: \(problems[0])" }
        return "configuration has \(problems.count) problems:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Collects problems while a file is read, so that one run reports them all.
final class ProblemLog {
    private(set) var problems: [ConfigProblem] = []

    func add(file: String, line: Int?, path: String, _ message: String) {
        problems.append(ConfigProblem(file: file, line: line, path: path, message: message))
    }

    var isEmpty: Bool { problems.isEmpty }
}
