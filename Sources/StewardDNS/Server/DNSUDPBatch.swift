#if os(Linux)
    import CStewardSystem
    import Glibc
    import NIOCore

    /// The vectors one `recvmmsg` or `sendmmsg` reads: a message header, an iovec and a socket
    /// address per datagram, allocated once. Not `Sendable`: it belongs to its inbox or outbox.
    final class DNSUDPMessageVector {
        let capacity: Int
        let messages: UnsafeMutablePointer<CStewardUDP_mmsghdr>
        private let iovecs: UnsafeMutablePointer<iovec>
        let addresses: UnsafeMutablePointer<sockaddr_storage>

        init(capacity: Int) {
            self.capacity = capacity
            messages = .allocate(capacity: capacity)
            messages.initialize(repeating: CStewardUDP_mmsghdr(), count: capacity)
            iovecs = .allocate(capacity: capacity)
            iovecs.initialize(repeating: iovec(), count: capacity)
            addresses = .allocate(capacity: capacity)
            addresses.initialize(repeating: sockaddr_storage(), count: capacity)
        }

        deinit {
            messages.deallocate()
            iovecs.deallocate()
            addresses.deallocate()
        }

        /// Points message `index` at `length` octets at `bytes` and at its address, `addressLength`
        /// long (0: none, for a connected socket).
        func set(_ index: Int, bytes: UnsafeRawPointer, length: Int, addressLength: socklen_t) {
            iovecs[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes), iov_len: length)
            messages[index].msg_hdr = msghdr(
                msg_name: addressLength == 0 ? nil : UnsafeMutableRawPointer(addresses + index),
                msg_namelen: addressLength,
                msg_iov: iovecs + index, msg_iovlen: 1, msg_control: nil, msg_controllen: 0, msg_flags: 0)
            messages[index].msg_len = 0
        }
    }

    /// Datagrams received together: one `recvmmsg` into preallocated slots. Each slot is
    /// `slotSize` octets of one `ByteBuffer`, so a datagram reaches the filter as a slice of it
    /// (no allocation); a longer datagram arrives cut to the slot, as with the NIO server (32 × 4096).
    /// Not `Sendable`: it belongs to the loop's thread.
    final class DNSUDPInbox {
        let capacity: Int
        let slotSize: Int
        private var buffer: ByteBuffer
        private let vector: DNSUDPMessageVector

        init(capacity: Int, slotSize: Int) {
            self.capacity = capacity
            self.slotSize = slotSize
            buffer = ByteBufferAllocator().buffer(capacity: capacity * slotSize)
            vector = DNSUDPMessageVector(capacity: capacity)
        }

        /// Receives what is waiting, up to `capacity` datagrams, without blocking: their number, or
        /// -1 with `errno` set (EAGAIN: nothing waiting).
        func receive(on fd: Int32) -> Int {
            buffer.clear()
            let slotSize = slotSize
            let received = buffer.withUnsafeMutableWritableBytes { raw -> Int32 in
                guard let base = raw.baseAddress, raw.count >= capacity * slotSize else { return -1 }
                for index in 0..<capacity {
                    vector.set(
                        index, bytes: base + index * slotSize, length: slotSize,
                        addressLength: socklen_t(MemoryLayout<sockaddr_storage>.size))
                }
                return CStewardUDP_recvmmsg(fd, vector.messages, UInt32(capacity), Int32(MSG_DONTWAIT))
            }
            if received > 0 { buffer.moveWriterIndex(forwardBy: capacity * slotSize) }
            return Int(received)
        }

        /// The `index`th datagram of the last `receive`, a slice of the slots (valid until the next).
        func datagram(_ index: Int) -> ByteBuffer {
            let length = min(Int(vector.messages[index].msg_len), slotSize)
            return buffer.getSlice(at: index * slotSize, length: length) ?? ByteBuffer()
        }

        /// Where the `index`th datagram came from.
        func source(_ index: Int) -> UnsafePointer<sockaddr_storage> { UnsafePointer(vector.addresses + index) }

        /// The length of the `index`th datagram's source address.
        func sourceLength(_ index: Int) -> socklen_t { vector.messages[index].msg_hdr.msg_namelen }
    }

    /// Answers sent together: written one after another into one buffer, each with its destination,
    /// and sent with as few `sendmmsg` calls as it takes. Holds at most `capacity` answers (the
    /// caller flushes when full). Not `Sendable`: it belongs to one thread (the loop's, or an event
    /// loop's for answers that come later).
    final class DNSUDPOutbox {
        let capacity: Int
        /// The answers, one after another from index 0; the next one is written at the writer index.
        var bytes: ByteBuffer
        private(set) var count = 0
        /// Where each answer ends in `bytes`, and the length of its address.
        private var ends: [(end: Int, addressLength: socklen_t)]
        private let vector: DNSUDPMessageVector

        init(capacity: Int) {
            self.capacity = capacity
            bytes = ByteBufferAllocator().buffer(capacity: capacity * 512)
            ends = Array(repeating: (0, 0), count: capacity)
            vector = DNSUDPMessageVector(capacity: capacity)
        }

        var isFull: Bool { count == capacity }

        /// Takes what was written to `bytes` since the previous answer as the answer to `address`
        /// (nil, with `length` 0: none, for a connected socket).
        func commit(to address: UnsafePointer<sockaddr_storage>?, length: socklen_t) {
            precondition(count < capacity, "DNSUDPOutbox is full")
            if let address { vector.addresses[count] = address.pointee }
            ends[count] = (bytes.writerIndex, address == nil ? 0 : length)
            count += 1
        }

        /// Adds `answer` for `address` (flush first when full).
        func append(_ answer: ByteBuffer, to address: UnsafePointer<sockaddr_storage>?, length: socklen_t) {
            var answer = answer
            bytes.writeBuffer(&answer)
            commit(to: address, length: length)
        }

        /// Hands every answer to `send` as one vector of messages, then empties the outbox.
        func flush(_ send: (UnsafeMutableBufferPointer<CStewardUDP_mmsghdr>) -> Void) {
            guard count > 0 else { return }
            bytes.withUnsafeReadableBytes { raw in
                guard let base = raw.baseAddress else { return }
                var start = 0
                for index in 0..<count {
                    let (end, addressLength) = ends[index]
                    vector.set(index, bytes: base + start, length: end - start, addressLength: addressLength)
                    start = end
                }
                send(UnsafeMutableBufferPointer(start: vector.messages, count: count))
            }
            count = 0
            bytes.clear()
        }
    }
#endif
