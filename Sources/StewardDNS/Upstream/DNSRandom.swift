#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Random numbers for upstream query IDs and socket choices, which must be unpredictable (RFC 5452
/// 9.2): the C library's `arc4random_buf`, a ChaCha20 generator kept per thread and seeded from the
/// kernel (glibc 2.36 and later, and Darwin), so a forwarded query costs no `getrandom` system call
/// (`SystemRandomNumberGenerator` makes one for every number).
struct DNSRandom: RandomNumberGenerator {
    mutating func next() -> UInt64 {
        var value: UInt64 = 0
        #if canImport(Glibc) || canImport(Darwin)
            arc4random_buf(&value, MemoryLayout<UInt64>.size)
        #else
            var system = SystemRandomNumberGenerator()
            value = system.next()
        #endif
        return value
    }
}
