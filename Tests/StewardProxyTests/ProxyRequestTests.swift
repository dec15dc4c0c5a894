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
}
