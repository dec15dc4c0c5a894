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
            if handshake.readableBytes >= 4 {
                let messageLength = Int(handshake.getInteger(at: handshake.readerIndex + 1, as: UInt32.self)! >> 8)
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
        while extensions.readableBytes > 0 {
            guard let type: UInt16 = extensions.readInteger(), let size: UInt16 = extensions.readInteger(),
                var body = extensions.readSlice(length: Int(size))
            else { return .notTLS }
            guard type == 0 else { continue }  // server_name
            guard let listLength: UInt16 = body.readInteger(), var list = body.readSlice(length: Int(listLength)) else {
                return .notTLS
            }
            while list.readableBytes > 0 {
                guard let nameType: UInt8 = list.readInteger(), let nameLength: UInt16 = list.readInteger(),
                    let name = list.readString(length: Int(nameLength))
                else { return .notTLS }
                if nameType == 0 { return .hello(serverName: name) }  // host_name
            }
            return .hello(serverName: nil)
        }
        return .hello(serverName: nil)
    }
}

extension ByteBuffer {
    fileprivate mutating func moveReaderIndexIfPossible(forwardBy count: Int) -> Bool {
        guard readableBytes >= count else { return false }
        moveReaderIndex(forwardBy: count)
        return true
    }
}
