import NIOCore
import StewardDNSWire
import Testing

/// Deterministic fuzzing (fixed seed, so CI runs are reproducible): random bytes and mutations of
/// the fixtures go through every parser. Nothing may crash; a failed parse must leave the reader
/// index alone; anything that parses must re-encode to something that parses to the same message;
/// and a successful preview must agree with `parseQuery`.
@Suite struct FuzzTests {
    static let seed: UInt64 = 0x5EED_D15C_0FF1_CE00
    static let iterations = 45000

    struct Failures {
        var count = 0
        /// How many inputs got through each parser, to show the checks behind them ran.
        var parsed = 0
        var queries = 0
        var previews = 0
        mutating func record(_ what: String, _ input: [UInt8]) {
            count += 1
            if count <= 5 { Issue.record("\(what); input \(hex(input))") }
        }
    }

    static func mutate(_ input: [UInt8], using rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        let interesting: [UInt8] = [0x00, 0x01, 0x3F, 0x40, 0x7F, 0x80, 0xBF, 0xC0, 0xC0, 0xFF, 0x29, 0x0C]
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where !bytes.isEmpty:
                let index = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !bytes.isEmpty:
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
            case 2:
                bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
            case 3 where !bytes.isEmpty:
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = interesting.randomElement(using: &rng) ?? 0
            case 4 where bytes.count > 12:
                // Counts are where the interesting arithmetic is.
                bytes[Int.random(in: 4..<12, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            case 5 where bytes.count > 2:
                let start = Int.random(in: 0..<bytes.count, using: &rng)
                let end = Int.random(in: start...bytes.count, using: &rng)
                bytes.insert(contentsOf: bytes[start..<end], at: Int.random(in: 0...bytes.count, using: &rng))
            default:
                bytes.append(UInt8.random(in: 0...255, using: &rng))
            }
        }
        return bytes
    }

    static func check(_ input: [UInt8], failures: inout Failures) {
        var buffer = ByteBuffer(bytes: input)
        do throws(DNSWireError) {
            let parsed = try DNSMessage(from: &buffer)
            failures.parsed += 1
            for compress in [true, false] {
                var out = ByteBuffer()
                let dropped = parsed.encode(into: &out, compress: compress)
                do throws(DNSWireError) {
                    let again = try DNSMessage(from: &out)
                    if !dropped, again != parsed { failures.record("re-parse differs (compress \(compress))", input) }
                } catch {
                    failures.record("re-encode does not parse: \(error)", input)
                }
            }
        } catch {
            if buffer.readerIndex != 0 { failures.record("reader index moved after \(error)", input) }
        }

        let classified = DNSMessage.parseQuery(ByteBuffer(bytes: input))
        if case .query(let query) = classified {
            failures.queries += 1
            var out = query.makeResponse(rcode: .servFail).encoded(maxSize: query.maxResponseSize)
            if (try? DNSMessage(from: &out)) == nil { failures.record("response to accepted query does not parse", input) }
        }
        let previewBuffer = ByteBuffer(bytes: input)
        if let preview = DNSQueryPreview(previewBuffer) {
            failures.previews += 1
            guard case .query(let query) = classified else {
                failures.record("preview accepted what parseQuery refused: \(classified)", input)
                return
            }
            if preview.header != query.header || preview.qtype != query.questions.first?.type
                || preview.qclass != query.questions.first?.class
                || preview.name(in: previewBuffer)?.isIdentical(to: query.questions[0].name) != true
                || preview.opt?.udpPayloadSize != query.edns?.udpPayloadSize
                || preview.opt?.dnssecOK != query.edns?.dnssecOK
            {
                failures.record("preview disagrees with parseQuery", input)
            }
            if preview.query(in: previewBuffer) != query {
                failures.record("the query made from the preview differs from parseQuery's", input)
            }
            let dotted = preview.withDottedName(in: previewBuffer) { Array($0) }
            if dotted != query.questions[0].name.withUTF8Text({ Array($0) }) {
                failures.record("preview dotted name differs", input)
            }
        }

        // Standalone codecs on the same bytes, from the middle of the message.
        var middle = ByteBuffer(bytes: input)
        if middle.readableBytes > 12 {
            middle.moveReaderIndex(forwardBy: 12)
            if (try? DNSResourceRecord(from: &middle, messageStart: 0)) == nil, middle.readerIndex != 12 {
                failures.record("record reader index moved", input)
            }
        }
    }

    @Test("Random bytes never crash any parser")
    func randomBytes() {
        var rng = SplitMix64(seed: Self.seed)
        var failures = Failures()
        for _ in 0..<Self.iterations / 3 {
            let length = Int.random(in: 0...80, using: &rng)
            var input = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Make about half look like a one-question query so parsing gets past the header.
            if input.count >= 12, Bool.random(using: &rng) {
                input[2] &= 0x79
                input[4] = 0
                input[5] = 1
                for index in 6..<12 { input[index] = UInt8.random(in: 0...1, using: &rng) == 0 ? 0 : input[index] & 1 }
            }
            Self.check(input, failures: &failures)
        }
        #expect(failures.count == 0)
        #expect(failures.parsed > 0)
    }

    @Test("Mutated fixtures never crash, and whatever parses re-encodes and re-parses to the same message")
    func mutatedFixtures() {
        var rng = SplitMix64(seed: Self.seed ^ 1)
        var failures = Failures()
        let fixtures = Fixtures.all.map { bytes(hex: $0.1) }
        for iteration in 0..<(Self.iterations - Self.iterations / 3) {
            let input = Self.mutate(fixtures[iteration % fixtures.count], using: &rng)
            Self.check(input, failures: &failures)
        }
        #expect(failures.count == 0)
        // The mutations must leave plenty of valid messages, or the checks behind them test nothing.
        #expect(failures.parsed > Self.iterations / 20)
        #expect(failures.queries > Self.iterations / 50)
        #expect(failures.previews > Self.iterations / 50)
    }
}
