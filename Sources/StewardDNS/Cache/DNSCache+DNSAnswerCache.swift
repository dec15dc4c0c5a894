import NIOCore
import StewardDNSWire

/// The cache as the filter consults it.
extension DNSCache: DNSAnswerCache {
    /// A response to `query` from the cache (see `CachedAnswer.response(to:)`), or nil.
    public func cachedResponse(to query: DNSMessage, question: DNSQuestion, now: NIODeadline) -> DNSMessage? {
        lookup(question, variant: DNSCacheKey.variant(of: query), now: now)?.response(to: query)
    }

    /// Stores `response` to `query` for `question` if it may be cached (`store(_:for:variant:now:)`
    /// without the result).
    public func remember(_ response: DNSMessage, to query: DNSMessage, question: DNSQuestion, now: NIODeadline) {
        store(response, for: question, variant: DNSCacheKey.variant(of: query), now: now)
    }
}
