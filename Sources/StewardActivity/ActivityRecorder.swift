import Synchronization

/// The hand-off between hot paths and the activity writer: a bounded queue that never blocks the
/// caller. When it is full the event is dropped and counted (the count is exported as a metric and
/// logged by the writer); at normal load nothing is dropped.
public final class ActivityRecorder: Sendable {
    private struct State {
        var events: [ActivityEvent] = []
        var dropped: UInt64 = 0
        var recorded: UInt64 = 0
    }

    private let state: Mutex<State>
    /// How many events may wait for the writer.
    public let capacity: Int

    public init(capacity: Int = 262_144) {
        precondition(capacity > 0)
        self.capacity = capacity
        state = Mutex(State())
    }

    /// Queues an event; returns false (and counts a drop) when the queue is full.
    @discardableResult
    public func record(_ event: ActivityEvent) -> Bool {
        state.withLock { state in
            guard state.events.count < capacity else {
                state.dropped &+= 1
                return false
            }
            state.events.append(event)
            state.recorded &+= 1
            return true
        }
    }

    /// Takes every waiting event (up to `limit`), oldest first.
    public func drain(limit: Int = .max) -> [ActivityEvent] {
        state.withLock { state in
            if state.events.count <= limit {
                var taken: [ActivityEvent] = []
                taken.reserveCapacity(Swift.min(capacity, 4096))
                swap(&taken, &state.events)
                return taken
            }
            let taken = Array(state.events.prefix(limit))
            state.events.removeFirst(limit)
            return taken
        }
    }

    public var pending: Int { state.withLock { $0.events.count } }
    /// Events dropped because the queue was full, since start.
    public var dropped: UInt64 { state.withLock { $0.dropped } }
    /// Events accepted, since start.
    public var recorded: UInt64 { state.withLock { $0.recorded } }
}
