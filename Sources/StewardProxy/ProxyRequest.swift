import Foundation
import NIOCore
import NIOHTTP1
import StewardPolicy

/// What a request asks the proxy to do, once its head has been checked. Pure: no channel, no
/// policy; the handler acts on it.
enum ProxyRequest: Equatable {
    /// `CONNECT host:port`: a tunnel.
    case tunnel(host: String, address: IPAddress?, port: Int)
    /// An absolute-form `http://` request to forward; `originForm` is the path and query exactly as
    /// the client sent them (the target's own path is normalised for matching only).
    case forward(RequestTarget, originForm: String)
    /// An origin-form request to the proxy itself (`/proxy.pac`, `/wpad.dat`).
    case local(path: String)

    /// The destination's address and port when the target names an address rather than a name.
    var literalDestination: SocketAddress? {
        switch self {
        case .tunnel(_, let address?, let port):
            return try? SocketAddress(ipAddress: address.description, port: port)
        case .forward(let target, _):
            return target.address.flatMap { try? SocketAddress(ipAddress: $0.description, port: target.port ?? 80) }
        default:
            return nil
        }
    }

    /// Why a request is refused before any decision, with the status it gets.
    struct Refusal: Error, Equatable {
        var status: HTTPResponseStatus
        var reason: String
    }

