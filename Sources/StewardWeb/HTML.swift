import StewardPolicy

/// A piece of HTML. Built with string interpolation in which every `String` (and anything else
/// that is not `HTML`) is escaped: a page can only contain markup that was written as `HTML`, so
/// no roster name, URL or request field reaches a page unescaped. Chosen over template files so
/// that escaping is checked by the type system and nothing has to be shipped beside the binary.
public struct HTML: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public private(set) var text: String

    public init(stringLiteral value: String) { text = value }
    public init(stringInterpolation: Interpolation) { text = stringInterpolation.text }
    init(raw: String) { text = raw }

    public var description: String { text }

    public struct Interpolation: StringInterpolationProtocol {
        var text = ""
        public init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity * 2) }
        public mutating func appendLiteral(_ literal: String) { text += literal }
        public mutating func appendInterpolation(_ html: HTML) { text += html.text }
        public mutating func appendInterpolation(_ html: [HTML]) { for piece in html { text += piece.text } }
        public mutating func appendInterpolation(_ value: String) { text += HTML.escape(value) }
        public mutating func appendInterpolation(_ value: String?) { text += HTML.escape(value ?? "") }
        public mutating func appendInterpolation<T: BinaryInteger>(_ value: T) { text += String(value) }
    }

    /// Escapes the five characters that matter in text and in quoted attribute values.
    public static func escape(_ value: String) -> String { htmlEscaped(value) }

    /// Percent-encodes a value for a URL query or path segment.
    public static func urlComponent(_ value: String) -> String {
        var allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        allowed.remove(0)
        var result = ""
        for byte in value.utf8 {
            if allowed.contains(byte) {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension Sequence {
    /// Maps each element to HTML and joins the pieces.
    func html(_ transform: (Element) throws -> HTML) rethrows -> HTML {
        var text = ""
        for element in self { text += try transform(element).text }
        return HTML(raw: text)
    }
}
