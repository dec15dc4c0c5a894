import StewardDNSWire
import StewardPolicy

/// What of an upstream's answer the policy decides besides the question, and which records reach
/// a client at all.
extension DNSResourceRecord {
    /// The names this record points a client to: CNAME, DNAME, NS and PTR targets, MX exchanges,
    /// SRV targets, and an SVCB or HTTPS record's target (RFC 9460) unless it is the root.
    var decidedTargets: [DNSName] {
        if let name = rdata.pointedName { return [name] }
        guard let binding = serviceBinding, !binding.targetIsRoot,
            let target = try? DNSName(wireBytes: binding.targetWire)
        else { return [] }
        return [target]
    }

    /// The addresses this record gives a client: an A or AAAA record's, an SVCB or HTTPS record's
    /// `ipv4hint` and `ipv6hint` (a client may connect to a hint without asking for it).
    var decidedAddresses: [IPAddress] {
        if let v4 = ipv4 { return [IPAddress(ipv4: v4.value)] }
        if let v6 = ipv6 { return [IPAddress(high: v6.high, low: v6.low)] }
        guard let binding = serviceBinding else { return [] }
        return binding.ipv4Hints.map { IPAddress(ipv4: $0) } + binding.ipv6Hints.map { IPAddress(high: $0.high, low: $0.low) }
    }

    /// An SVCB or HTTPS record's data read for the policy.
    var serviceBinding: DNSServiceBinding? {
        guard type == .SVCB || type == .HTTPS, case .opaque(let bytes) = rdata else { return nil }
        return DNSServiceBinding(rdata: bytes)
    }
}

extension DNSMessage {
    /// Authority records a stub client can use from a recursive resolver: the SOA of a negative
    /// answer and the DNSSEC records that prove it (RFC 2308, RFC 4035 §3.1.3).
    static let keptAuthorityTypes: Set<DNSRecordType> = [.SOA, .NSEC, .NSEC3, .RRSIG]

    /// The message as Steward passes it on: the answer section whole (decided record by record),
    /// the authority section down to `keptAuthorityTypes`, no additional records (glue and hints
    /// a stub never needs, which could carry a blocked name's address past the filter). As unbound
    /// answers with its default `minimal-responses: yes`.
    var minimal: DNSMessage {
        guard !additionals.isEmpty || authorities.contains(where: { !Self.keptAuthorityTypes.contains($0.type) }) else {
            return self
        }
        var message = self
        message.authorities = authorities.filter { Self.keptAuthorityTypes.contains($0.type) }
        message.additionals = []
        return message
    }

    /// The answer section cut down to what answers `question`: records owned by its name or by a
    /// name the CNAME chain from it reaches, and DNAME records above one of those (RFC 2181 §5.4.1,
    /// as unbound's scrubber). Records for other names could poison a cache downstream (a stub's, a
    /// dnsmasq's) with data nobody asked for. An SVCB or HTTPS record whose data does not read as
    /// RFC 9460 says is dropped too: its target and hints cannot be decided, so it is never passed
    /// on undecided.
    func scrubbed(for question: DNSQuestion) -> DNSMessage {
        var chain = [question.name]
        var kept = [Bool](repeating: false, count: answers.count)
        var grew = true
        // Chains may come in any order: each pass takes what the chain so far reaches.
        while grew {
            grew = false
            for (index, record) in answers.enumerated() where !kept[index] {
                let owned = chain.contains(record.name)
                let above = record.type == .DNAME && chain.contains { $0 != record.name && $0.isSubdomain(of: record.name) }
                guard owned || above else { continue }
                kept[index] = true
                grew = true
                if owned, let target = record.cnameTarget, !chain.contains(target) { chain.append(target) }
            }
        }
        let unreadable = { (record: DNSResourceRecord) in
            (record.type == .SVCB || record.type == .HTTPS) && record.serviceBinding == nil
        }
        guard kept.contains(false) || answers.contains(where: unreadable) else { return self }
        var message = self
        message.answers = zip(answers, kept).compactMap { record, keep in keep && !unreadable(record) ? record : nil }
        return message
    }

    /// DNSSEC records (RRSIG, NSEC, NSEC3) a client that did not set DO never gets (RFC 3225 §3,
    /// RFC 4035 §3.2.1), unless it asked for that type itself. An upstream asked without DO sends
    /// none; one that does anyway is cut back, as unbound does.
    static let dnssecTypes: Set<DNSRecordType> = [.RRSIG, .NSEC, .NSEC3]

    /// The message without `dnssecTypes` records other than `asked`'s, for a client without DO.
    func withoutDNSSEC(asked: DNSRecordType) -> DNSMessage {
        func unasked(_ record: DNSResourceRecord) -> Bool {
            Self.dnssecTypes.contains(record.type) && record.type != asked
        }
        guard answers.contains(where: unasked) || authorities.contains(where: unasked) else { return self }
        var message = self
        message.answers.removeAll(where: unasked)
        message.authorities.removeAll(where: unasked)
        return message
    }
}
