import NIOCore
import StewardActivity
import StewardDNSWire
import StewardPolicy

/// The fast path's cache hit: a simple query for an allowed name whose answer is cached is
/// answered by copying the cached sections (`DNSCachedWire`) after the query's header and
/// question. It gives the answer the general path gives — same decision, same checks of the
/// answer's other names and addresses against the asking client's policy, same TTLs, same event —
/// and declines (nothing written: the general path runs) whenever the general path would do anything
/// else: a warning with a block page, a SafeSearch rewrite, a cached answer that the policy blocks,
/// or one that does not fit the client's size. When nothing is cached (or the cached answer has no
/// encoded form) it reports a `.miss`: the general path would forward the query as it is.
extension DNSFilter {
    func cachedAnswer(
        _ packet: ByteBuffer, preview: DNSQueryPreview, client: IPAddress, zone: Int32, transport: Transport,
        snapshot: PolicySnapshot, subject: Subject, decision: Decision, now: Int64, started: NIODeadline,
        into response: inout ByteBuffer
    ) -> FastOutcome {
        guard cache == nil || wireCache != nil else { return .declined }
        if decision.action == .warn, configuration.blockPageIPv4 != nil || configuration.blockPageIPv6 != nil {
            return .declined
        }
        // The key straight from the packet: the name lower-cased as the cache keys it.
        guard let lowered = preview.lowercasedNameWire(in: packet), let name = try? DNSName(wireBytes: lowered) else {
            return .declined
        }
        // SafeSearch and the activity event both need the name as text (`lowercasedText`, as on the
        // general path); only make it when used.
        var text: String? = nil
        if subject.safeSearch || subject.youTube != .off {
            let lowered = name.description
            if SafeSearch.target(for: lowered, subject: subject) != nil { return .declined }
            text = lowered
        }
        let key = DNSCacheKey(
            lowercasedWire: lowered, type: preview.qtype, class: preview.qclass,
            variant: DNSCacheKey.variant(checkingDisabled: preview.cd, dnssecOK: preview.opt?.dnssecOK ?? false))
        guard let wireCache, let (wire, elapsed) = wireCache.wireLookup(key, now: started) else {
            return .miss(
                DNSFilterMiss(
                    preview: preview, client: client, zone: zone, subject: subject, decision: decision,
                    snapshot: snapshot, now: now, started: started, name: name, text: text, key: key))
        }
        guard
            serve(
                wire, elapsed: elapsed, packet: packet, preview: preview, transport: transport, snapshot: snapshot,
                subject: subject, zone: zone, now: now, into: &response)
        else { return .declined }
        DNSMetrics.bump(metrics.cacheHits)
        count(decision)
        record(
            decision, responseCode: wire.rcode, client: client, subject: subject, name: text ?? name.description,
            type: preview.qtype, snapshot: snapshot, now: now, started: started, cacheHit: true, upstream: -1)
        return .answered
    }
}

extension DNSFilter {
    /// Writes `wire`, `elapsed` seconds after it was stored, as the answer to the simple query
    /// `preview` of `packet`, if the asking client's policy allows every other name and address in
    /// it (as `inspect` decides them) and, over UDP, it fits the client's size; false (nothing
    /// written) otherwise. Cache hits and relayed answers are both served here.
    func serve(
        _ wire: DNSCachedWire, elapsed: UInt32, packet: ByteBuffer, preview: DNSQueryPreview, transport: Transport,
        snapshot: PolicySnapshot, subject: Subject, zone: Int32, now: Int64, into response: inout ByteBuffer
    ) -> Bool {
        let allowed = wire.forEachCheck { check in
            switch check {
            case .name(let name):
                let aliased = name.withUTF8Text { bytes in
                    snapshot.decide(name: bytes, subject: subject, zone: zone, at: now)
                }
                return aliased.action != .block
            case .address(let address):
                let categories = snapshot.lists.listedCategories(ofAddress: address)
                return categories.isEmpty
                    || snapshot.decide(categories: categories, subject: subject, zone: zone, at: now, file: nil).action
                        != .block
            }
        }
        guard allowed else { return false }
        let questionEnd = preview.nameRange.upperBound + 4 - packet.readerIndex
        let size = wire.responseSize(questionEnd: questionEnd, withOPT: preview.opt != nil)
        if transport == .udp, size > preview.maxResponseSize { return false }
        response.reserveCapacity(minimumWritableBytes: size)
        wire.write(into: &response, packet: packet, preview: preview, elapsed: elapsed)
        return true
    }
}

/// What the fast path learnt about a query it could not answer from the cache (`FastOutcome.miss`).
struct DNSFilterMiss {
    let preview: DNSQueryPreview
    let client: IPAddress
    let zone: Int32
    let subject: Subject
    let decision: Decision
    let snapshot: PolicySnapshot
    /// Seconds since the epoch, for the policy and the event.
    let now: Int64
    let started: NIODeadline
    /// The question name, lower-cased.
    let name: DNSName
    /// `name` as text, when the fast path already made it.
    let text: String?
    /// The cache's key for the question.
    let key: DNSCacheKey
}
