import NIOCore
import StewardDNSWire

/// An upstream's answer to a forwarded query, ready for the client: it carries the client's ID
/// and question (letter case as the client sent it) and an OPT record only if the client sent
/// one. The server still fits it to the client's payload size.
public struct UpstreamAnswer: Sendable {
    /// The response.
    public var message: DNSMessage
    /// Index into `DNSForwarder.Configuration.upstreams` of the upstream that answered.
    public var upstream: Int
    /// Round trip of the attempt that produced the answer (from sending the UDP query to the
    /// answer, including the TCP retry when the UDP answer was truncated).
    public var latency: TimeAmount
    /// Whether the answer came over TCP (after a truncated UDP answer, RFC 7766 5).
    public var viaTCP: Bool

    /// Creates an answer.
    public init(message: DNSMessage, upstream: Int, latency: TimeAmount, viaTCP: Bool) {
        self.message = message
        self.upstream = upstream
        self.latency = latency
        self.viaTCP = viaTCP
    }
}

/// Why a query could not be forwarded. The server answers SERVFAIL to all of them (RFC 1035
/// 4.1.1: "the name server was unable to process this query"); the case says why in logs and
/// metrics.
public enum UpstreamError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No upstream answered within the per-attempt timeout, on any attempt.
    case timeout
    /// Every attempt failed, not all for the same reason; `lastError` describes the last one
    /// (e.g. a refused connection).
    case allUpstreamsFailed(lastError: String)
    /// More than `maxInFlight` queries were already waiting on upstreams: failed at once, so that
    /// a flood cannot exhaust sockets or memory.
    case overloaded
    /// Every attempt received only responses that could not be read.
    case malformedResponse(String)
    /// The query cannot be forwarded (it has no question, or more than one).
    case invalidQuery(String)

    /// A short explanation, for logs.
    public var description: String {
        switch self {
        case .timeout: "no upstream answered in time"
        case .allUpstreamsFailed(let lastError): "all upstream attempts failed; last: \(lastError)"
        case .overloaded: "too many queries waiting on upstreams"
        case .malformedResponse(let detail): "malformed upstream response: \(detail)"
        case .invalidQuery(let detail): "query cannot be forwarded: \(detail)"
        }
    }
}
