import Foundation
import NIOCore
import StewardActivity
import StewardDNSWire
import StewardPolicy

/// The filtering resolver's logic, one query at a time, independent of the transport. The stages,
/// in the order that matters:
/// 1. parse (malformed with an ID → FORMERR; without → dropped);
/// 2. only configured client networks are served (others → REFUSED: never an open resolver), then
///    the per-client rate limit;
/// 3. identity (session → person, else the zone's default group) and the policy decision — before
///    the cache, because the same name has different answers for different people;
/// 4. bypass closers (DoH canary, Private Relay), then blocks, then SafeSearch rewrites;
/// 5. the cache, else the upstreams;
/// 6. the answer's CNAME chain and addresses are decided too (an allowed name that aliases a
///    blocked one is blocked), then the response is fitted to the client's size (TC=1).
/// Every query becomes an activity event.
public final class DNSFilter: Sendable {
    public struct Configuration: Sendable {
        /// Networks served besides every zone's networks.
        public var clients: [IPNetwork] = []
        public var blockAnswer: DNSBlockAnswer = .nxdomain
        public var blockPageIPv4: IPAddress?
        public var blockPageIPv6: IPAddress?
        public var syntheticTTL: UInt32 = 60
        public var blockPrivateRelay = true
        public var rateLimitQueriesPerSecond = 0
        public var rateLimitBurst = 0
        /// The captive portal's addresses: what a client in a sign-in zone gets for every web name
        /// until someone signs in on it.
        public var portalIPv4: IPAddress?
        public var portalIPv6: IPAddress?
        /// Names (and their subdomains) resolved normally before sign-in.
        public var allowBeforeSignIn: Set<String> = []

        public init() {}
    }

    public enum Transport: Sendable { case udp, tcp }

    /// What to do with a packet.
    public enum Outcome {
        case respond(ByteBuffer)
        case drop
        /// The answer comes later (upstream); nil means drop.
        case later(EventLoopFuture<ByteBuffer?>)
    }

    let configuration: Configuration
    let answers: SyntheticAnswers
    /// Answers that lead to the portal, with TTL 0 so nothing keeps them once the person signs in.
    let portalAnswers: SyntheticAnswers
    let identities: ClientIdentities
    let cache: (any DNSAnswerCache)?
    /// `cache` when it is a `DNSCache`, whose encoded entries the fast path serves hits from.
    let wireCache: DNSCache?
    let upstream: any DNSUpstream
    /// `upstream` when it is a `DNSForwarder`, which the batched loop's relay forwards through.
    let forwarder: DNSForwarder?
    let recorder: ActivityRecorder?
    let limiter: RateLimiter?
    public let metrics = DNSMetrics()
    /// The synthetic SOA record after its owner name, for the fast path.
    let soaTail: [UInt8]

    static let canaryNames: Set<String> = ["use-application-dns.net"]
    static let privateRelayNames: Set<String> = ["mask.icloud.com", "mask-h2.icloud.com", "mask-api.icloud.com"]

    public init(
        configuration: Configuration, identities: ClientIdentities, cache: (any DNSAnswerCache)?,
        upstream: any DNSUpstream, recorder: ActivityRecorder?
    ) {
        self.configuration = configuration
        self.identities = identities
        self.cache = cache
        self.wireCache = cache as? DNSCache
        self.upstream = upstream
        self.forwarder = upstream as? DNSForwarder
        self.recorder = recorder
        limiter =
            configuration.rateLimitQueriesPerSecond > 0
            ? RateLimiter(queriesPerSecond: configuration.rateLimitQueriesPerSecond, burst: configuration.rateLimitBurst)
            : nil
        soaTail = Self.soaTail(ttl: configuration.syntheticTTL)
        answers = SyntheticAnswers(
            blockAnswer: configuration.blockAnswer,
            blockPageIPv4: configuration.blockPageIPv4?.ipv4.map(DNSIPv4Address.init),
            blockPageIPv6: configuration.blockPageIPv6.flatMap { $0.isIPv4 ? nil : DNSIPv6Address(high: $0.high, low: $0.low) },
            ttl: configuration.syntheticTTL)
        let portal = configuration.portalIPv4 != nil || configuration.portalIPv6 != nil
        portalAnswers = SyntheticAnswers(
            blockAnswer: portal ? .blockPage : .nxdomain,
            blockPageIPv4: configuration.portalIPv4?.ipv4.map(DNSIPv4Address.init),
            blockPageIPv6: configuration.portalIPv6.flatMap { $0.isIPv4 ? nil : DNSIPv6Address(high: $0.high, low: $0.low) },
            ttl: 0)
    }

