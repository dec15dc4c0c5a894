import StewardDNSWire

/// How one attempt (one query to one upstream over one transport) ended.
enum UpstreamAttemptResult: Sendable {
    /// A response that passed `UpstreamQuery.evaluate`.
    case answer(DNSMessage)
    /// No usable response.
    case failed(UpstreamAttemptFailure)
}

/// Why an attempt produced no response.
enum UpstreamAttemptFailure: Hashable, Sendable, CustomStringConvertible {
    /// Nothing acceptable arrived within the attempt's timeout.
    case timeout
    /// Only unreadable responses arrived (UDP), or the TCP response was unreadable.
    case malformed(String)
    /// A socket error: connection refused (ICMP port unreachable over UDP), reset, bind failure.
    case transport(String)

    var description: String {
        switch self {
        case .timeout: "timeout"
        case .malformed(let detail): detail
        case .transport(let detail): detail
        }
    }
}

/// Decides, for one client query, which upstream to ask next and over which transport, and when
/// to stop. It does no I/O: `UpstreamResolution` performs the actions and reports each attempt's
/// end back here.
///
/// - Attempts go through `order` (healthy upstreams first, round-robin start), wrapping around,
///   at most `attempts` times. A timeout or socket error moves to the next upstream.
/// - A truncated UDP answer (TC=1) is retried over TCP to the same upstream (RFC 7766 5, RFC 1035
///   4.2.1); the retry is part of the same attempt and does not count against `attempts`.
/// - SERVFAIL or REFUSED moves to the next upstream while attempts remain; when none remain the
///   last such answer is returned rather than an error (it is a real answer, and the client learns
///   the same). A truncated answer is never one: TC=1 tells a client to ask again over TCP,
///   which is what failed here, so a truncated answer whose TCP retry failed (or that came over
///   TCP, where nothing truncates, RFC 1035 4.1.1) is a failed attempt, and SERVFAIL follows
///   when no other attempt answers, as unbound does.
/// - When no attempt produced any answer the resolution fails: `.timeout` if every attempt timed
///   out, `.malformedResponse` if every attempt saw only unreadable responses, otherwise
///   `.allUpstreamsFailed` with the last reason.
struct UpstreamResolutionStateMachine {
    /// How an attempt talks to its upstream.
    enum Transport: Hashable, Sendable {
        case udp
        case tcp
    }

    /// What to do next.
    enum Action {
        /// Start an attempt (UDP: a new ID and a new socket; TCP: a new ID and a new connection).
        case send(upstream: Int, transport: Transport)
        /// Done: hand this response to the client.
        case succeed(DNSMessage, upstream: Int, viaTCP: Bool)
        /// Done: no answer.
        case fail(UpstreamError)
    }

    private let order: [Int]
    private let maxAttempts: Int
    private var attemptsStarted = 0
    private var current: (upstream: Int, transport: Transport)?
    private var fallback: (message: DNSMessage, upstream: Int, viaTCP: Bool)?
    private var failures: [UpstreamAttemptFailure] = []

    /// - Parameters:
    ///   - order: upstream indices in the order to try them (not empty).
    ///   - attempts: most attempts in total, at least 1.
    init(order: [Int], attempts: Int) {
        self.order = order
        self.maxAttempts = max(1, attempts)
    }

    /// The first action.
    mutating func start() -> Action {
        nextAttempt()
    }

    /// Goes on from a first UDP attempt to `order[0]` made elsewhere (by the batched loop's relay,
    /// `DNSUDPRelay`) that ended with `result`: it counts as this resolution's first attempt.
    mutating func resume(afterFirstAttempt result: UpstreamAttemptResult) -> Action {
        guard let first = order.first else { return nextAttempt() }
        attemptsStarted = 1
        current = (first, .udp)
        return attemptEnded(result)
    }

    /// The current attempt ended with `result`; returns the next action.
    mutating func attemptEnded(_ result: UpstreamAttemptResult) -> Action {
        guard let attempt = current else {
            preconditionFailure("attemptEnded(_:) without an attempt in progress")
        }
        current = nil
        switch result {
        case .answer(let message):
            if message.header.tc {
                if attempt.transport == .udp {
                    current = (attempt.upstream, .tcp)
                    return .send(upstream: attempt.upstream, transport: .tcp)
                }
                failures.append(.malformed("TC=1 on an answer over TCP"))
                return nextAttempt()
            }
            let rcode = message.rcode
            if rcode == .servFail || rcode == .refused {
                fallback = (message, attempt.upstream, attempt.transport == .tcp)
                return nextAttempt()
            }
            return .succeed(message, upstream: attempt.upstream, viaTCP: attempt.transport == .tcp)
        case .failed(let failure):
            failures.append(failure)
            return nextAttempt()
        }
    }

    private mutating func nextAttempt() -> Action {
        guard attemptsStarted < maxAttempts, !order.isEmpty else {
            if let fallback {
                return .succeed(fallback.message, upstream: fallback.upstream, viaTCP: fallback.viaTCP)
            }
            return .fail(finalError())
        }
        let upstream = order[attemptsStarted % order.count]
        attemptsStarted += 1
        current = (upstream, .udp)
        return .send(upstream: upstream, transport: .udp)
    }

    private func finalError() -> UpstreamError {
        guard let last = failures.last else {
            return .allUpstreamsFailed(lastError: "no upstreams configured")
        }
        if failures.allSatisfy({ $0 == .timeout }) {
            return .timeout
        }
        if case .malformed(let detail) = last, failures.allSatisfy({ if case .malformed = $0 { true } else { false } })
        {
            return .malformedResponse(detail)
        }
        return .allUpstreamsFailed(lastError: last.description)
    }
}
