import NIOCore
import NIOHTTP1
import Testing

@testable import StewardProxy

/// The request head checks, without a channel.
@Suite struct ProxyRequestTests {
    static func head(_ method: HTTPMethod, _ uri: String, _ headers: [(String, String)] = []) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers))
    }

    @Test(
        "Refused before any decision",
        arguments: [
            (head(.POST, "http://a.example/", [("Content-Length", "3"), ("Transfer-Encoding", "chunked")]), 400),
            (head(.POST, "http://a.example/", [("Content-Length", "3"), ("Content-Length", "4")]), 400),
            (head(.POST, "http://a.example/", [("Content-Length", "3, 3")]), 400),
            (head(.POST, "http://a.example/", [("Content-Length", "-1")]), 400),
            (head(.POST, "http://a.example/", [("Transfer-Encoding", "gzip, chunked")]), 501),
            (head(.CONNECT, "a.example:22"), 403),
            (head(.CONNECT, "a.example"), 400),
            (head(.CONNECT, "user@a.example:443"), 400),
            (head(.CONNECT, "a.example/x:443"), 400),
            (head(.POST, "http://a.example/", [("Content-Length", " 3\u{A0}")]), 400),
            (head(.POST, "http://a.example/", [("Transfer-Encoding", "\u{A0}chunked")]), 501),
            (head(.POST, "http://a.example/", [("Content-Length", "3"), ("Connection", " keep-alive ,\tContent-Length ")]), 400),
            (head(.GET, "ftp://a.example/file"), 501),
            (head(.GET, "https://a.example/"), 400),
            (head(.GET, "http:///path"), 400),
        ])
    func refused(_ head: HTTPRequestHead, _ status: Int) {
        guard case .failure(let refusal) = ProxyRequest.classify(head, connectPorts: [443]) else {
            Issue.record("\(head.method) \(head.uri) was accepted")
            return
        }
        #expect(Int(refusal.status.code) == status)
    }

    @Test("Optional white space around field values is spaces and tabs (RFC 9110 §5.6.3), and only that is trimmed")
    func optionalWhiteSpace() {
        #expect(ProxyRequest.trimmedOWS(" \tkeep-alive \t") == "keep-alive")
        #expect(ProxyRequest.trimmedOWS("a b") == "a b")
        #expect(ProxyRequest.trimmedOWS(" \t ") == "")
        #expect(ProxyRequest.trimmedOWS("") == "")
        #expect(ProxyRequest.trimmedOWS("\u{A0}x\u{A0}") == "\u{A0}x\u{A0}")
        let framed = Self.head(.POST, "http://a.example/", [("Content-Length", "\t3 "), ("Transfer-Encoding", "")])
        #expect((try? ProxyRequest.classify(Self.head(.POST, "http://a.example/", [("Content-Length", "\t3 ")]), connectPorts: [443]).get()) != nil)
        #expect((try? ProxyRequest.classify(framed, connectPorts: [443]).get()) == nil)
        #expect(ProxyRequest.mediaTypes(HTTPHeaders([("Content-Type", " Text/HTML ; charset=utf-8,\tapplication/X-Msdownload")])) == ["text/html", "application/x-msdownload"])
        #expect(ProxyRequest.connectionNamed(HTTPHeaders([("Connection", "Keep-Alive,\t X-Secret\t")])) == ["keep-alive", "x-secret"])
    }

    @Test(
        "Every name a download may be saved under is read from Content-Disposition, as servers and as browsers read it",
        arguments: [
            ("attachment; filename=\"setup.exe\"", ["exe"]),
            ("attachment; filename=\"a.txt;.exe\"", ["txt", "exe"]),
            ("attachment; filename=setup.exe\u{A0}", ["exe\u{A0}", "exe"]),
            ("attachment; filename=\"setup.exe\"\u{A0}", ["exe"]),
            ("attachment; filename=\"setup.e xe\"", ["e xe", "exe"]),
            ("attachment; filename=setup.exe; filename=a.txt", ["exe", "txt"]),
            ("attachment; filename*=UTF-8''setup.ex%07e", ["ex\u{07}e", "exe"]),
            ("attachment; filename*=UTF-8''setup.exe%C2%A0", ["exe\u{A0}", "exe"]),
            ("attachment; filename=\"a\\\"b.msi\"", ["msi"]),
            ("attachment; FileName = \"C:\\\\Users\\\\x\\\\run.BAT\"", ["bat"]),
            ("inline", []),
            ("attachment; filename=\"readme\"", []),
            ("attachment; filename", []),
        ] as [(String, [String])])
    func dispositionNames(_ value: String, _ expected: [String]) {
        #expect(ProxyRequest.dispositionFileExtensions(HTTPHeaders([("Content-Disposition", value)])) == expected, "\(value)")
    }

    @Test("The host is the one connected to; the path goes to the origin exactly as sent")
    func targets() {
        guard case .success(.forward(let target, let originForm)) = ProxyRequest.classify(
            Self.head(.GET, "http://user:pw@WWW.Example.COM.:8080/A%2fB/Case.html?q=1#frag"), connectPorts: [443])
        else {
            Issue.record("not forwarded")
            return
        }
        #expect(target.host == "www.example.com")
        #expect(target.port == 8080)
        #expect(originForm == "/A%2fB/Case.html?q=1")
        let origin = ProxyRequest.originHead(
            Self.head(.GET, "http://www.example.com/x", [("Host", "blocked.example"), ("Proxy-Connection", "keep-alive"), ("Connection", "X-Secret"), ("X-Secret", "1"), ("Accept", "*/*")]),
            target: target, originForm: "/x")
        #expect(origin.headers["Host"] == ["www.example.com:8080"])
        #expect(origin.headers["Proxy-Connection"].isEmpty)
        #expect(origin.headers["X-Secret"].isEmpty)
        #expect(origin.headers["Accept"] == ["*/*"])
        #expect(origin.uri == "/x")
        guard case .success(.tunnel(let host, _, let port)) = ProxyRequest.classify(Self.head(.CONNECT, "Mail.Example.:443"), connectPorts: [443]) else {
            Issue.record("not a tunnel")
            return
        }
        #expect(host == "mail.example")
        #expect(port == 443)
    }

    @Test("The ClientHello's server name is read across records; other bytes are not TLS")
    func clientHello() {
        let records = ClientHelloBytes.records(serverName: "sni.example", splitAt: 20)
        #expect(TLSClientHello.parse(ByteBuffer(bytes: records)) == .hello(serverName: "sni.example"))
        #expect(TLSClientHello.parse(ByteBuffer(bytes: records.prefix(30))) == .needMore)
        #expect(TLSClientHello.parse(ByteBuffer(string: "SSH-2.0-OpenSSH_9.2\r\n")) == .notTLS)
        #expect(TLSClientHello.parse(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0, 0, 1, 0])) == .notTLS)
    }

    /// The handshake message of a one-record ClientHello, rewrapped in records of `size` octets.
    static func rerecorded(_ records: [UInt8], size: Int) -> [UInt8] {
        let message = Array(records.dropFirst(5))
        return stride(from: 0, to: message.count, by: size).flatMap { start -> [UInt8] in
            let part = message[start..<min(start + size, message.count)]
            return [0x16, 0x03, 0x01, UInt8(part.count >> 8), UInt8(part.count & 0xFF)] + part
        }
    }

    @Test("A ClientHello in records of any size is read; a record holding only the handshake header waits for more (it once crashed the proxy)")
    func clientHelloInTinyRecords() {
        #expect(TLSClientHello.parse(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x40])) == .needMore)
        let hello = ClientHelloBytes.records(serverName: "sni.example")
        for size in [1, 2, 3, 4, 5, 7, 100] {
            let records = Self.rerecorded(hello, size: size)
            #expect(TLSClientHello.parse(ByteBuffer(bytes: records)) == .hello(serverName: "sni.example"), "records of \(size)")
            for cut in stride(from: 1, to: records.count, by: 3) {
                #expect(TLSClientHello.parse(ByteBuffer(bytes: records.prefix(cut))) == .needMore, "records of \(size), cut at \(cut)")
            }
        }
    }

    /// A ClientHello whose extensions are `extensions` (type, body) as given.
    static func hello(extensions: [(UInt16, [UInt8])]) -> [UInt8] {
        var body: [UInt8] = [0x03, 0x03] + Array(repeating: 7, count: 32) + [0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00]
        let encoded = extensions.flatMap { type, data in
            [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
        }
        body += [UInt8(encoded.count >> 8), UInt8(encoded.count & 0xFF)] + encoded
        let message: [UInt8] = [0x01, 0x00, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
        return [0x16, 0x03, 0x01, UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
    }

    static func serverNames(_ entries: [(UInt8, [UInt8])]) -> [UInt8] {
        let list = entries.flatMap { type, name in [type, UInt8(name.count >> 8), UInt8(name.count & 0xFF)] + name }
        return [UInt8(list.count >> 8), UInt8(list.count & 0xFF)] + list
    }

    @Test("A ClientHello that names two hosts, or a name no server would read the same way, is not passed on")
    func ambiguousServerNames() {
        let allowed = Array("allowed.example".utf8), blocked = Array("blocked.example".utf8)
        #expect(TLSClientHello.parse(ByteBuffer(bytes: Self.hello(extensions: [(0, Self.serverNames([(0, allowed)]))]))) == .hello(serverName: "allowed.example"))
        #expect(TLSClientHello.parse(ByteBuffer(bytes: Self.hello(extensions: [(16, [0, 3, 2, 0x68, 0x32])]))) == .hello(serverName: nil))
        let cases: [[(UInt16, [UInt8])]] = [
            [(0, Self.serverNames([(0, allowed), (0, blocked)]))],
            [(0, Self.serverNames([(0, allowed)])), (0, Self.serverNames([(0, blocked)]))],
            [(0, Self.serverNames([(1, blocked)]))],
            [(0, Self.serverNames([(0, blocked + [0])]))],
            [(0, Self.serverNames([(0, blocked + Array(":443".utf8))]))],
            [(0, Self.serverNames([(0, [])]))],
        ]
        for extensions in cases {
            #expect(TLSClientHello.parse(ByteBuffer(bytes: Self.hello(extensions: extensions))) == .notTLS, "\(extensions)")
        }
    }
}
