import NIOCore
import StewardActivity
import StewardDNSWire
import StewardPolicy

/// How a blocked name is answered.
public enum DNSBlockAnswer: Sendable {
    case nxdomain, null, blockPage
}

extension DNSFilter {
    /// Decides every other name in the answer (CNAME chain owners and targets) and every address
    /// it carries: an allowed name that aliases, or resolves to, a blocked one is blocked. Answer
    /// addresses are checked against the lists' address entries only, never the built-in
    /// `ip-address` category: the client asked for a name, not an address.
    func inspect(_ response: DNSMessage, decision: Decision, context: Context) -> (DNSMessage, Decision) {
        let snapshot = context.snapshot
        for record in response.answers {
            var names = record.decidedTargets
            if record.name != context.question.name { names.append(record.name) }
            for name in names {
                let aliased = name.withUTF8Text { bytes in
                    snapshot.decide(name: bytes, subject: context.subject, zone: context.zone, at: context.now)
                }
                if aliased.action == .block {
                    return (answers.blocked(for: context.query, question: context.question), aliased)
                }
            }
            for address in record.decidedAddresses {
                let categories = snapshot.lists.listedCategories(ofAddress: address)
                if !categories.isEmpty {
                    let byAddress = snapshot.decide(
                        categories: categories, subject: context.subject, zone: context.zone, at: context.now, file: nil)
                    if byAddress.action == .block {
                        return (answers.blocked(for: context.query, question: context.question), byAddress)
                    }
                }
            }
        }
        return (response, decision)
    }

    /// SafeSearch / restricted mode: answer with a CNAME to the engine's enforcement name plus that
    /// name's records of the asked type.
    func rewrite(to target: String, decision: Decision, context: Context, eventLoop: any EventLoop) -> Outcome {
        DNSMetrics.bump(metrics.rewritten)
        guard let targetName = try? DNSName(target) else {
            return .respond(finish(context.query.makeResponse(rcode: .servFail), decision, context))
        }
        var response = context.query.makeResponse()
        response.addAnswer(.cname(context.question.name, ttl: answers.ttl, target: targetName))
        let type = context.question.type
        guard type == .A || type == .AAAA else {
            return .respond(finish(response, decision, context))
        }
        var subquery = context.query
        subquery.questions = [DNSQuestion(name: targetName, type: type, class: .IN)]
        let targetQuestion = subquery.questions[0]
        if let cache, let cached = cache.cachedResponse(to: subquery, question: targetQuestion, now: context.started) {
            response.addAnswers(cached.answers)
            return .respond(finish(response, decision, context, cacheHit: true))
        }
        let base = response
        let future = upstream.forward(subquery, on: eventLoop).map { [self] answer -> ByteBuffer? in
            cache?.remember(answer.message, to: subquery, question: targetQuestion, now: .now())
            var rewritten = base
            rewritten.addAnswers(answer.message.answers)
            return self.finish(rewritten, decision, context, upstream: Int16(answer.upstream))
        }.recover { [self] _ in
            DNSMetrics.bump(self.metrics.upstreamFailures)
            return self.finish(context.query.makeResponse(rcode: .servFail), decision, context)
        }
        return .later(future)
    }

    /// Encodes the response for the client (ID and question from the query, truncated to its
    /// size), counts it, and records the activity event.
    func finish(
        _ response: DNSMessage, _ decision: Decision, _ context: Context, cacheHit: Bool = false, upstream: Int16 = -1
    ) -> ByteBuffer {
        var message = response
        message.header.id = context.query.header.id
        message.questions = context.query.questions
        let encoded = message.encoded(maxSize: context.maxSize)
        note(decision, responseCode: message.rcode.rawValue, context, cacheHit: cacheHit, upstream: upstream)
        return encoded
    }

    /// Counts an answer and records its activity event.
    func note(
        _ decision: Decision, responseCode: UInt16, _ context: Context, cacheHit: Bool = false, upstream: Int16 = -1
    ) {
        count(decision)
        record(
            decision, responseCode: responseCode, client: context.client, subject: context.subject, name: context.name,
            type: context.question.type, snapshot: context.snapshot, now: context.now, started: context.started,
            cacheHit: cacheHit, upstream: upstream)
    }

    /// Records an answer's activity event (`name` as text, lower-cased), if there is a recorder.
    func record(
        _ decision: Decision, responseCode: UInt16, client: IPAddress, subject: Subject, name: String,
        type: DNSRecordType, snapshot: PolicySnapshot, now: Int64, started: NIODeadline, cacheHit: Bool,
        upstream: Int16
    ) {
        guard let recorder else { return }
        let elapsed = (NIODeadline.now() - started).nanoseconds / 1000
        recorder.record(
            ActivityEvent(
                time: now * 1_000_000_000, source: .dns, client: client, personID: subject.personID, name: name,
                queryType: type.rawValue, decision: decision, snapshot: snapshot, responseCode: responseCode,
                latencyMicros: UInt32(clamping: elapsed), cacheHit: cacheHit, upstream: upstream))
    }
}
