import NIOCore
import StewardPolicy

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension IPAddress {
    /// The address of a socket address (IPv4-mapped IPv6 clients come out as IPv4).
    init?(_ socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let v4):
            self.init(ipv4: UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6):
            var address = v6.address.sin6_addr
            self = withUnsafeBytes(of: &address) { IPAddress(in6: $0) }
        case .unixDomainSocket:
            return nil
        }
    }

    /// The address of a `sockaddr_in` or `sockaddr_in6` as the kernel filled it in (a batched
    /// receive's source address); nil for any other family.
    init?(sockaddr storage: UnsafePointer<sockaddr_storage>) {
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            let v4 = UnsafeRawPointer(storage).load(as: sockaddr_in.self)
            self.init(ipv4: UInt32(bigEndian: v4.sin_addr.s_addr))
        case AF_INET6:
            var address = UnsafeRawPointer(storage).load(as: sockaddr_in6.self).sin6_addr
            self = withUnsafeBytes(of: &address) { IPAddress(in6: $0) }
        default:
            return nil
        }
    }

    /// The address of the 16 octets of an `in6_addr`.
    private init(in6 raw: UnsafeRawBufferPointer) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 { high = high << 8 | UInt64(raw[index]) }
        for index in 8..<16 { low = low << 8 | UInt64(raw[index]) }
        self.init(high: high, low: low)
    }
}
