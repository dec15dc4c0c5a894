import NIOCore

/// The server name a TLS ClientHello asks for (RFC 8446 §4.1.2, RFC 6066 §3), read without
/// decrypting anything, so a tunnel can be closed when its SNI is blocked or is not the host the
/// CONNECT named (domain fronting). Parsing is bounded: every length is checked against what is
/// left before it is used.
enum TLSClientHello {
    enum Outcome: Equatable {
        /// More bytes are needed to see the whole ClientHello.
        case needMore
        /// A ClientHello; the server name when it carries one.
        case hello(serverName: String?)
        /// Not TLS, or a malformed ClientHello.
        case notTLS
    }

    /// The largest ClientHello waited for (post-quantum key shares make them a few KiB).
    static let maxBytes = 16_384

    static func parse(_ buffer: ByteBuffer) -> Outcome {
        var reader = buffer
        // TLS record header: type 22 (handshake), version, length.
        guard let type: UInt8 = reader.readInteger() else { return .needMore }
        guard type == 22 else { return .notTLS }
        guard let major: UInt8 = reader.readInteger(), let _: UInt8 = reader.readInteger(),
            let recordLength: UInt16 = reader.readInteger()
        else { return .needMore }
        guard major == 3, recordLength > 0 else { return .notTLS }
        // The handshake message may span several records; gather the fragments.
        var handshake = ByteBuffer()
        var length = Int(recordLength)
        while true {
            guard reader.readableBytes >= length else {
                return buffer.readableBytes >= maxBytes ? .notTLS : .needMore
            }
            var fragment = reader.readSlice(length: length)!
            handshake.writeBuffer(&fragment)
            // The handshake header: type (1) and a 24-bit length, read octet by octet (exactly
            // four octets may be all there is so far).
            if handshake.readableBytes >= 4, let lengthBytes = handshake.getBytes(at: handshake.readerIndex + 1, length: 3) {
                let messageLength = Int(lengthBytes[0]) << 16 | Int(lengthBytes[1]) << 8 | Int(lengthBytes[2])
                if handshake.readableBytes >= 4 + messageLength { break }
                if messageLength > maxBytes { return .notTLS }
            }
            guard let nextType: UInt8 = reader.readInteger() else { return .needMore }
            guard nextType == 22 else { return .notTLS }
            guard let _: UInt16 = reader.readInteger(), let next: UInt16 = reader.readInteger() else { return .needMore }
            length = Int(next)
        }
        return helloServerName(&handshake)
    }

    private static func helloServerName(_ message: inout ByteBuffer) -> Outcome {
        guard let messageType: UInt8 = message.readInteger(), messageType == 1 else { return .notTLS }  // client_hello
        guard let lengthBytes = message.readBytes(length: 3) else { return .notTLS }
        let length = Int(lengthBytes[0]) << 16 | Int(lengthBytes[1]) << 8 | Int(lengthBytes[2])
        guard var hello = message.readSlice(length: length) else { return .notTLS }
        // legacy_version (2), random (32)
        guard hello.moveReaderIndexIfPossible(forwardBy: 34) else { return .notTLS }
        guard let sessionLength: UInt8 = hello.readInteger(), hello.moveReaderIndexIfPossible(forwardBy: Int(sessionLength))
        else { return .notTLS }
        guard let suitesLength: UInt16 = hello.readInteger(), hello.moveReaderIndexIfPossible(forwardBy: Int(suitesLength))
        else { return .notTLS }
        guard let compressionLength: UInt8 = hello.readInteger(),
            hello.moveReaderIndexIfPossible(forwardBy: Int(compressionLength))
        else { return .notTLS }
        guard hello.readableBytes > 0 else { return .hello(serverName: nil) }  // no extensions
        guard let extensionsLength: UInt16 = hello.readInteger(), var extensions = hello.readSlice(length: Int(extensionsLength))
        else { return .notTLS }
        // One server_name extension at most, holding one host_name at most, of host-name octets
        // only (RFC 8446 §4.2: no extension twice; RFC 6066 §3: one name of a type, ASCII). A
        // hello that names two hosts, or a name the policy could read otherwise than a server
        // would, is not passed on.
        var serverName: String? = nil
        var seenServerName = false
        while extensions.readableBytes > 0 {
            guard let type: UInt16 = extensions.readInteger(), let size: UInt16 = extensions.readInteger(),
                var body = extensions.readSlice(length: Int(size))
            else { return .notTLS }
            guard type == 0 else { continue }  // server_name
            guard !seenServerName else { return .notTLS }
            seenServerName = true
            guard let listLength: UInt16 = body.readInteger(), var list = body.readSlice(length: Int(listLength)),
                body.readableBytes == 0
            else { return .notTLS }
            while list.readableBytes > 0 {
                guard let nameType: UInt8 = list.readInteger(), nameType == 0, serverName == nil,
                    let nameLength: UInt16 = list.readInteger(), nameLength > 0,
                    let bytes = list.readBytes(length: Int(nameLength)), bytes.allSatisfy(isHostNameOctet)
                else { return .notTLS }
                serverName = String(decoding: bytes, as: UTF8.self)
            }
        }
        return .hello(serverName: serverName)
    }

    /// Letters, digits, `-`, `.` and `_` (seen in real host names), nothing else.
    private static func isHostNameOctet(_ octet: UInt8) -> Bool {
        switch octet {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }
}

extension ByteBuffer {
    fileprivate mutating func moveReaderIndexIfPossible(forwardBy count: Int) -> Bool {
        guard readableBytes >= count else { return false }
        moveReaderIndex(forwardBy: count)
        return true
    }
}
