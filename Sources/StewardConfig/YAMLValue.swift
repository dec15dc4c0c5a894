import Foundation
import Yams

/// A YAML node with its key path and file, reading typed values and reporting every mismatch
/// (with line) to the shared `ProblemLog` instead of stopping at the first.
struct YAMLValue {
    let node: Node
    let path: String
    let file: String
    let log: ProblemLog

    var line: Int? { node.mark?.line }

    func problem(_ message: String) { log.add(file: file, line: line, path: path, message) }

    func child(_ node: Node, _ suffix: String) -> YAMLValue {
        YAMLValue(node: node, path: path.isEmpty ? suffix : path + (suffix.hasPrefix("[") ? "" : ".") + suffix, file: file, log: log)
    }

    /// The mapping's entries in order, after checking every key is one of `keys` (unknown keys are
    /// problems, with a suggestion when one is close) and appears once.
    func mapping(keys: [String], required: [String] = []) -> KeyedValues? {
        guard case .mapping(let mapping) = node else {
            problem("expected a mapping of keys (\(keys.prefix(4).joined(separator: ", "))…), found \(kind)")
            return nil
        }
        var values: [String: YAMLValue] = [:]
        var order: [String] = []
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.scalar?.string else {
                child(keyNode, "?").problem("keys must be plain text")
                continue
            }
            let value = child(valueNode, key)
            if !keys.contains(key) {
                YAMLValue(node: keyNode, path: value.path, file: file, log: log)
                    .problem("unknown key '\(key)'\(Self.suggestion(for: key, among: keys))")
                continue
            }
            if values[key] != nil {
                value.problem("key '\(key)' appears twice")
                continue
            }
            values[key] = value
            order.append(key)
        }
        for key in required where values[key] == nil {
            problem("missing required key '\(key)'")
        }
        return KeyedValues(values: values, order: order)
    }

    /// Mapping whose keys are free-form names (e.g. `schedules: {school-hours: …}`).
    func namedEntries() -> [(String, YAMLValue)]? {
        guard case .mapping(let mapping) = node else {
            problem("expected a mapping of names, found \(kind)")
            return nil
        }
        var result: [(String, YAMLValue)] = []
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.scalar?.string else {
                child(keyNode, "?").problem("keys must be plain text")
                continue
            }
            result.append((key, child(valueNode, key)))
        }
        return result
    }

    func sequence() -> [YAMLValue]? {
        guard case .sequence(let sequence) = node else {
            problem("expected a list, found \(kind)")
            return nil
        }
        return sequence.enumerated().map { child($1, "[\($0)]") }
    }

    var isNull: Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain {
            return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
        }
        return false
    }

    func string() -> String? {
        guard case .scalar(let scalar) = node else {
            problem("expected text, found \(kind)")
            return nil
        }
        return scalar.string
    }

    func nonEmptyString() -> String? {
        guard let text = string() else { return nil }
        if text.trimmingCharacters(in: .whitespaces).isEmpty {
            problem("must not be empty")
            return nil
        }
        return text
    }

    func bool() -> Bool? {
        guard let text = string() else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            problem("expected true or false, found '\(text)'")
            return nil
        }
    }

    func int(in range: ClosedRange<Int>) -> Int? {
        guard let text = string() else { return nil }
        guard let value = Int(text), range.contains(value) else {
            problem("expected a whole number from \(range.lowerBound) to \(range.upperBound), found '\(text)'")
            return nil
        }
        return value
    }

    /// A list of texts; a single text is taken as a list of one.
    func strings() -> [String] {
        if case .scalar = node {
            if isNull { return [] }
            return string().map { [$0] } ?? []
        }
        guard let items = sequence() else { return [] }
        return items.compactMap { $0.string() }
    }

    func oneOf<T: RawRepresentable & CaseIterable>(_ type: T.Type) -> T? where T.RawValue == String {
        guard let text = string() else { return nil }
        guard let value = T(rawValue: text.lowercased()) else {
            problem("'\(text)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return value
    }

    var kind: String {
        switch node {
        case .scalar(let scalar): scalar.string.isEmpty ? "nothing" : "the text '\(scalar.string.prefix(40))'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    static func suggestion(for key: String, among keys: [String]) -> String {
        let best = keys.map { ($0, editDistance($0, key)) }.min { $0.1 < $1.1 }
        guard let best, best.1 <= max(2, key.count / 3) else {
            return " (expected one of: \(keys.joined(separator: ", ")))"
        }
        return " (did you mean '\(best.0)'?)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// The checked keys of a mapping.
struct KeyedValues {
    let values: [String: YAMLValue]
    let order: [String]
    subscript(key: String) -> YAMLValue? { values[key] }
}
