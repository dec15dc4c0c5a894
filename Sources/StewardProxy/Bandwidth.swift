import NIOCore
import Synchronization

/// Priority classes (R6, "prioritise education and work-related sites"): traffic to the categories
/// the policy marks non-priority is limited to a rate per person (or per address for a client
/// nobody has identified), summed over all their connections; when `busyAbove` is set, only while
/// the proxy as a whole sends clients more than that. Education and work categories are never
/// limited (the policy's `priority` categories win over `non-priority`).
///
/// A token bucket per person: a burst of one second's worth, then the rate.
public final class BandwidthLimiter: Sendable {
    public struct Configuration: Sendable {
        /// Bytes per second per person for non-priority traffic.
        public var bytesPerSecond: Int
        /// Bytes per second to all clients above which the limit applies; 0: always.
        public var busyAbove: Int

        public init(bytesPerSecond: Int, busyAbove: Int = 0) {
            self.bytesPerSecond = bytesPerSecond
            self.busyAbove = busyAbove
        }
    }

    struct Bucket {
        var tokens: Double
        var refilled: UInt64
    }

    let configuration: Configuration
    private let buckets = Mutex<[String: Bucket]>([:])
    /// Bytes sent to clients in the current second, and whether the last whole second was busy.
    private let window = Mutex<(start: UInt64, bytes: Int, busy: Bool)>((0, 0, false))
    let limited = Atomic<UInt64>(0)

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Notes bytes sent to a client (every class), for the busy measure.
    func sent(_ bytes: Int, now: UInt64 = NIODeadline.now().uptimeNanoseconds) {
        guard configuration.busyAbove > 0 else { return }
        window.withLock { window in
            if now &- window.start >= 1_000_000_000 {
                let elapsed = Double(now &- window.start) / 1e9
                window.busy = window.start != 0 && Double(window.bytes) / max(elapsed, 1) > Double(configuration.busyAbove)
                window.start = now
                window.bytes = 0
            }
            window.bytes += bytes
        }
    }

    /// Whether the limit applies now.
    var active: Bool {
        configuration.busyAbove == 0 || window.withLock { $0.busy }
    }

    /// Takes `bytes` from `key`'s bucket; how long its reads must pause for the bucket to refill
    /// (zero when within the rate).
    func take(_ bytes: Int, for key: String, now: UInt64 = NIODeadline.now().uptimeNanoseconds) -> TimeAmount {
        let rate = Double(configuration.bytesPerSecond)
        let debt = buckets.withLock { buckets -> Double in
            var bucket = buckets[key] ?? Bucket(tokens: rate, refilled: now)
            let elapsed = Double(now &- bucket.refilled) / 1e9
            bucket.tokens = min(rate, bucket.tokens + elapsed * rate) - Double(bytes)
            bucket.refilled = now
            if buckets.count > 100_000 { buckets.removeAll(keepingCapacity: true) }
            buckets[key] = bucket
            return bucket.tokens < 0 ? -bucket.tokens : 0
        }
        guard debt > 0 else { return .zero }
        limited.add(1, ordering: .relaxed)
        return .nanoseconds(Int64(debt / rate * 1e9))
    }
}

/// First in an origin connection's pipeline, the one gate its reads pass: it counts the bytes the
/// origin sends and holds the next read back while the request it serves is rate-limited and the
/// person's bucket is empty, or while the client cannot take more (backpressure). Serves a tunnel
/// for its life, and a kept-alive HTTP connection one request at a time.
///
/// (Reads are held here rather than by switching `autoRead` off and on: switching it on reads at
/// once, past every handler, which would let a limited download run at full speed.)
final class ReadThrottle: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    let limiter: BandwidthLimiter?
    /// The bucket this connection's reads are charged to now, if its traffic is limited. A limited
    /// connection reads one buffer per wake-up (not four), so the pacing is fine-grained.
    var key: String? {
        didSet {
            guard (key == nil) != (oldValue == nil), let channel = context?.channel else { return }
            try? channel.syncOptions?.setOption(.maxMessagesPerRead, value: key == nil ? Self.messagesPerRead : UInt(1))
        }
    }
    static let messagesPerRead: UInt = 4
    /// The client side cannot take more writes: no reads until it can.
    var heldByClient = false {
        didSet { if !heldByClient { readIfHeld() } }
    }
    private var context: ChannelHandlerContext?
    private var resume: Scheduled<Void>?
    private var pendingRead = false

    init(limiter: BandwidthLimiter?) {
        self.limiter = limiter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).readableBytes
        if let limiter {
            limiter.sent(bytes)
            if let key, limiter.active {
                let pause = limiter.take(bytes, for: key)
                if pause > .zero, resume == nil {
                    let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
                    resume = context.eventLoop.scheduleTask(in: pause) {
                        let handler = loopBound.value
                        handler.resume = nil
                        handler.readIfHeld()
                    }
                }
            }
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        if resume != nil || heldByClient {
            pendingRead = true
        } else {
            context.read()
        }
    }

    private func readIfHeld() {
        guard pendingRead, resume == nil, !heldByClient, let context else { return }
        pendingRead = false
        context.read()
    }

    /// Between requests (parked in the pool): no limit, nothing held.
    func reset() {
        key = nil
        resume?.cancel()
        resume = nil
        heldByClient = false
        readIfHeld()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        resume?.cancel()
        resume = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        resume?.cancel()
        resume = nil
        context.fireChannelInactive()
    }
}
