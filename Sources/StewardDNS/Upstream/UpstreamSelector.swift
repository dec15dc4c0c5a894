import NIOCore
import Synchronization

/// Chooses the order in which a query tries the upstreams: a round-robin starting point spreads
/// the load, and upstreams that recently timed out or failed at the socket level are put last for
/// `penalty`, so that one dead upstream does not cost every query a timeout. An upstream leaves
/// the penalty box when the time is up or as soon as it answers.
final class UpstreamSelector: Sendable {
    private struct State {
        var next = 0
        /// Per upstream, the uptime in nanoseconds until which it is tried last.
        var penalizedUntil: [UInt64]
    }

    private let count: Int
    /// The order when there is at most one upstream (made once: most districts forward to one).
    private let only: [Int]
    private let penalty: TimeAmount
    private let state: Mutex<State>

    init(count: Int, penalty: TimeAmount) {
        self.count = count
        only = Array(0..<min(count, 1))
        self.penalty = penalty
        self.state = Mutex(State(penalizedUntil: Array(repeating: 0, count: count)))
    }

    /// All upstream indices, healthy ones first, each group in round-robin order.
    func order(now: NIODeadline) -> [Int] {
        guard count > 1 else { return only }
        let (start, penalized) = state.withLock { state in
            let start = state.next
            state.next = (state.next + 1) % count
            return (start, state.penalizedUntil)
        }
        let rotated = (0..<count).map { (start + $0) % count }
        let nowNanos = now.uptimeNanoseconds
        return rotated.filter { penalized[$0] <= nowNanos } + rotated.filter { penalized[$0] > nowNanos }
    }

    /// The upstream answered: take it out of the penalty box.
    func succeeded(_ upstream: Int) {
        state.withLock { $0.penalizedUntil[upstream] = 0 }
    }

    /// The upstream timed out or failed: try it last for a while.
    func failed(_ upstream: Int, now: NIODeadline) {
        let until = (now + penalty).uptimeNanoseconds
        state.withLock { $0.penalizedUntil[upstream] = until }
    }
}
