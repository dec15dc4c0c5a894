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
        /// How long a TCP retry may take, connection included, at most: it has what remains of its
        /// attempt's `timeout`, so that `timeout * attempts` still bounds a query.
        public var tcpTimeout: TimeAmount
        /// Most queries waiting on upstreams at once; beyond it queries fail at once with
        /// `UpstreamError.overloaded` (so that a flood cannot grow memory without bound).
        public var maxInFlight: Int
        /// How long an upstream that timed out or failed is tried after the others (unless it
        /// answers in the meantime).
        public var failurePenalty: TimeAmount
        /// UDP sockets each event loop keeps per upstream (at least `attempts`, so that a query's
        /// attempts to one upstream each get their own port). See `UpstreamSocketPool`.
        public var socketsPerUpstream: Int
        /// Attempts a pooled socket serves before a socket on a new random port replaces it.
        public var socketMaxUses: Int
        /// How long a pooled socket is used before a socket on a new random port replaces it.
        public var socketMaxAge: TimeAmount

        /// Creates a configuration; the defaults suit resolvers on the district's network.
        public init(
            upstreams: [SocketAddress], timeout: TimeAmount = .milliseconds(1500), attempts: Int = 3,
            tcpTimeout: TimeAmount = .seconds(3), maxInFlight: Int = 4096, failurePenalty: TimeAmount = .seconds(10),
            socketsPerUpstream: Int = 8, socketMaxUses: Int = 2048, socketMaxAge: TimeAmount = .seconds(60)
        ) {
            self.upstreams = upstreams
            self.timeout = timeout
            self.attempts = attempts
            self.tcpTimeout = tcpTimeout
            self.maxInFlight = maxInFlight
            self.failurePenalty = failurePenalty
            self.socketsPerUpstream = socketsPerUpstream
            self.socketMaxUses = socketMaxUses
            self.socketMaxAge = socketMaxAge
        }
    }
}
