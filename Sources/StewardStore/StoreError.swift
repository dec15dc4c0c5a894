/// The store module's one error type. `description` is what a user sees; the underlying driver
/// error, when there is one, goes to the log.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The database could not be opened or reached.
        case unavailable
        /// The schema is newer than this build knows (a newer Steward migrated it).
        case schemaTooNew
        /// A request named something that is not there (a person, an administrator, …).
        case notFound
        /// A request was refused (a duplicate, a bad value, a rule of the directory).
        case refused
        /// The audit log's hash chain is broken.
        case tampered
        /// A query failed.
        case query
    }

    public var kind: Kind
    public var message: String
    public var underlying: String?

    public init(_ kind: Kind, _ message: String, underlying: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.underlying = underlying.map { String(reflecting: $0) }
    }

    public var description: String { message }
}
