import Foundation
import Hummingbird

/// A submitted `application/x-www-form-urlencoded` form, read with a size limit. Unknown fields are
/// ignored; a field given twice keeps its first value; a body that is too large or not UTF-8 is
/// refused with a message that says so.
public struct Form: Sendable {
    public var fields: [String: String]

    public static let maxBytes = 1 << 20

    public subscript(_ name: String) -> String? { fields[name] }

    /// The trimmed value, nil when missing or empty.
    public func value(_ name: String) -> String? {
        guard let raw = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else { return nil }
        return raw
    }

    public init(fields: [String: String]) { self.fields = fields }

    public init(parsing text: String) throws(WebError) {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]), let value = Self.decode(parts.count > 1 ? parts[1] : "") else {
                throw WebError(.badRequest, "the form has a field that is not valid percent-encoded UTF-8")
            }
            if fields[name] == nil { fields[name] = value }
        }
        self.fields = fields
    }

    static func decode(_ text: Substring) -> String? {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    public static func read(_ request: Request, maxBytes: Int = maxBytes) async throws -> Form {
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/x-www-form-urlencoded") {
            throw WebError(.unsupportedMediaType, "forms are sent as application/x-www-form-urlencoded")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBytes)
        } catch {
            throw WebError(.contentTooLarge, "the form is larger than \(maxBytes / 1024) KiB")
        }
        guard let text = body.getString(at: body.readerIndex, length: body.readableBytes), text.utf8.count == body.readableBytes
        else { throw WebError(.badRequest, "the form is not UTF-8 text") }
        return try Form(parsing: text)
    }
}

/// The web module's one error type: an HTTP status and a message the person reads.
public struct WebError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }
}
