import Foundation
import NIOCore
import StewardActivity
import StewardDNSWire
import StewardPolicy

/// The fast path for the most common decided answers: a simple query (see `DNSQueryPreview`) for a
/// name that is blocked, or a bypass canary, is decided on the name's bytes in the packet and
/// answered by writing the response straight after a copy of the query's header and question —
/// no message is parsed or built. An allowed name whose answer is cached is answered from the
/// cache's encoded form (`cachedAnswer`, DNSFilter+CacheHit.swift). Everything else takes the
/// general path; both give the same answer (the integration tests run through both).
extension DNSFilter {
    /// What the fast path did with a query.
    enum FastOutcome {
        /// Answered: the response was appended.
        case answered
        /// Nothing written: an allowed name whose answer is not cached, which the general path
        /// would forward as it is. What the fast path learnt comes with it, for a forwarder that
        /// takes it from here (the batched loop's relay, `DNSUDPRelay`).
        case miss(DNSFilterMiss)
        /// Nothing written: the general path answers it.
        case declined

        var answered: Bool {
            if case .answered = self { return true }
            return false
        }
    }

    /// The client's zone (-1: none) and whether it must sign in first: in a sign-in zone where
    /// nobody has signed in yet, every query takes the general path (the portal). The zone is
    /// checked first so that other zones never read the clock for it.
    func admission(of client: IPAddress, snapshot: PolicySnapshot) -> (zone: Int32, mustSignIn: Bool) {
        let zone = snapshot.zone(for: client)
        let mustSignIn =
            snapshot.requiresSignIn(zone: zone)
            && identities.mustSignIn(client, zone: zone, snapshot: snapshot, now: Int64(Date().timeIntervalSince1970))
        return (zone, mustSignIn)
    }

    /// The fast path alone, for a server's batched UDP loop: appends the answer to a UDP query
    /// after `response`'s writer index (`.answered`), or writes nothing, and then
    /// `handle(_:from:transport:snapshot:eventLoop:fastPath:)` must answer it with `fastPath` false
    /// unless the caller forwards a `.miss` itself. Same answers, counters and events as `handle`
    /// (it runs this same code first).
    func answerFast(
        _ packet: ByteBuffer, from client: IPAddress, snapshot: PolicySnapshot, into response: inout ByteBuffer
    ) -> FastOutcome {
        let started = NIODeadline.now()
        let (zone, mustSignIn) = admission(of: client, snapshot: snapshot)
        guard !mustSignIn, zone >= 0, limiter == nil, let preview = DNSQueryPreview(packet) else { return .declined }
        return fastAnswer(
            packet, preview: preview, client: client, zone: zone, transport: .udp, snapshot: snapshot,
            started: started, into: &response)
    }

