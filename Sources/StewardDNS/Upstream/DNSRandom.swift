#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Random numbers for upstream query IDs and socket choices, which must be unpredictable (RFC 5452
/// 9.2): the kernel's generator, read 4 KiB at a time and handed out 8 bytes per number, so a
/// forwarded query costs no `getrandom` system call of its own (`SystemRandomNumberGenerator` makes
/// one for every number, and so does glibc's `arc4random`).
///
/// A class so that a copy can never hand out the same numbers twice; not `Sendable`: each owner
/// (the relay, a socket pool, a socket) keeps its own on its own thread.
final class DNSRandom: RandomNumberGenerator {
    private static let count = 512
    private let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: DNSRandom.count)
    private var index = DNSRandom.count

    init() {}

    deinit {
        buffer.deallocate()
    }

    func next() -> UInt64 {
        if index == Self.count {
            Self.fill(UnsafeMutableRawPointer(buffer), count: Self.count * 8)
            index = 0
        }
        defer { index += 1 }
        return buffer[index]
    }

    private static func fill(_ bytes: UnsafeMutableRawPointer, count: Int) {
        #if canImport(Glibc) || canImport(Darwin)
            // One getrandom(2) (or the Darwin equivalent) for the whole buffer.
            arc4random_buf(bytes, count)
        #else
            var system = SystemRandomNumberGenerator()
            for offset in stride(from: 0, to: count, by: 8) {
                bytes.storeBytes(of: system.next(), toByteOffset: offset, as: UInt64.self)
            }
        #endif
    }
}

@available(*, unavailable)
extension DNSRandom: Sendable {}
