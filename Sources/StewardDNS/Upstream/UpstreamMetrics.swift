import NIOCore
import Synchronization

/// Counters of a `DNSForwarder`, for export. Every property is a relaxed atomic load: values are
/// individually exact but not a consistent snapshot of each other.
public final class UpstreamMetrics: Sendable {
    /// Counters of one configured upstream.
    public final class Upstream: Sendable {
        /// The upstream's address, as configured.
        public let address: SocketAddress
        fileprivate let attemptCount = Atomic<UInt64>(0)
        fileprivate let answerCount = Atomic<UInt64>(0)
        fileprivate let timeoutCount = Atomic<UInt64>(0)
        fileprivate let failureCount = Atomic<UInt64>(0)
        fileprivate let latencySum = Atomic<UInt64>(0)

        init(address: SocketAddress) {
            self.address = address
        }

        /// Queries sent to this upstream (each UDP attempt and each TCP retry counts once).
        public var queries: UInt64 { attemptCount.load(ordering: .relaxed) }
        /// Attempts that produced an acceptable response (any RCODE).
        public var answers: UInt64 { answerCount.load(ordering: .relaxed) }
        /// Attempts that timed out.
        public var timeouts: UInt64 { timeoutCount.load(ordering: .relaxed) }
        /// Attempts that failed otherwise (socket errors, unreadable responses), plus SERVFAIL and
        /// REFUSED answers.
        public var failures: UInt64 { failureCount.load(ordering: .relaxed) }
        /// Sum of the round trips of `answers`, in microseconds (with `answers`, the mean).
        public var latencyMicroseconds: UInt64 { latencySum.load(ordering: .relaxed) }
    }

    /// One entry per configured upstream, in configuration order.
    public let upstreams: [Upstream]
    private let queryCount = Atomic<UInt64>(0)
    private let answeredCount = Atomic<UInt64>(0)
    private let failedCount = Atomic<UInt64>(0)
    private let overloadCount = Atomic<UInt64>(0)
    private let tcpRetryCount = Atomic<UInt64>(0)
    private let ignoredCount = Atomic<UInt64>(0)
    private let coalescedCount = Atomic<UInt64>(0)

    init(upstreams: [SocketAddress]) {
        self.upstreams = upstreams.map(Upstream.init(address:))
    }

    /// Client queries accepted for forwarding (not counting those refused as `overloaded`).
    public var queries: UInt64 { queryCount.load(ordering: .relaxed) }
    /// Client queries that got an answer (any RCODE).
    public var answered: UInt64 { answeredCount.load(ordering: .relaxed) }
    /// Client queries that failed (the server answers SERVFAIL).
    public var failed: UInt64 { failedCount.load(ordering: .relaxed) }
    /// Client queries refused at once because `maxInFlight` were waiting.
    public var overloaded: UInt64 { overloadCount.load(ordering: .relaxed) }
    /// Attempts that timed out, all upstreams together.
    public var timeouts: UInt64 { upstreams.reduce(0) { $0 + $1.timeouts } }
    /// Truncated UDP answers retried over TCP.
    public var tcpRetries: UInt64 { tcpRetryCount.load(ordering: .relaxed) }
    /// Datagrams ignored because they did not match the attempt (wrong ID, question or source;
    /// RFC 5452 9.1) or could not be read. A rising rate can mean a spoofing attempt.
    public var ignoredResponses: UInt64 { ignoredCount.load(ordering: .relaxed) }
    /// Client queries that joined an identical query already waiting on upstreams instead of
    /// sending their own (counted in `queries` too).
    public var coalesced: UInt64 { coalescedCount.load(ordering: .relaxed) }

    // MARK: Recording

    func recordQuery() { queryCount.add(1, ordering: .relaxed) }
    func recordAnswered() { answeredCount.add(1, ordering: .relaxed) }
    func recordFailed() { failedCount.add(1, ordering: .relaxed) }
    func recordOverloaded() { overloadCount.add(1, ordering: .relaxed) }
    func recordTCPRetry() { tcpRetryCount.add(1, ordering: .relaxed) }
    func recordIgnored() { ignoredCount.add(1, ordering: .relaxed) }
    func recordCoalesced() { coalescedCount.add(1, ordering: .relaxed) }

    func recordAttempt(_ upstream: Int) {
        upstreams[upstream].attemptCount.add(1, ordering: .relaxed)
    }

    func recordAnswer(_ upstream: Int, latency: TimeAmount, failure: Bool) {
        let counters = upstreams[upstream]
        counters.answerCount.add(1, ordering: .relaxed)
        counters.latencySum.add(UInt64(max(0, latency.nanoseconds / 1000)), ordering: .relaxed)
        if failure { counters.failureCount.add(1, ordering: .relaxed) }
    }

    func recordFailure(_ upstream: Int, _ failure: UpstreamAttemptFailure) {
        let counters = upstreams[upstream]
        if failure == .timeout {
            counters.timeoutCount.add(1, ordering: .relaxed)
        } else {
            counters.failureCount.add(1, ordering: .relaxed)
        }
    }
}
