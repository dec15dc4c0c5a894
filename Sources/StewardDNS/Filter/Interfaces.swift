import NIOCore
import StewardDNSWire

/// The answer cache the filter consults (see `DNSCache`).
public protocol DNSAnswerCache: Sendable {
    /// A response built from the cache for `query`, with TTLs counted down, or nil.
    func cachedResponse(to query: DNSMessage, question: DNSQuestion, now: NIODeadline) -> DNSMessage?
    /// Keeps `response` (to `query`, whose CD and DO bits it was fetched with) for `question` as
    /// long as its TTLs (and the configured bounds) allow.
    func remember(_ response: DNSMessage, to query: DNSMessage, question: DNSQuestion, now: NIODeadline)
}

/// The district's upstream resolvers (see `DNSForwarder`).
public protocol DNSUpstream: Sendable {
    /// Forwards `query`; the response carries the query's ID and question. Fails when no upstream
    /// answers in time.
    func forward(_ query: DNSMessage, on eventLoop: any EventLoop) -> EventLoopFuture<ForwardedAnswer>
}

/// An upstream's answer and which upstream gave it.
public struct ForwardedAnswer: Sendable {
    public var message: DNSMessage
    public var upstream: Int

    public init(message: DNSMessage, upstream: Int) {
        self.message = message
        self.upstream = upstream
    }
}
