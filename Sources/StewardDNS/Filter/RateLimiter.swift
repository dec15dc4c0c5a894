import StewardPolicy
import Synchronization

/// Per-client token buckets: `rate` queries a second with bursts up to `burst`. A client over its
/// budget is not answered, so Steward cannot be used to flood a network.
public final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var last: UInt64
    }

    private let buckets = Mutex<[IPAddress: Bucket]>([:])
    private let rate: Double
    private let burst: Double
    /// Buckets kept before idle ones are pruned.
    private let maxClients = 200_000

    public init(queriesPerSecond: Int, burst: Int) {
        rate = Double(queriesPerSecond)
        self.burst = Double(max(burst, 1))
    }

    /// Whether `client` may be answered now (`nanoseconds` of a monotonic clock).
    public func allow(_ client: IPAddress, nanoseconds now: UInt64) -> Bool {
        buckets.withLock { buckets in
            var bucket = buckets[client] ?? Bucket(tokens: burst, last: now)
            let elapsed = Double(now &- bucket.last) / 1e9
            bucket.tokens = min(burst, bucket.tokens + elapsed * rate)
            bucket.last = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            if buckets.count >= maxClients, buckets[client] == nil {
                // Drop buckets that have refilled completely: they carry no state.
                buckets = buckets.filter { Double(now &- $0.value.last) / 1e9 * rate + $0.value.tokens < burst }
            }
            buckets[client] = bucket
            return allowed
        }
    }
}
