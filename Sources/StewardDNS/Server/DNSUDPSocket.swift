#if os(Linux)
    import CStewardSystem
    import Glibc
    import NIOCore
    import Synchronization

    /// A bound, blocking UDP socket for the batched loop (`DNSUDPLoop`), made with the C library.
    ///
    /// The loop's thread owns the descriptor: it receives and sends on it without a lock and closes
    /// it when it leaves the loop. Answers that come later (upstream) are sent from an event loop
    /// with `send(_:)`, which holds `descriptor`'s lock around the system call, so the descriptor is
    /// never closed (and its number reused by another socket) under it. `Sendable` for that reason.
    final class DNSUDPSocket: Sendable {
        /// The descriptor; -1 once closed.
        private let descriptor: Mutex<Int32>
        /// The same descriptor, for the loop's thread, which alone closes it.
        let loopDescriptor: Int32
        /// Where it is bound (the port resolved when 0 was asked for).
        let localAddress: SocketAddress

        /// Opens a UDP socket for `address`'s family with SO_REUSEADDR (as the NIO server sets it), a
        /// send timeout so a full send buffer never stalls the loop for long, and binds it.
        init(bindingTo address: SocketAddress) throws {
            let family: Int32
            switch address {
            case .v4: family = AF_INET
            case .v6: family = AF_INET6
            case .unixDomainSocket: throw IOError(errnoCode: EAFNOSUPPORT, reason: "DNS over a Unix socket")
            }
            let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
            do {
                var one: Int32 = 1
                try Self.check(
                    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)), "SO_REUSEADDR")
                var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
                try Self.check(
                    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)),
                    "SO_SNDTIMEO")
                try address.withSockAddr { pointer, size in
                    try Self.check(bind(fd, pointer, socklen_t(size)), "bind(\(address))")
                }
                var storage = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                try withUnsafeMutablePointer(to: &storage) { pointer in
                    try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        try Self.check(getsockname(fd, $0, &length), "getsockname")
                    }
                }
                localAddress = try Self.socketAddress(storage)
            } catch {
                Glibc.close(fd)
                throw error
            }
            descriptor = Mutex(fd)
            loopDescriptor = fd
        }

        /// Wakes a loop blocked in `poll` on this socket (Linux marks even an unconnected UDP socket
        /// shut down and wakes its pollers; the call itself reports ENOTCONN, which does not matter).
        func wakeUp() {
            descriptor.withLock { fd in
                if fd >= 0 { _ = shutdown(fd, Int32(SHUT_RD)) }
            }
        }

        /// Closes the descriptor (the loop's thread, on leaving the loop). Later sends do nothing.
        func close() {
            descriptor.withLock { fd in
                if fd >= 0 { Glibc.close(fd) }
                fd = -1
            }
        }

        /// Sends `messages` without blocking; what does not go at once is dropped (UDP). For answers
        /// that come later, from an event loop.
        func send(_ messages: UnsafeMutableBufferPointer<CStewardUDP_mmsghdr>) {
            descriptor.withLock { fd in
                guard fd >= 0 else { return }
                Self.sendAll(fd, messages, flags: Int32(MSG_DONTWAIT))
            }
        }

        /// Sends every message of `messages` on `fd` with as few `sendmmsg` calls as it takes; one the
        /// kernel refuses (a vanished client, a full buffer) is skipped and handed to `refused` with
        /// its index and `errno`, so at most one call per message (and one more per interrupted call).
        static func sendAll(
            _ fd: Int32, _ messages: UnsafeMutableBufferPointer<CStewardUDP_mmsghdr>, flags: Int32,
            refused: (_ index: Int, _ errno: Int32) -> Void = { _, _ in }
        ) {
            guard let base = messages.baseAddress else { return }
            var start = 0
            while start < messages.count {
                let sent = CStewardUDP_sendmmsg(
                    fd, base + start, UInt32(messages.count - start), flags | Int32(MSG_NOSIGNAL))
                if sent > 0 {
                    start += Int(sent)
                } else if sent < 0, errno == EINTR {
                    continue
                } else {
                    refused(start, errno)
                    start += 1
                }
            }
        }

        private static func check(_ result: Int32, _ what: @autoclosure () -> String) throws {
            if result < 0 { throw IOError(errnoCode: errno, reason: what()) }
        }

        /// A kernel-filled socket address as NIO's `SocketAddress`.
        static func socketAddress(_ storage: sockaddr_storage) throws -> SocketAddress {
            let family = Int32(storage.ss_family)
            var storage = storage
            return try withUnsafeBytes(of: &storage) { raw in
                switch family {
                case AF_INET:
                    return SocketAddress(raw.load(as: sockaddr_in.self), host: "")
                case AF_INET6:
                    return SocketAddress(raw.load(as: sockaddr_in6.self), host: "")
                default:
                    throw IOError(errnoCode: EAFNOSUPPORT, reason: "address family \(family)")
                }
            }
        }
    }
#endif
