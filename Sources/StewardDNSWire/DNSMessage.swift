import NIOCore

/// A whole DNS message (RFC 1035 4.1): header, question, answer, authority and additional
/// sections. The OPT pseudo-record (RFC 6891 6.1.1) is not kept among `additionals` but in
/// `edns`; it is taken out on parsing and written last on encoding.
///
/// The header's four counts always describe the sections (they are recomputed when read, and
/// whatever is assigned to them is ignored); everything else in the header is stored as given.
public struct DNSMessage: Hashable, Sendable {
    private var headerFields: DNSHeader
    /// The question section (normally exactly one question).
    public var questions: [DNSQuestion]
    /// The answer section.
    public var answers: [DNSResourceRecord]
    /// The authority section.
    public var authorities: [DNSResourceRecord]
    /// The additional section, without the OPT record.
    public var additionals: [DNSResourceRecord]
    /// The OPT record, if the message has one.
    public var edns: EDNS?

    /// Creates a message.
    public init(
        header: DNSHeader, questions: [DNSQuestion] = [], answers: [DNSResourceRecord] = [],
        authorities: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = [], edns: EDNS? = nil
    ) {
        self.headerFields = Self.withoutCounts(header)
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
        self.edns = edns
    }

    /// The header, with counts computed from the sections (ARCOUNT includes the OPT record;
    /// counts above 65,535 read as 65,535).
    public var header: DNSHeader {
        get {
            var header = headerFields
            header.questionCount = UInt16(clamping: questions.count)
            header.answerCount = UInt16(clamping: answers.count)
            header.authorityCount = UInt16(clamping: authorities.count)
            header.additionalCount = UInt16(clamping: additionals.count + (edns == nil ? 0 : 1))
            return header
        }
        set { headerFields = Self.withoutCounts(newValue) }
    }

    private static func withoutCounts(_ header: DNSHeader) -> DNSHeader {
        DNSHeader(id: header.id, flags: header.flags)
    }

    /// The full 12-bit RCODE: the header's 4 bits plus the OPT record's extended RCODE. Setting a
    /// code above 15 on a message without `edns` keeps only its low 4 bits (it cannot be expressed).
    public var rcode: DNSResponseCode {
        get { DNSResponseCode(rawValue: UInt16(edns?.extendedRCode ?? 0) << 4 | headerFields.rcode.rawValue) }
        set {
            headerFields.rcode = newValue
            if var opt = edns {
                opt.extendedRCode = UInt8(truncatingIfNeeded: newValue.rawValue >> 4)
                edns = opt
            }
        }
    }

    /// The first question, if any.
    public var question: DNSQuestion? { questions.first }

    /// Parses a whole message starting at the reader index; compression pointers count from there.
    ///
    /// Parsing is bounded: counts are checked against the bytes left before anything is reserved,
    /// names obey the limits of `DNSName`, and every RDATA must match its RDLENGTH. More than one
    /// OPT record, or an OPT record outside the additional section, is an error (RFC 6891 6.1.1).
    ///
    /// Bytes after the last record the header announces are ignored (lenient, as most resolvers
    /// are); the reader index is left just after that record, so `readableBytes` shows how many
    /// there were. On a throw the reader index is unchanged.
    public init(from buffer: inout ByteBuffer) throws(DNSWireError) {
        self = try buffer.readDNS(messageStart: nil) { (reader) throws(DNSWireError) in
            try DNSMessage(reading: &reader)
        }
    }

    /// Smallest possible question (root name, QTYPE, QCLASS) and record (root name, 10 octets).
    static let minimumQuestionLength = 5
    static let minimumRecordLength = 11

    init(reading reader: inout DNSWireReader) throws(DNSWireError) {
        let header = try withContext("header") { () throws(DNSWireError) in try DNSHeader(reading: &reader) }
        let questionCount = Int(header.questionCount)
        let recordCounts = [Int(header.answerCount), Int(header.authorityCount), Int(header.additionalCount)]
        let needed = questionCount * Self.minimumQuestionLength + recordCounts.reduce(0, +) * Self.minimumRecordLength
        guard needed <= reader.remaining else {
            throw DNSWireError(
                .countExceedsData, field: "header",
                "\(questionCount) questions and \(recordCounts.map(String.init).joined(separator: "/")) records "
                    + "need at least \(needed) octets but only \(reader.remaining) follow")
        }
        self.init(header: header)
        questions.reserveCapacity(questionCount)
        for index in 0..<questionCount {
            let question = try withContext("question \(index + 1)") { () throws(DNSWireError) in
                try DNSQuestion(reading: &reader)
            }
            questions.append(question)
        }
        answers = try Self.readSection("answer", count: recordCounts[0], opt: .refuse, &reader, edns: &edns)
        authorities = try Self.readSection("authority", count: recordCounts[1], opt: .refuse, &reader, edns: &edns)
        additionals = try Self.readSection("additional", count: recordCounts[2], opt: .edns, &reader, edns: &edns)
    }

    private static func readSection(
        _ section: String, count: Int, opt: DNSResourceRecord.OPTHandling, _ reader: inout DNSWireReader,
        edns: inout EDNS?
    ) throws(DNSWireError) -> [DNSResourceRecord] {
        var records: [DNSResourceRecord] = []
        records.reserveCapacity(count)
        var number = 0
        while number < count {
            number += 1
            let parsed = try withContext("\(section) \(number)") { () throws(DNSWireError) in
                try DNSResourceRecord.read(from: &reader, opt: opt)
            }
            switch parsed {
            case .record(let record):
                records.append(record)
            case .opt(let opt):
                guard edns == nil else {
                    throw DNSWireError(
                        .duplicateOPT, field: "\(section) \(number)", "second OPT record (RFC 6891 6.1.1)")
                }
                edns = opt
            }
        }
        return records
    }
}
