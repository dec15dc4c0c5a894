import NIOCore
import StewardDNSWire
import Testing

/// Builds a query-like packet: ID 0x0102, RD, the given counts, then `body` (hex).
func packet(qd: UInt16 = 1, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0, _ body: String) -> [UInt8] {
    var header = ByteBuffer()
    DNSHeader(id: 0x0102, flags: 0x0100, questionCount: qd, answerCount: an, authorityCount: ns, additionalCount: ar)
        .encode(into: &header)
    return header.allReadableBytes + bytes(hex: body)
}

/// Hex for `count` labels of `length` octets, without the root label.
func labelsHex(_ count: Int, length: Int) -> String {
    String(repeating: hex([UInt8(length)]) + String(repeating: "61", count: length), count: count)
}

/// A question for "example.com" A (13 + 4 octets, at offsets 12..<29).
let exampleQuestion = "076578616d706c6503636f6d00 0001 0001"

@Suite struct MalformedInputTests {
    /// Parses `packet`, expecting an error; also checks the reader index did not move.
    @discardableResult
    func expectParseError(
        _ packet: [UInt8], _ kind: DNSWireError.Kind, field: String, detail: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> DNSWireError? {
        var buffer = ByteBuffer(bytes: [0xEE, 0xEE] + packet)
        buffer.moveReaderIndex(forwardBy: 2)
        let error = expectWireError(kind, field: field, detail: detail, sourceLocation: sourceLocation) {
            () throws(DNSWireError) in _ = try DNSMessage(from: &buffer)
        }
        #expect(buffer.readerIndex == 2, "reader index moved", sourceLocation: sourceLocation)
        #expect(buffer.readableBytes == packet.count, sourceLocation: sourceLocation)
        return error
    }

    @Test("A header of 0 to 11 octets is truncated", arguments: 0...11)
    func truncatedHeader(length: Int) {
        expectParseError(Array(packet(exampleQuestion).prefix(length)), .truncated, field: "header")
    }

    @Test("A label length of 70 reads as a label over 63 and names the question")
    func labelOver63() {
        let error = expectParseError(packet("46" + String(repeating: "61", count: 70) + "00 0001 0001"),
            .labelTooLong, field: "question 1 name", detail: "label length 70 exceeds 63")
        #expect(error?.description == "question 1 name: label length 70 exceeds 63")
    }

    @Test("Reserved label types 0x80 and 0x40 are refused", arguments: [("80", DNSWireError.Kind.reservedLabelType), ("bf", .reservedLabelType), ("41", .labelTooLong)])
    func reservedLabelTypes(octet: String, kind: DNSWireError.Kind) {
        expectParseError(packet("03777777" + octet + "00 0001 0001"), kind, field: "question 1 name")
    }

    @Test("A name over 255 octets is refused, in the question and through pointers")
    func nameOver255() {
        expectParseError(packet(labelsHex(4, length: 63) + "00 0001 0001"), .nameTooLong, field: "question 1 name")
        // Answer 1: TXT whose RDATA holds a 193-octet name at offset 12+17+12 = 41 (opaque, not parsed).
        // Answer 2 owner: 64 + 11 octets of labels, then a pointer to it: 268 octets expanded.
        let storedName = labelsHex(3, length: 63) + "00"
        let body = exampleQuestion + "c00c 0010 0001 00000000 00c1" + storedName
            + labelsHex(1, length: 63) + labelsHex(1, length: 10) + "c029 0001 0001 00000000 0004 01020304"
        expectParseError(packet(an: 2, body), .nameTooLong, field: "answer 2 name")
    }

    @Test("A pointer to itself is a loop")
    func selfPointer() {
        expectParseError(packet("c00c 0001 0001"), .pointerLoop, field: "question 1 name")
        // Also after a label: "www" then a pointer back to the start of the same name.
        expectParseError(packet("03777777 c00c 0001 0001"), .pointerLoop, field: "question 1 name")
    }

    @Test("Two pointers pointing at each other are a loop")
    func mutualPointers() {
        // Answer 1 is TXT with RDATA "c0 2b" at offset 41; answer 2's owner at 43 points to 41,
        // which points back to 43.
        let body = exampleQuestion + "c00c 0010 0001 00000000 0002 c02b" + "c029 0001 0001 00000000 0004 01020304"
        #expect(packet(an: 2, body)[41...44] == [0xC0, 0x2B, 0xC0, 0x29])
        expectParseError(packet(an: 2, body), .pointerLoop, field: "answer 2 name")
    }

    @Test("A forward pointer is refused even when its target is a valid name")
    func forwardPointer() {
        // Question name points at offset 18, where "example.com" sits after the question.
        expectParseError(packet("c012 0001 0001 076578616d706c6503636f6d00"), .forwardPointer, field: "question 1 name")
    }

    @Test("A pointer past the end of the message is refused")
    func pointerPastEnd() {
        expectParseError(packet("c0ff 0001 0001"), .pointerOutOfBounds, field: "question 1 name")
        expectParseError(packet("ffff 0001 0001"), .pointerOutOfBounds, field: "question 1 name")
    }

    @Test("A truncated pointer, label or question is reported as truncated", arguments: [
        ("03777777c0", "question 1 name"), ("3f61626364", "question 1 name"), ("0161016201", "question 1 name"),
        ("0377777700 0001", "question 1"),
    ])
    func truncatedQuestion(body: String, field: String) {
        expectParseError(packet(body), .truncated, field: field)
    }

    @Test("Pointer chains longer than the hop limit are refused; shorter ones are followed", arguments: [
        (100, true), (DNSName.maxPointerHops - 1, true), (DNSName.maxPointerHops, false), (200, false),
    ])
    func hopLimit(chain: Int, accepted: Bool) throws {
        // Answer 1: TXT whose RDATA is "a." at 41 followed by `chain` pointers, each to the one before;
        // answer 2's owner points at the last one: `chain + 1` hops in all.
        var rdata = "016100"
        var previous = 41
        for index in 0..<chain {
            rdata += hex([0xC0 | UInt8(previous >> 8), UInt8(previous & 0xFF)])
            previous = 44 + 2 * index
        }
        let rdataLength = rdata.count / 2
        let owner = hex([0xC0 | UInt8(previous >> 8), UInt8(previous & 0xFF)])
        let body = exampleQuestion + "c00c 0010 0001 00000000" + hex([UInt8(rdataLength >> 8), UInt8(rdataLength & 0xFF)])
            + rdata + owner + "0001 0001 00000000 0004 01020304"
        if accepted {
            var buffer = ByteBuffer(bytes: packet(an: 2, body))
            let parsed = try DNSMessage(from: &buffer)
            #expect(parsed.answers.last?.name.description == "a")
        } else {
            expectParseError(packet(an: 2, body), .tooManyPointers, field: "answer 2 name")
        }
    }

    @Test("Counts larger than the packet fail before any record is read", arguments: [
        (UInt16(1), UInt16(65535), UInt16(0), UInt16(0)), (65535, 0, 0, 0), (1, 0, 0, 65535), (1, 3, 0, 0), (65535, 65535, 65535, 65535),
    ])
    func countsExceedPacket(qd: UInt16, an: UInt16, ns: UInt16, ar: UInt16) {
        // 12 + 17 + 11 = 40 octets.
        let small = packet(qd: qd, an: an, ns: ns, ar: ar, exampleQuestion + "0000000000000000000000")
        #expect(small.count == 40)
        expectParseError(small, .countExceedsData, field: "header", detail: "only 28 follow")
    }

    @Test("RDLENGTH past the end of the packet is truncated RDATA")
    func rdlengthPastEnd() {
        expectParseError(packet(an: 1, exampleQuestion + "c00c 0001 0001 00000000 0010 01020304"),
            .truncated, field: "answer 1 rdata", detail: "RDLENGTH 16 exceeds the 4 octets that remain")
        expectParseError(packet(an: 1, exampleQuestion + "c00c 0001 0001 0000"), .truncated, field: "answer 1")
    }

    @Test("Two OPT records are refused (RFC 6891 6.1.1)")
    func twoOPTRecords() {
        let opt = "00 0029 04d0 00000000 0000"
        expectParseError(packet(ar: 2, exampleQuestion + opt + opt), .duplicateOPT, field: "additional 2")
    }

    @Test("An OPT record in the answer or authority section is refused", arguments: [(UInt16(1), UInt16(0), "answer 1"), (0, 1, "authority 1")])
    func misplacedOPT(an: UInt16, ns: UInt16, field: String) {
        expectParseError(packet(an: an, ns: ns, exampleQuestion + "00 0029 04d0 00000000 0000"), .invalidOPT, field: field)
    }

    @Test("Zero and two questions parse as messages but are not valid standard queries")
    func questionCounts() throws {
        for body in [(UInt16(0), ""), (2, exampleQuestion + exampleQuestion)] {
            var buffer = ByteBuffer(bytes: packet(qd: body.0, body.1))
            let parsed = try DNSMessage(from: &buffer)
            #expect(parsed.questions.count == Int(body.0))
            guard case .malformed(let id, let rd, let error) = DNSMessage.parseQuery(ByteBuffer(bytes: packet(qd: body.0, body.1))) else {
                Issue.record("\(body.0) questions accepted as a query")
                continue
            }
            #expect(id == 0x0102)
            #expect(rd)
            #expect(error.kind == .questionCount)
            #expect(error.field == "header")
        }
    }
}