    /// Whether `name` may be resolved before sign-in.
    func allowedBeforeSignIn(_ name: String) -> Bool {
        if configuration.allowBeforeSignIn.contains(name) { return true }
        var rest = Substring(name)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            if configuration.allowBeforeSignIn.contains(String(rest)) { return true }
        }
        return false
    }

    /// A query in flight: what the event needs once the answer is known.
    struct Context {
        let query: DNSMessage
        let question: DNSQuestion
        let client: IPAddress
        let subject: Subject
        let zone: Int32
        let name: String
        let snapshot: PolicySnapshot
        let started: NIODeadline
        let now: Int64
        let maxSize: Int
    }

    public func handle(
        _ packet: ByteBuffer, from client: IPAddress, transport: Transport, snapshot: PolicySnapshot,
        eventLoop: any EventLoop
    ) -> Outcome {
        handle(packet, from: client, transport: transport, snapshot: snapshot, eventLoop: eventLoop, fastPath: true)
    }

    /// `handle`, with the fast path skipped when the caller has just tried it (`answerFast`), and a
    /// forwarded query going on from the relay's first attempt (`seed`, see `DNSUDPRelay`).
    func handle(
        _ packet: ByteBuffer, from client: IPAddress, transport: Transport, snapshot: PolicySnapshot,
        eventLoop: any EventLoop, fastPath: Bool, seed: UpstreamSeed? = nil
    ) -> Outcome {
        let started = NIODeadline.now()
        // The client's zone, looked up once for both paths.
        let (zone, mustSignIn) = admission(of: client, snapshot: snapshot)
        if fastPath, !mustSignIn, zone >= 0, limiter == nil, let preview = DNSQueryPreview(packet) {
            var response = ByteBufferAllocator().buffer(capacity: 512)
            if fastAnswer(
                packet, preview: preview, client: client, zone: zone, transport: transport, snapshot: snapshot,
                started: started, into: &response
            ).answered {
                return .respond(response)
            }
        }
        let query: DNSMessage
        switch DNSMessage.parseQuery(packet) {
        case .drop:
            DNSMetrics.bump(metrics.dropped)
            return .drop
        case .malformed(let id, let rd, _):
            DNSMetrics.bump(metrics.formatErrors)
            return .respond(DNSMessage.formatError(id: id, rd: rd).encoded(maxSize: 512))
        case .query(let parsed):
            query = parsed
        }
        let maxSize = transport == .udp ? query.maxResponseSize : Int(UInt16.max)

        guard zone >= 0 || configuration.clients.contains(where: { $0.contains(client) }) else {
            DNSMetrics.bump(metrics.refused)
            return .respond(query.makeResponse(rcode: .refused).encoded(maxSize: maxSize))
        }
        if let limiter, !limiter.allow(client, nanoseconds: started.uptimeNanoseconds) {
            DNSMetrics.bump(metrics.rateLimited)
            return .drop
        }
        // Any other opcode, with or without a question (RFC 8906 3.1.5: a header-only NOTIFY,
        // UPDATE or DSO message gets NOTIMP too, not silence).
        guard query.header.opcode == .query else {
            return .respond(query.makeResponse(rcode: .notImp).encoded(maxSize: maxSize))
        }
        // (`parseQuery` lets a standard query through with exactly one question.)
        guard let question = query.questions.first else { return .drop }
        if let edns = query.edns, edns.version > 0 {
            // RFC 6891 6.1.3: only version 0 is implemented.
            return .respond(query.makeResponse(rcode: .badVers).encoded(maxSize: maxSize))
        }
        // Only class IN is served. QCLASS ANY (255) too is refused: the upstreams districts use
        // answer it inconsistently or not at all, and a client would wait for a SERVFAIL.
        guard question.class == .IN else {
            DNSMetrics.bump(metrics.refused)
            return .respond(query.makeResponse(rcode: .refused).encoded(maxSize: maxSize))
        }

        let now = Int64(Date().timeIntervalSince1970)
        let subject = identities.subject(at: client, zone: zone, snapshot: snapshot, now: now).subject
        let context = Context(
            query: query, question: question, client: client, subject: subject, zone: zone,
            name: question.name.lowercasedText, snapshot: snapshot, started: started, now: now, maxSize: maxSize)

        if mustSignIn, !allowedBeforeSignIn(context.name) {
            DNSMetrics.bump(metrics.portalAnswers)
            let decision = Decision(
                action: .block, cause: .signIn, rule: -1, categories: BitSet512(), group: subject.primaryGroup)
            return .respond(finish(portalAnswers.blocked(for: query, question: question), decision, context))
        }

        // Bypass closers come first: no policy may allow them.
        if Self.canaryNames.contains(context.name)
            || (configuration.blockPrivateRelay && Self.privateRelayNames.contains(context.name))
        {
            let decision = Decision(
                action: .block, cause: .bypassCanary, rule: -1, categories: BitSet512(), group: subject.primaryGroup)
            return .respond(finish(answers.nxdomain(for: query, question: question), decision, context))
        }

        let decision = question.name.withUTF8Text { name in
            snapshot.decide(name: name, subject: subject, zone: zone, at: now)
        }
        switch decision.action {
        case .block:
            return .respond(finish(answers.blocked(for: query, question: question), decision, context))
        case .warn where configuration.blockPageIPv4 != nil || configuration.blockPageIPv6 != nil:
            // A warning needs a page to click through; the block page serves it.
            let page = SyntheticAnswers(
                blockAnswer: .blockPage, blockPageIPv4: answers.blockPageIPv4, blockPageIPv6: answers.blockPageIPv6,
                ttl: answers.ttl)
            return .respond(finish(page.blocked(for: query, question: question), decision, context))
        case .allow, .flag, .warn:
            break
        }

        if question.type == .ANY {
            return .respond(finish(answers.minimalAny(for: query, question: question), decision, context))
        }

        if let target = SafeSearch.target(for: context.name, subject: subject) {
            return rewrite(to: target, decision: decision, context: context, eventLoop: eventLoop)
        }

        if let cache, let cached = cache.cachedResponse(to: query, question: question, now: started) {
            DNSMetrics.bump(metrics.cacheHits)
            let (response, final) = inspect(cached, decision: decision, context: context)
            return .respond(finish(response, final, context, cacheHit: true))
        }
        let forwarded: EventLoopFuture<ForwardedAnswer>
        if let seed, let forwarder {
            // The relay counted this miss already.
            forwarded = forwarder.forward(query, on: eventLoop, seed: seed)
        } else {
            DNSMetrics.bump(metrics.cacheMisses)
            forwarded = upstream.forward(query, on: eventLoop)
        }
        let future = forwarded.map { [self] answer -> ByteBuffer? in
            self.answer(forwarded: answer.message, upstream: answer.upstream, decision: decision, context: context)
        }.recover { [self] _ in
            self.answerFailed(decision: decision, context: context)
        }
        return .later(future)
    }

    /// SERVFAIL for a query that no upstream answered or that could not be forwarded (RFC 1035
    /// 4.1.1: "unable to process this query"), counted and recorded.
    func answerFailed(decision: Decision, context: Context) -> ByteBuffer {
        DNSMetrics.bump(metrics.upstreamFailures)
        return finish(context.query.makeResponse(rcode: .servFail), decision, context)
    }

    /// The client's answer from an upstream's (already carrying the client's ID and question, see
    /// `UpstreamQuery.clientResponse`): counted, cached, its other names and addresses decided
    /// (`inspect`), encoded for the client and recorded. The general path ends here, and so does
    /// the relay whenever `answer(relayed:…)` declines.
    func answer(forwarded message: DNSMessage, upstream: Int, decision: Decision, context: Context) -> ByteBuffer {
        noteUpstream(started: context.started)
        // Glue and other records outside the answer are not passed on (`DNSMessage.minimal`).
        var message = message.minimal.scrubbed(for: context.question)
        if message.rcode == .servFail {
            // A failure carries no data worth passing on (a SOA with a wild TTL, say): bare, as unbound.
            message.answers = []
            message.authorities = []
        }
        if !(context.query.edns?.dnssecOK ?? false) { message = message.withoutDNSSEC(asked: context.question.type) }
        cache?.remember(message, to: context.query, question: context.question, now: .now())
        let (response, final) = inspect(message, decision: decision, context: context)
        return finish(response, final, context, upstream: Int16(upstream))
    }

    /// How the relay reads upstream answers as cache entries (`DNSCachedWire.fromUpstream`): the
    /// cache's admission, or nil when answers must go the general way (a cache that is not a
    /// `DNSCache` keeps messages, not encoded sections).
    var relayAdmission: DNSCacheAdmission? {
        if let wireCache { return wireCache.admission }
        return cache == nil ? DNSCacheAdmission.uncached : nil
    }

    /// The relay's answer from the upstream's datagram read as a cache entry (already stored, if
    /// it may be): the client gets exactly what the cache hit that follows will give it — the
    /// policy's checks of the answer's other names and addresses, the client's header and question,
    /// our OPT — written at the end of `response`, counted and recorded as `answer(forwarded:…)`
    /// does. False (nothing written or counted) when the policy blocks something in it or it does
    /// not fit the client: the general way then answers.
    func answer(
        relayed wire: DNSCachedWire, upstream: Int, miss: DNSFilterMiss, packet: ByteBuffer,
        into response: inout ByteBuffer
    ) -> Bool {
        guard
            serve(
                wire, elapsed: 0, packet: packet, preview: miss.preview, transport: .udp, snapshot: miss.snapshot,
                subject: miss.subject, zone: miss.zone, now: miss.now, into: &response)
        else { return false }
        noteUpstream(started: miss.started)
        count(miss.decision)
        record(
            miss.decision, responseCode: wire.rcode, client: miss.client, subject: miss.subject,
            name: miss.text ?? miss.name.lowercasedText, type: miss.preview.qtype, snapshot: miss.snapshot,
            now: miss.now, started: miss.started, cacheHit: false, upstream: Int16(upstream))
        return true
    }

    /// The context the general path would make for a query the fast path found missing from the
    /// cache (`FastOutcome.miss`), for the relay; nil if `packet` no longer holds the query.
    func context(of miss: DNSFilterMiss, packet: ByteBuffer) -> Context? {
        guard let query = miss.preview.query(in: packet) else { return nil }
        return Context(
            query: query, question: query.questions[0], client: miss.client, subject: miss.subject, zone: miss.zone,
            name: miss.text ?? miss.name.lowercasedText, snapshot: miss.snapshot, started: miss.started, now: miss.now,
            maxSize: miss.preview.maxResponseSize)
    }

    private func noteUpstream(started: NIODeadline) {
        DNSMetrics.bump(metrics.upstreamAnswers)
        let micros = (NIODeadline.now() - started).nanoseconds / 1000
        DNSMetrics.bump(metrics.upstreamMicros, by: UInt64(max(0, micros)))
    }
}
