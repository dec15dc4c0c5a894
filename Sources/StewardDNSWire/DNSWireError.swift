/// The one error type of this module: why a DNS message, or a piece of one, could not be read or
/// built. `field` names where the problem is ("question 1 name", "additional 2 OPT option 1") and
/// `detail` says what is wrong ("label length 70 exceeds 63"); `description` joins the two.
///
/// Every parser in the module throws only this type and leaves the caller's reader index where it
/// was when it throws.
public struct DNSWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The class of problem, for code that reacts to it (tests, metrics, FORMERR vs. drop).
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// The data ends before a field is complete (includes a header shorter than 12 octets).
        case truncated
        /// A label is longer than 63 octets. On the wire this is a length octet 0x40–0x7F (the
        /// deprecated extended-label type, RFC 6891 5), reported with the length it would encode.
        case labelTooLong
        /// A name is longer than 255 octets in wire form (RFC 1035 2.3.4).
        case nameTooLong
        /// A label type with the reserved `10` prefix (length octet 0x80–0xBF, RFC 1035 4.1.4).
        case reservedLabelType
        /// A compression pointer leads back into the name being read.
        case pointerLoop
        /// A compression pointer points at or after its own name (only backward pointers are allowed).
        case forwardPointer
        /// A compression pointer points past the end of the message.
        case pointerOutOfBounds
        /// A name follows more compression pointers than the hop limit.
        case tooManyPointers
        /// A header count cannot possibly fit in the bytes that follow.
        case countExceedsData
        /// RDATA does not match its RDLENGTH (stops short of it, or has the wrong size for its type);
        /// also octets after the root label in `DNSName(wireBytes:)`.
        case rdataLengthMismatch
        /// More than one OPT record (RFC 6891 6.1.1).
        case duplicateOPT
        /// An OPT record outside the additional section, with a non-root owner, or with bad options.
        case invalidOPT
        /// A message that must be a query has QR=1 (RFC 1035 4.1.1).
        case notAQuery
        /// A standard query without exactly one question.
        case questionCount
        /// An empty label in presentation text ("a..b", ".a", or "").
        case emptyLabel
        /// A bad `\` escape in presentation text.
        case invalidEscape
    }

    /// The class of problem.
    public let kind: Kind
    /// Where the problem is, outermost first, e.g. "answer 2 rdata"; empty when not known.
    public private(set) var field: String
    /// What is wrong, e.g. "label length 70 exceeds 63".
    public let detail: String

    /// Creates an error.
    public init(_ kind: Kind, field: String = "", _ detail: String) {
        self.kind = kind
        self.field = field
        self.detail = detail
    }

    /// "field: detail", or just the detail when the field is not known.
    public var description: String {
        field.isEmpty ? detail : "\(field): \(detail)"
    }

    /// The same error with `context` put in front of its field ("question 1" + "name").
    public func within(_ context: String) -> DNSWireError {
        var copy = self
        copy.field = field.isEmpty ? context : "\(context) \(field)"
        return copy
    }

    static func truncated(_ what: String, need: Int, have: Int) -> DNSWireError {
        DNSWireError(.truncated, "\(what) needs \(need) octets but only \(have) remain")
    }
}
