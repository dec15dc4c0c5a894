import Synchronization

/// Counters of the DNS filter, exported in Prometheus text format.
public final class DNSMetrics: Sendable {
    public let allowed = Atomic<UInt64>(0)
    public let blocked = Atomic<UInt64>(0)
    public let warned = Atomic<UInt64>(0)
    public let flagged = Atomic<UInt64>(0)
    public let rewritten = Atomic<UInt64>(0)
    /// Queries from devices that must sign in first, answered with the portal's address.
    public let portalAnswers = Atomic<UInt64>(0)
    public let refused = Atomic<UInt64>(0)
    public let formatErrors = Atomic<UInt64>(0)
    public let dropped = Atomic<UInt64>(0)
    public let rateLimited = Atomic<UInt64>(0)
    /// Datagrams the batched UDP loop dropped because too many already waited for the event loop.
    public let overloaded = Atomic<UInt64>(0)
    public let cacheHits = Atomic<UInt64>(0)
    public let cacheMisses = Atomic<UInt64>(0)
    public let upstreamFailures = Atomic<UInt64>(0)
    public let upstreamAnswers = Atomic<UInt64>(0)
    /// Sum of upstream round trips, microseconds (with `upstreamAnswers`, the mean).
    public let upstreamMicros = Atomic<UInt64>(0)
    /// Upstream answers the batched UDP loop's relay gave on its own thread (`DNSUDPRelay`), of
    /// `upstreamAnswers`.
    public let relayed = Atomic<UInt64>(0)

    public init() {}

    static func bump(_ counter: borrowing Atomic<UInt64>, by amount: UInt64 = 1) {
        counter.add(amount, ordering: .relaxed)
    }

    /// Prometheus text exposition of these counters.
    public func prometheusText() -> String {
        func value(_ counter: borrowing Atomic<UInt64>) -> UInt64 { counter.load(ordering: .relaxed) }
        var lines: [String] = []
        lines.append("# HELP steward_dns_portal_answers_total Queries from devices not yet signed in, answered with the portal.")
        lines.append("# TYPE steward_dns_portal_answers_total counter")
        lines.append("steward_dns_portal_answers_total \(value(portalAnswers))")
        lines.append("# HELP steward_dns_queries_total DNS queries answered, by decision.")
        lines.append("# TYPE steward_dns_queries_total counter")
        lines.append("steward_dns_queries_total{decision=\"allow\"} \(value(allowed))")
        lines.append("steward_dns_queries_total{decision=\"block\"} \(value(blocked))")
        lines.append("steward_dns_queries_total{decision=\"warn\"} \(value(warned))")
        lines.append("steward_dns_queries_total{decision=\"flag\"} \(value(flagged))")
        lines.append("steward_dns_queries_total{decision=\"rewrite\"} \(value(rewritten))")
        lines.append("steward_dns_queries_total{decision=\"refused\"} \(value(refused))")
        lines.append("steward_dns_queries_total{decision=\"formerr\"} \(value(formatErrors))")
        lines.append("# HELP steward_dns_dropped_total Packets dropped unanswered (no ID, rate limited, or overload).")
        lines.append("# TYPE steward_dns_dropped_total counter")
        lines.append("steward_dns_dropped_total{reason=\"malformed\"} \(value(dropped))")
        lines.append("steward_dns_dropped_total{reason=\"rate-limit\"} \(value(rateLimited))")
        lines.append("steward_dns_dropped_total{reason=\"overload\"} \(value(overloaded))")
        lines.append("# TYPE steward_dns_cache_hits_total counter")
        lines.append("steward_dns_cache_hits_total \(value(cacheHits))")
        lines.append("# TYPE steward_dns_cache_misses_total counter")
        lines.append("steward_dns_cache_misses_total \(value(cacheMisses))")
        lines.append("# TYPE steward_dns_upstream_failures_total counter")
        lines.append("steward_dns_upstream_failures_total \(value(upstreamFailures))")
        lines.append("# TYPE steward_dns_upstream_answers_total counter")
        lines.append("steward_dns_upstream_answers_total \(value(upstreamAnswers))")
        lines.append("# HELP steward_dns_relayed_total Upstream answers relayed by the batched UDP loop itself.")
        lines.append("# TYPE steward_dns_relayed_total counter")
        lines.append("steward_dns_relayed_total \(value(relayed))")
        lines.append("# TYPE steward_dns_upstream_latency_microseconds_sum counter")
        lines.append("steward_dns_upstream_latency_microseconds_sum \(value(upstreamMicros))")
        return lines.joined(separator: "\n") + "\n"
    }
}
