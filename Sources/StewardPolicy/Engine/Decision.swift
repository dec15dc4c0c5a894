/// Why a decision came out the way it did.
public enum DecisionCause: String, Sendable, Hashable {
    /// A rule matched (see `Decision.rule`).
    case rule
    /// No rule matched; the policy's default applied.
    case defaultAction = "default"
    /// The CIPA safeguard (R1): a CIPA category, for someone who may be a minor or without an
    /// explicit adult exemption.
    case cipa
    /// The person's access is revoked (R13).
    case revoked
    /// The person's account is inactive.
    case inactive
    /// The person's group is switched to "work only" (R20) and this is a personal-use category.
    case workOnly = "work-only"
    /// A name answered "no" so that devices keep using the filter (R3): Firefox's DNS-over-HTTPS
    /// canary, Apple Private Relay.
    case bypassCanary = "bypass-canary"
    /// The client is in a zone that requires signing in, and nobody has (R7): its web names lead to
    /// the captive portal.
    case signIn = "sign-in"
}

/// The answer to "may this subject reach this destination now?". A small value with no references,
/// so `decide` allocates nothing; `PolicySnapshot.explain(_:subject:)` turns it into words.
public struct Decision: Sendable, Hashable {
    public var action: RuleAction
    public var cause: DecisionCause
    /// Index of the matched rule in `PolicySnapshot.rules`, or -1.
    public var rule: Int32
    /// Every category the destination is in (lists and rules' inline lists).
    public var categories: BitSet512
    /// Index of the subject's primary group, or -1.
    public var group: Int32
    /// Index of the first rule, before the one that decided, that would have matched had the
    /// subject not been excepted from it (`except:`), or -1. For explanations only.
    public var exceptedRule: Int32 = -1

    public init(action: RuleAction, cause: DecisionCause, rule: Int32, categories: BitSet512, group: Int32) {
        self.action = action
        self.cause = cause
        self.rule = rule
        self.categories = categories
        self.group = group
    }

    /// A short label for metrics (`block:rule`, `allow:default`).
    public var label: String { "\(action.rawValue):\(cause.rawValue)" }
}

/// Who is asking, resolved against one snapshot: computed once per identity (a sign-in, a zone),
/// not per query.
public struct Subject: Sendable, Hashable {
    /// The person's id, or nil for a client nobody has identified.
    public var personID: String?
    public var groups: BitSet512
    /// The first group (in configuration order) the subject is in, or -1.
    public var primaryGroup: Int32
    /// Whether the subject is an identified adult (CIPA adult exemptions may apply).
    public var isAdult: Bool
    public var status: PersonStatus
    /// Whether any of the subject's groups is switched to "work only".
    public var workOnly: Bool
    /// Whether any of the subject's groups enforces SafeSearch.
    public var safeSearch: Bool
    /// The strictest YouTube restriction of the subject's groups.
    public var youTube: YouTubeRestriction

    public init(
        personID: String?, groups: BitSet512, primaryGroup: Int32, isAdult: Bool, status: PersonStatus = .active,
        workOnly: Bool = false, safeSearch: Bool = false, youTube: YouTubeRestriction = .off
    ) {
        self.safeSearch = safeSearch
        self.youTube = youTube
        self.personID = personID
        self.groups = groups
        self.primaryGroup = primaryGroup
        self.isAdult = isAdult
        self.status = status
        self.workOnly = workOnly
    }
}

/// What a destination is, for a decision: a name (DNS, CONNECT), a URL (plain HTTP), an address.
public enum Destination: Sendable, Hashable {
    case name(String)
    /// Host (normalised) and path in `URLPath` canonical form.
    case url(host: String, path: String)
    case address(IPAddress)
}

/// A download's type, for rules with `file-types` / `mime-types`.
public struct FileInfo: Sendable, Hashable {
    /// Lower-case extension without the dot.
    public var fileExtension: String?
    /// Lower-case MIME type without parameters.
    public var mimeType: String?

    public init(fileExtension: String? = nil, mimeType: String? = nil) {
        self.fileExtension = fileExtension?.lowercased()
        self.mimeType = mimeType?.lowercased()
    }
}
