import NIOCore
import StewardPolicy

extension IPAddress {
    /// The address of a socket address (IPv4-mapped IPv6 clients come out as IPv4).
    init?(_ socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let v4):
            self.init(ipv4: UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6):
            var address = v6.address.sin6_addr
            let (high, low) = withUnsafeBytes(of: &address) { raw -> (UInt64, UInt64) in
                var high: UInt64 = 0
                var low: UInt64 = 0
                for index in 0..<8 { high = high << 8 | UInt64(raw[index]) }
                for index in 8..<16 { low = low << 8 | UInt64(raw[index]) }
                return (high, low)
            }
            self.init(high: high, low: low)
        case .unixDomainSocket:
            return nil
        }
    }
}