    /// Checks the head (framing that could smuggle a second request past the filter, header
    /// bytes, the target's form) and takes the target apart. The host decided on is the one the
    /// proxy connects to: user-info, letter case, a trailing dot, percent-encoding and IDNA are
    /// normalised by `RequestTarget`, and the Host header never chooses it.
    static func classify(_ head: HTTPRequestHead, connectPorts: Set<Int>) -> Result<ProxyRequest, Refusal> {
        let lengths = head.headers["Content-Length"]
        let encodings = head.headers["Transfer-Encoding"]
        if !lengths.isEmpty, !encodings.isEmpty {
            return .failure(Refusal(status: .badRequest, reason: "Content-Length together with Transfer-Encoding"))
        }
        if lengths.count > 1 || lengths.first.map({ $0.utf8.contains(UInt8(ascii: ",")) }) == true {
            return .failure(Refusal(status: .badRequest, reason: "more than one Content-Length"))
        }
        if let length = lengths.first, UInt64(trimmedOWS(length[...])) == nil {
            return .failure(Refusal(status: .badRequest, reason: "Content-Length is not a number"))
        }
        if !encodings.isEmpty, encodings.map({ trimmedOWS($0[...]).lowercased() }) != ["chunked"] {
            return .failure(Refusal(status: .notImplemented, reason: "only Transfer-Encoding: chunked is accepted"))
        }
        // `Connection: Content-Length` would have the framing removed on the way to the origin
        // while the body still went there: the body would then read as a second request that
        // nothing decided (and whose answer could reach another client of the pooled connection).
        if let framing = connectionNamed(head.headers).first(where: Self.framingFields.contains) {
            return .failure(Refusal(status: .badRequest, reason: "the Connection header names \(framing), which frames the request"))
        }
        for (name, value) in head.headers {
            if name.isEmpty || name.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: ":") })
                || value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 })
            {
                return .failure(Refusal(status: .badRequest, reason: "malformed header"))
            }
        }
        let uri = head.uri
        if head.method == .CONNECT {
            guard !uri.utf8.contains(where: { $0 == UInt8(ascii: "@") || $0 == UInt8(ascii: "/") }) else {
                return .failure(Refusal(status: .badRequest, reason: "CONNECT takes host:port"))
            }
            guard case .success(let target) = RequestTarget.parse("https://" + uri), let port = target.port else {
                return .failure(Refusal(status: .badRequest, reason: "CONNECT takes host:port"))
            }
            guard connectPorts.contains(port) else {
                return .failure(Refusal(status: .forbidden, reason: "tunnels are allowed to ports \(connectPorts.sorted().map(String.init).joined(separator: ", ")) only"))
            }
            return .success(.tunnel(host: target.host, address: target.address, port: port))
        }
        if uri.hasPrefix("/") {
            return .success(.local(path: uri))
        }
        let lower = uri.prefix(8).lowercased()
        guard lower.hasPrefix("http://") else {
            return .failure(
                Refusal(status: lower.hasPrefix("https://") ? .badRequest : .notImplemented, reason: "only http:// URLs are forwarded; HTTPS goes through CONNECT"))
        }
        switch RequestTarget.parse(uri) {
        case .success(let target):
            guard !target.host.isEmpty else { return .failure(Refusal(status: .badRequest, reason: "the URL has no host")) }
            let port = target.port ?? 80
            guard isWebPort(port) else {
                return .failure(
                    Refusal(status: .forbidden, reason: "web requests may go to ports 80, 443 and 1025–65535 only; port \(port) serves another protocol"))
            }
            let afterScheme = uri.dropFirst("http://".count)
            var originForm = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }).map { String(afterScheme[$0...]) } ?? "/"
            if let hash = originForm.firstIndex(of: "#") { originForm = String(originForm[..<hash]) }
            if originForm.hasPrefix("?") { originForm = "/" + originForm }
            return .success(.forward(target, originForm: originForm))
        case .failure(.tooLong):
            return .failure(Refusal(status: .uriTooLong, reason: "the URL is longer than 8192 bytes"))
        case .failure(let problem):
            return .failure(Refusal(status: .badRequest, reason: "malformed URL: \(problem)"))
        }
    }

    /// squid's `Safe_ports` for HTTP: 80, 443, the registered HTTP ports below 1024 (280, 488,
    /// 591, 777) and every unprivileged port. A request to another low port would speak HTTP to
    /// some other protocol's server (mail on 25, for one) from the proxy's address.
    static func isWebPort(_ port: Int) -> Bool {
        port >= 1025 || [80, 443, 280, 488, 591, 777].contains(port)
    }

    /// Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy's own, never passed on.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te", "trailer",
        "transfer-encoding", "upgrade",
    ]

    /// Fields that frame or route a message: a Connection header may not make them hop-by-hop.
    static let framingFields: Set<String> = ["content-length", "transfer-encoding", "host"]

    /// The field names the Connection header lists, lower-cased.
    static func connectionNamed(_ headers: HTTPHeaders) -> Set<String> {
        Set(headers["Connection"].flatMap { $0.split(separator: ",") }.map { trimmedOWS($0).lowercased() })
    }

    /// `text` without the optional white space around it (RFC 9110 §5.6.3: spaces and tabs), read
    /// as bytes.
    static func trimmedOWS(_ text: Substring) -> Substring {
        let bytes = text.utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start = bytes.index(after: start) }
        while start < end {
            let before = bytes.index(before: end)
            guard bytes[before] == 0x20 || bytes[before] == 0x09 else { break }
            end = before
        }
        return text[start..<end]
    }

    /// Whether `name` is one of `hopByHop`, ignoring case, without allocating.
    static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2, 7, 10, 16, 17, 18, 19:
            return hopByHop.contains { $0.utf8.count == name.utf8.count && equalsIgnoringASCIICase($0, name) }
        default:
            return false
        }
    }

    static func equalsIgnoringASCIICase(_ lower: String, _ other: String) -> Bool {
        guard lower.utf8.count == other.utf8.count else { return false }
        for (a, b) in zip(lower.utf8, other.utf8) where a != b && a != (b | 0x20) { return false }
        return true
    }

    /// The headers that are meant for the other end: without the hop-by-hop ones and those the
    /// Connection header names (never the framing fields: a message keeps its Content-Length).
    /// Unchanged (no copy) when there are none.
    static func endToEnd(_ headers: HTTPHeaders) -> HTTPHeaders {
        guard headers.contains(where: { isHopByHop($0.name) }) else { return headers }
        let named = connectionNamed(headers)
        var kept = HTTPHeaders()
        for (name, value) in headers {
            if isHopByHop(name) { continue }
            if !named.isEmpty {
                let lower = name.lowercased()
                if named.contains(lower), !framingFields.contains(lower) { continue }
            }
            kept.add(name: name, value: value)
        }
        return kept
    }

    /// The head sent to the origin: origin-form target, the Host the proxy connects to, no hop-by-hop
    /// headers (nor any the Connection header names), this proxy added to Via, Max-Forwards counted
    /// down for TRACE and OPTIONS; HTTP/1.1, so the connection may be kept alive.
    static func originHead(_ head: HTTPRequestHead, target: RequestTarget, originForm: String) -> HTTPRequestHead {
        var headers = endToEnd(head.headers)
        headers.remove(name: "Host")
        if head.headers["Transfer-Encoding"].isEmpty == false { headers.add(name: "Transfer-Encoding", value: "chunked") }
        let hostIsIPv6 = target.address.map { !$0.isIPv4 } ?? false
        let host = hostIsIPv6 ? "[\(target.host)]" : target.host
        headers.replaceOrAdd(name: "Host", value: target.port.map { "\(host):\($0)" } ?? host)
        addVia(to: &headers, received: head.version)
        if let forwards = maxForwards(head), forwards > 0 {
            headers.replaceOrAdd(name: "Max-Forwards", value: String(forwards - 1))
        }
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: originForm, headers: headers)
    }

    /// Every extension the file a response's Content-Disposition names may be saved with: each
    /// `filename` and `filename*` parameter (RFC 6266; `filename*` percent-decoded per RFC 8187)
    /// of every such field, browsers disagreeing on which wins, read two ways — as
    /// `RequestTarget.fileExtension` cuts a name the way servers do, and as browsers clean a name
    /// before saving it (control and format characters dropped, white space and dots trimmed from
    /// the end, white space inside the extension dropped: `a.txt;.exe`, `setup.exe\u{A0}` and
    /// `setup.e xe` are all saved as programs). Quoted values keep their `;`. Empty when none.
    static func dispositionFileExtensions(_ headers: HTTPHeaders) -> [String] {
        var names: [String] = []
        for value in headers["Content-Disposition"] {
            for (key, text) in dispositionParameters(value) {
                if key == "filename*" {
                    // charset'language'percent-encoded-name
                    var encoded = Substring(text)
                    if let quote = encoded.lastIndex(of: "'") { encoded = encoded[encoded.index(after: quote)...] }
                    names.append(String(encoded).removingPercentEncoding ?? String(encoded))
                } else if key == "filename" {
                    names.append(text)
                }
            }
        }
        var extensions: [String] = []
        for name in names {
            // A path in the name counts only for its last part.
            let base = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? name
            for ext in [RequestTarget.fileExtension(ofName: base), savedExtension(of: base)] {
                if let ext, !extensions.contains(ext) { extensions.append(ext) }
            }
        }
        return extensions
    }

    /// The parameters of a Content-Disposition value, names lower-cased, values unquoted
    /// (RFC 9110 §5.6.4 quoted-string, backslash escapes; a `;` inside quotes is the value's).
    static func dispositionParameters(_ value: String) -> [(String, String)] {
        let scalars = Array(value.unicodeScalars)
        var parameters: [(String, String)] = []
        var index = 0
        // The disposition type.
        while index < scalars.count, scalars[index] != ";" { index += 1 }
        while index < scalars.count {
            index += 1  // past the `;`
            var name = ""
            while index < scalars.count, scalars[index] != "=", scalars[index] != ";" {
                name.unicodeScalars.append(scalars[index])
                index += 1
            }
            guard index < scalars.count, scalars[index] == "=" else { continue }
            index += 1
            while index < scalars.count, scalars[index] == " " || scalars[index] == "\t" { index += 1 }
            var text = String.UnicodeScalarView()
            if index < scalars.count, scalars[index] == "\"" {
                index += 1
                while index < scalars.count, scalars[index] != "\"" {
                    if scalars[index] == "\\", index + 1 < scalars.count { index += 1 }
                    text.append(scalars[index])
                    index += 1
                }
                while index < scalars.count, scalars[index] != ";" { index += 1 }
            } else {
                while index < scalars.count, scalars[index] != ";" {
                    text.append(scalars[index])
                    index += 1
                }
            }
            parameters.append((trimmedOWS(name[...]).lowercased(), String(text)))
        }
        return parameters
    }

    /// The extension a browser gives the file `name` when it saves it, lower-cased; nil when none.
    static func savedExtension(of name: String) -> String? {
        var scalars: [Unicode.Scalar] = name.unicodeScalars.filter {
            $0.properties.generalCategory != .control && $0.properties.generalCategory != .format
        }
        while let last = scalars.last, last.properties.isWhitespace || last == "." { scalars.removeLast() }
        guard let dot = scalars.lastIndex(of: "."), dot != scalars.startIndex else { return nil }
        var ext = String.UnicodeScalarView()
        for scalar in scalars[(dot + 1)...] where !scalar.properties.isWhitespace { ext.append(scalar) }
        let lowered = String(ext).lowercased()
        guard !lowered.isEmpty, lowered.count <= 10 else { return nil }
        return lowered
    }

    /// Every media type a response's Content-Type fields name, lower-cased without parameters, in
    /// order: several fields, and several types in one field, all count.
    static func mediaTypes(_ headers: HTTPHeaders) -> [String] {
        headers["Content-Type"].flatMap { $0.split(separator: ",") }.compactMap { item in
            let type = item.split(separator: ";", omittingEmptySubsequences: false).first.map { trimmedOWS($0).lowercased() }
            return type.flatMap { $0.isEmpty ? nil : $0 }
        }
    }

    /// Why an origin's response head cannot be passed on, or nil when it can:
    /// - a status outside 100–599 (RFC 9110 §15: not HTTP; the decoder would take 099 for an
    ///   interim response);
    /// - 101 Switching Protocols: the proxy never forwards Upgrade, so no switch was asked for;
    /// - a transfer coding other than chunked alone: the proxy decodes chunked and re-frames the
    ///   body itself, and may not drop a coding it has not decoded (RFC 9112 §6.1).
    static func unusableResponse(_ head: HTTPResponseHead) -> String? {
        let code = head.status.code
        guard (100...599).contains(code) else { return "status \(code) is not an HTTP status" }
        if code == 101 { return "it switched protocols, which was not asked for" }
        let codings = head.headers["Transfer-Encoding"].flatMap { $0.split(separator: ",") }.map { trimmedOWS($0).lowercased() }
        if !codings.isEmpty, codings != ["chunked"] {
            return "transfer coding \(codings.joined(separator: ", ")) is not supported"
        }
        return nil
    }

    /// This proxy's pseudonym in Via headers (RFC 9110 §7.6.3).
    static let viaName = "steward"

    /// Appends this hop to `headers`' Via: the protocol version the message was received with.
    static func addVia(to headers: inout HTTPHeaders, received version: HTTPVersion) {
        headers.add(name: "Via", value: "\(version.major).\(version.minor) \(viaName)")
    }

    /// Max-Forwards of a TRACE or OPTIONS request (RFC 9110 §7.6.2: the only methods it applies
    /// to), nil when absent or not a number.
    static func maxForwards(_ head: HTTPRequestHead) -> Int? {
        guard head.method == .TRACE || head.method == .OPTIONS,
            let value = head.headers["Max-Forwards"].first.map({ trimmedOWS($0[...]) })
        else { return nil }
        return Int(value).flatMap { $0 >= 0 ? $0 : nil }
    }
}
