import NIOCore
import StewardDNSWire
import Testing

/// Octets from a hex string (whitespace ignored). Records an issue for anything else.
func bytes(hex: String, sourceLocation: SourceLocation = #_sourceLocation) -> [UInt8] {
    let digits = Array(hex.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") })
    if digits.count % 2 != 0 { Issue.record("odd number of hex digits", sourceLocation: sourceLocation) }
    var result: [UInt8] = []
    var index = 0
    while index + 1 < digits.count {
        guard let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) else {
            Issue.record("bad hex at \(index)", sourceLocation: sourceLocation)
            return result
        }
        result.append(byte)
        index += 2
    }
    return result
}

func buffer(hex: String) -> ByteBuffer {
    ByteBuffer(bytes: bytes(hex: hex))
}

extension ByteBuffer {
    var allReadableBytes: [UInt8] { getBytes(at: readerIndex, length: readableBytes) ?? [] }
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// Runs `body`, which must throw a `DNSWireError` of `kind`; checks the field and detail when given.
/// Returns the error so callers can check more.
@discardableResult
func expectWireError(
    _ kind: DNSWireError.Kind, field: String? = nil, detail: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(DNSWireError) -> Void
) -> DNSWireError? {
    do throws(DNSWireError) {
        try body()
        Issue.record("expected a \(kind) error, but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        if let field { #expect(error.field == field, "\(error)", sourceLocation: sourceLocation) }
        if let detail { #expect(error.detail.contains(detail), "\(error)", sourceLocation: sourceLocation) }
        return error
    }
}

/// Parses a whole message from hex.
func message(hex: String) throws -> DNSMessage {
    var buffer = buffer(hex: hex)
    return try DNSMessage(from: &buffer)
}

/// Encodes, then parses again.
func reparse(_ message: DNSMessage, compress: Bool = true, maxSize: Int = 65535) throws -> DNSMessage {
    var buffer = ByteBuffer()
    message.encode(into: &buffer, maxSize: maxSize, compress: compress)
    return try DNSMessage(from: &buffer)
}

func name(_ text: String) -> DNSName {
    do throws(DNSWireError) {
        return try DNSName(text)
    } catch {
        Issue.record("bad test name \(text): \(error)")
        return .root
    }
}

/// SplitMix64: a tiny deterministic PRNG so the fuzz test is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