    /// Appends the answer for a blocked or canary name, or a cached allowed one, of a simple query
    /// to `response` (`.answered`), or writes nothing and leaves it to the general path.
    func fastAnswer(
        _ packet: ByteBuffer, preview: DNSQueryPreview, client: IPAddress, zone: Int32, transport: Transport,
        snapshot: PolicySnapshot, started: NIODeadline, into response: inout ByteBuffer
    ) -> FastOutcome {
        guard preview.qclass == .IN, preview.qtype != .ANY, (preview.opt?.version ?? 0) == 0 else { return .declined }
        let now = Int64(Date().timeIntervalSince1970)
        let subject = identities.subject(at: client, zone: zone, snapshot: snapshot, now: now).subject

        let decision = preview.withDottedName(in: packet) { name -> Decision? in
            if Self.isCanary(name, privateRelay: configuration.blockPrivateRelay) {
                return Decision(
                    action: .block, cause: .bypassCanary, rule: -1, categories: BitSet512(), group: subject.primaryGroup)
            }
            return snapshot.decide(name: name, subject: subject, zone: zone, at: now)
        }
        guard let decided = decision else { return .declined }
        guard decided.action == .block else {
            return cachedAnswer(
                packet, preview: preview, client: client, zone: zone, transport: transport, snapshot: snapshot,
                subject: subject, decision: decided, now: now, started: started, into: &response)
        }
        let blocked = decided

        let questionEnd = preview.nameRange.upperBound + 4
        let base = response.writerIndex
        response.reserveCapacity(minimumWritableBytes: questionEnd - packet.readerIndex + 96)
        response.writeBytes(packet.readableBytesView[packet.readerIndex..<questionEnd])
        // Flags: QR, opcode and RD/CD kept from the query, RA set, AA/TC/AD/Z clear, RCODE set.
        let queryFlags = preview.flags
        var flags: UInt16 = 0x8000 | (queryFlags & 0x7800) | (queryFlags & 0x0100) | 0x0080 | (queryFlags & 0x0010)
        var answers: UInt16 = 0
        var authorities: UInt16 = 0
        let ttl = self.answers.ttl
        let kind = blocked.cause == .bypassCanary ? DNSBlockAnswer.nxdomain : configuration.blockAnswer
        var address: [UInt8]? = nil
        switch kind {
        case .nxdomain:
            flags |= 3
        case .null:
            if preview.qtype == .A { address = [0, 0, 0, 0] }
            if preview.qtype == .AAAA { address = Array(repeating: 0, count: 16) }
        case .blockPage:
            if preview.qtype == .A, let v4 = self.answers.blockPageIPv4 { address = v4.octets }
            if preview.qtype == .AAAA, let v6 = self.answers.blockPageIPv6 {
                address = (0..<16).map { UInt8(truncatingIfNeeded: ($0 < 8 ? v6.high : v6.low) >> UInt64(56 - ($0 % 8) * 8)) }
            }
        }
        if let address {
            // Owner: a pointer to the question name at offset 12.
            response.writeInteger(UInt16(0xC00C))
            response.writeInteger(preview.qtype.rawValue)
            response.writeInteger(UInt16(1))
            response.writeInteger(ttl)
            response.writeInteger(UInt16(address.count))
            response.writeBytes(address)
            answers = 1
        } else {
            response.writeInteger(UInt16(0xC00C))
            response.writeBytes(soaTail)
            authorities = 1
        }
        if let opt = preview.opt {
            // OPT: root owner, our payload size, DO echoed (RFC 6891 6.1.1, RFC 3225).
            response.writeInteger(UInt8(0))
            response.writeInteger(DNSRecordType.OPT.rawValue)
            response.writeInteger(EDNS.defaultUDPPayloadSize)
            response.writeInteger(UInt32(opt.dnssecOK ? 0x8000 : 0))
            response.writeInteger(UInt16(0))
        }
        response.setInteger(flags, at: base + 2)
        response.setInteger(UInt16(1), at: base + 4)
        response.setInteger(answers, at: base + 6)
        response.setInteger(authorities, at: base + 8)
        response.setInteger(UInt16(preview.opt == nil ? 0 : 1), at: base + 10)
        if transport == .udp, response.writerIndex - base > preview.maxResponseSize {
            response.moveWriterIndex(to: base)
            return .declined
        }

        count(blocked)
        if let recorder {
            let name = preview.withDottedName(in: packet) { bytes in
                String(unsafeUninitializedCapacity: bytes.count) { output in
                    for index in 0..<bytes.count {
                        let byte = bytes[index]
                        output[index] = DNSName.lower(byte)
                    }
                    return bytes.count
                }
            }
            let elapsed = (NIODeadline.now() - started).nanoseconds / 1000
            recorder.record(
                ActivityEvent(
                    time: now * 1_000_000_000, source: .dns, client: client, personID: subject.personID, name: name,
                    queryType: preview.qtype.rawValue, decision: blocked, snapshot: snapshot,
                    responseCode: flags & 0xF, latencyMicros: UInt32(clamping: elapsed)))
        }
        return .answered
    }

    /// Firefox's canary and (when configured) Apple Private Relay names, compared case-insensitively.
    static func isCanary(_ name: UnsafeRawBufferPointer, privateRelay: Bool) -> Bool {
        func equals(_ text: [UInt8]) -> Bool {
            guard name.count == text.count else { return false }
            for index in 0..<text.count {
                let byte = name[index]
                if DNSName.lower(byte) != text[index] { return false }
            }
            return true
        }
        if equals(canaryBytes) { return true }
        return privateRelay && privateRelayBytes.contains(where: equals)
    }

    static let canaryBytes = Array("use-application-dns.net".utf8)
    static let privateRelayBytes = privateRelayNames.map { Array($0.utf8) }

    /// Everything of the synthetic SOA record after its owner name: type, class, TTL, RDATA.
    static func soaTail(ttl: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        func append16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }
        func append32(_ value: UInt32) { append16(UInt16(value >> 16)); append16(UInt16(value & 0xFFFF)) }
        let mname = SyntheticAnswers.soaServer.wireBytes
        let rname = SyntheticAnswers.soaMailbox.wireBytes
        append16(DNSRecordType.SOA.rawValue)
        append16(1)
        append32(ttl)
        append16(UInt16(mname.count + rname.count + 20))
        bytes += mname
        bytes += rname
        for value: UInt32 in [1, 3600, 600, 86_400, ttl] { append32(value) }
        return bytes
    }

    func count(_ decision: Decision) {
        switch decision.action {
        case .allow: DNSMetrics.bump(metrics.allowed)
        case .block: DNSMetrics.bump(metrics.blocked)
        case .warn: DNSMetrics.bump(metrics.warned)
        case .flag: DNSMetrics.bump(metrics.flagged)
        }
    }
}
