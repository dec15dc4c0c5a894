import NIOCore

extension DNSForwarder {
    /// Where and how patiently to forward.
    public struct Configuration: Sendable {
        /// The district's upstream resolvers, IPv4 or IPv6, with ports (normally 53).
        public var upstreams: [SocketAddress]
        /// How long one UDP attempt waits for an acceptable answer before the next upstream is
        /// tried. With `attempts`, bounds how long a query can wait when no upstream answers:
        /// `timeout * attempts`.
        public var timeout: TimeAmount
        /// Attempts per query across all upstreams (round-robin, wrapping around), at least 1.
        /// A TCP retry after a truncated answer is part of its attempt.
        public var attempts: Int
        /// How long a TCP retry may take, connection included.
        public var tcpTimeout: TimeAmount
        /// Most queries waiting on upstreams at once; beyond it queries fail at once with
        /// `UpstreamError.overloaded` (each waiting query holds a socket).
        public var maxInFlight: Int
        /// How long an upstream that timed out or failed is tried after the others (unless it
        /// answers in the meantime).
        public var failurePenalty: TimeAmount

        /// Creates a configuration; the defaults suit resolvers on the district's network.
        public init(
            upstreams: [SocketAddress], timeout: TimeAmount = .milliseconds(1500), attempts: Int = 3,
            tcpTimeout: TimeAmount = .seconds(3), maxInFlight: Int = 4096, failurePenalty: TimeAmount = .seconds(10)
        ) {
            self.upstreams = upstreams
            self.timeout = timeout
            self.attempts = attempts
            self.tcpTimeout = tcpTimeout
            self.maxInFlight = maxInFlight
            self.failurePenalty = failurePenalty
        }
    }
}
