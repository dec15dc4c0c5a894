/// Building responses to queries (RFC 1035 4.1.1, RFC 6891 6.2, RFC 4035 3.2).
extension DNSMessage {
    /// Largest response this query's sender accepts over UDP: 512 without EDNS, otherwise its
    /// advertised payload size, raised to 512 and capped at 4096 (RFC 6891 6.2.3, 6.2.5).
    public var maxResponseSize: Int {
        Self.maxResponseSize(udpPayloadSize: edns?.udpPayloadSize)
    }

    /// `maxResponseSize` for an advertised payload size (`nil`: no EDNS).
    public static func maxResponseSize(udpPayloadSize: UInt16?) -> Int {
        guard let size = udpPayloadSize else { return 512 }
        return max(512, min(Int(size), 4096))
    }

    /// A response to this query with no records yet: same ID, opcode, RD and CD bits (RFC 4035
    /// 3.2.2) and questions (letter case kept); QR and RA set; AA, TC, AD clear. If the query had an
    /// OPT record the response gets one advertising `udpPayloadSize`, version 0, no options, and
    /// the query's DO bit (RFC 3225 3). An `rcode` above 15 needs that OPT record; without one only
    /// its low 4 bits are sent.
    public func makeResponse(
        rcode: DNSResponseCode = .noError, udpPayloadSize: UInt16 = EDNS.defaultUDPPayloadSize
    ) -> DNSMessage {
        let query = header
        var response = DNSMessage(
            header: DNSHeader(id: query.id, qr: true, opcode: query.opcode, rd: query.rd, ra: true, cd: query.cd),
            questions: questions)
        if let edns {
            response.edns = EDNS(udpPayloadSize: udpPayloadSize, dnssecOK: edns.dnssecOK)
        }
        response.rcode = rcode
        return response
    }

    /// A header-only FORMERR response (12 octets) for a message that could not be parsed.
    public static func formatError(id: UInt16, rd: Bool) -> DNSMessage {
        DNSMessage(header: DNSHeader(id: id, qr: true, rd: rd, ra: true, rcode: .formErr))
    }

    /// Appends a record to the answer section.
    public mutating func addAnswer(_ record: DNSResourceRecord) {
        answers.append(record)
    }

    /// Appends records to the answer section.
    public mutating func addAnswers(_ records: some Sequence<DNSResourceRecord>) {
        answers.append(contentsOf: records)
    }

    /// Appends a record to the authority section (e.g. the zone's SOA in a negative answer).
    public mutating func addAuthority(_ record: DNSResourceRecord) {
        authorities.append(record)
    }

    /// Appends a record to the additional section.
    public mutating func addAdditional(_ record: DNSResourceRecord) {
        additionals.append(record)
    }
}
