import Testing

@testable import StewardPolicy

@Suite struct MatchingTests {
    static let lists: CompiledLists = {
        try! compileLists([
            ("gambling", .domains, "casino.com\nbet.example\n"),
            ("malware", .domains, "evil.casino.com\n"),
            ("social", .domains, "social.example\n"),
            ("games", .urls, "portal.example/games/\nwww.site.example/Play/Now\ndmoz.org/World/Espa%c3%b1ol/Juegos/\n129.105.212.34/~abutz\n"),
            ("tld", .domains, "zip\n"),
        ])
    }()

    @Test(
        "A listed domain matches itself and every subdomain, never a name that only ends the same",
        arguments: [
            ("casino.com", ["gambling"]),
            ("www.casino.com", ["gambling"]),
            ("a.b.c.d.e.f.casino.com", ["gambling"]),
            ("CASINO.com", ["gambling"]),
            ("notcasino.com", []),
            ("casino.com.evil.org", []),
            ("com", []),
            ("asino.com", []),
            ("bet.example", ["gambling"]),
            ("abet.example", []),
            ("files.zip", ["tld"]),
            ("zip", ["tld"]),
        ])
    func suffixMatching(name: String, expected: [String]) {
        #expect(Self.lists.categoryNames(ofName: name) == expected)
    }

    @Test("A name in several categories, or under a parent in another category, sees all of them")
    func severalCategories() {
        #expect(Self.lists.categoryNames(ofName: "evil.casino.com") == ["gambling", "malware"])
        #expect(Self.lists.categoryNames(ofName: "x.evil.casino.com") == ["gambling", "malware"])
        #expect(Self.lists.categoryNames(ofName: "good.casino.com") == ["gambling"])
    }

    @Test(
        "URL lists match host (and subdomains) plus path prefix, whatever the spelling of the path",
        arguments: [
            ("portal.example", "/games/", true),
            ("portal.example", "/games/chess?level=2", true),
            ("portal.example", "/GAMES/chess", true),
            ("portal.example", "/%67ames/chess", true),
            ("portal.example", "/news/../games/chess", true),
            ("portal.example", "//games//chess", true),
            ("portal.example", "/gamesite", false),
            ("portal.example", "/news/", false),
            ("www.portal.example", "/games/x", true),
            ("site.example", "/play/now", true),
            ("www.site.example", "/Play/Now/fast", true),
            ("site.example", "/play", false),
            ("dmoz.org", "/World/Espa%C3%B1ol/Juegos/x", true),
            ("dmoz.org", "/World/Español/Juegos/", true),
            ("129.105.212.34", "/~abutz/page", true),
            ("129.105.212.34", "/other", false),
            ("105.212.34", "/~abutz/page", false),
        ])
    func urlMatching(host: String, path: String, listed: Bool) {
        let categories = Self.lists.categories(ofHost: host, normalizedPath: URLPath.normalize(path))
        #expect(Self.lists.names(of: categories).contains("games") == listed)
    }

    @Test("The compiled table holds up under many names (growth and probing)")
    func manyNames() throws {
        var text = ""
        for index in 0..<50_000 { text += "host\(index).example\n" }
        let lists = try compileLists([("big", .domains, text)], chunkSize: 65_536)
        #expect(lists.nameCount == 50_000)
        for index in stride(from: 0, to: 50_000, by: 997) {
            #expect(lists.categoryNames(ofName: "www.host\(index).example") == ["big"])
            #expect(lists.categoryNames(ofName: "xhost\(index).example").isEmpty)
        }
    }
}

@Suite struct NormalisationTests {
    @Test(
        "Punycode matches RFC 3492 and IDNA examples",
        arguments: [
            ("bücher", "bcher-kva"), ("münchen", "mnchen-3ya"), ("例え", "r8jz45g"), ("テスト", "zckzah"),
            ("ü", "tda"),
        ])
    func punycode(label: String, expected: String) {
        #expect(Punycode.encode(Array(label.unicodeScalars)) == expected)
    }

    @Test(
        "Addresses parse strictly and print canonically",
        arguments: [
            ("192.0.2.1", "192.0.2.1"), ("2001:db8::1", "2001:db8::1"), ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            ("::", "::"), ("::1", "::1"), ("[::1]", "::1"), ("fe80::1:2", "fe80::1:2"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ])
    func addresses(text: String, canonical: String) {
        #expect(IPAddress(text)?.description == canonical)
    }

    @Test(
        "Malformed addresses are refused",
        arguments: ["256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.", "1::2::3", "12345::1", "1:2:3:4:5:6:7:8:9", "",
            "example.com", "1.2.3.4/8", ":1", "1:"])
    func badAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test("Networks need their host bits zero and contain what they should")
    func networks() throws {
        let network = try #require(IPNetwork("10.20.0.0/16"))
        #expect(network.contains(IPAddress("10.20.255.1")!))
        #expect(!network.contains(IPAddress("10.21.0.1")!))
        #expect(IPNetwork("10.20.0.1/16") == nil)
        #expect(IPNetwork("10.20.0.0/33") == nil)
        #expect(try #require(IPNetwork("fd00:50::/32")).contains(IPAddress("fd00:50::9")!))
        #expect(try #require(IPNetwork("0.0.0.0/0")).contains(IPAddress("8.8.8.8")!))
        #expect(!(try #require(IPNetwork("0.0.0.0/0")).contains(IPAddress("2001:db8::1")!)))
    }

    @Test(
        "URL targets decide on the host actually connected to",
        arguments: [
            ("http://allowed.example@blocked.example/", "blocked.example", "/"),
            ("https://WWW.Casino.COM./Path/../Games/?q=1", "www.casino.com", "/games/?q=1"),
            ("http://b%6Cocked.example/x", "blocked.example", "/x"),
            ("casino.com/x", "casino.com", "/x"),
            ("http://[2001:db8::1]:8080/a", "2001:db8::1", "/a"),
            ("http://192.0.2.7/", "192.0.2.7", "/"),
            ("https://bücher.de/", "xn--bcher-kva.de", "/"),
        ])
    func requestTargets(url: String, host: String, path: String) throws {
        let target = try RequestTarget.parse(url).get()
        #expect(target.host == host)
        #expect(target.path == path)
    }

    @Test("A host that IDNA maps to an address (ideographic or fullwidth dots and digits) is that address")
    func mappedAddresses() throws {
        let ideographic = try RequestTarget.parse("http://1\u{3002}2\u{3002}3\u{3002}4/").get()
        #expect(ideographic.address == IPAddress("1.2.3.4"))
        #expect(ideographic.host == "1.2.3.4")
        let fullwidth = try RequestTarget.parse("http://127\u{FF0E}0\u{FF0E}0\u{FF61}1:8080/x").get()
        #expect(fullwidth.address == IPAddress("127.0.0.1"))
        #expect(fullwidth.port == 8080)
        // Half mapped, half ASCII: no address and no name either.
        #expect((try? RequestTarget.parse("http://\u{FF11}\u{FF12}\u{FF17}\u{FF0E}0.0.1/").get()) == nil)
        #expect(try RequestTarget.parse("http://b\u{FC}cher.example/").get().address == nil)
    }

    @Test("Malformed URLs are refused with a reason", arguments: ["", "http://", "http://exa mple.com/", "http://a..b/",
        "http://host:99999/", "http://[::1/", "://x", "http://bad_host$/"])
    func badURLs(url: String) {
        if case .success(let target) = RequestTarget.parse(url) {
            Issue.record("accepted \(url) as \(target)")
        }
    }
}

/// Spellings of a path and of a file name that origin servers read otherwise than they look.
@Suite struct ServerReadingTests {
    @Test(arguments: [
        ("/%2fforbidden", "/forbidden"), ("/%2Fforbidden/page", "/forbidden/page"), ("/x%2f..%2fforbidden/", "/forbidden/"),
        ("/x/..%2fforbidden", "/forbidden"), ("/foo/..\\forbidden", "/forbidden"), ("/foo/..%5cforbidden", "/forbidden"),
        ("/a?next=%2fforbidden", "/a?next=%2fforbidden"), ("/a?path=\\x", "/a?path=\\x"),
    ])
    func escapedSlashesAndBackslashesSeparateSegmentsInThePath(_ path: String, _ normalized: String) {
        #expect(URLPath.normalize(path) == normalized)
    }

    @Test(arguments: [
        "setup.exe", "setup.EXE", "setup.exe;x", "setup.exe%3bx", "setup.exe.", "setup.exe%20", "setup.exe::$DATA",
        "setup.exe%00.txt", "setup.exe%23.txt", "setup.exe%0a", "setup.exe.%20.%20", "setup.exe%3a%3a$DATA",
        "SETUP.EXE%3Bx", "setup.exe%0D", "setup.exe%0A.txt", "setup.exe%3A%3A$DATA", "setup.exe/", "a.txt/setup.exe//",
    ])
    func theExtensionIsTheOneAServerGivesTheFile(_ segment: String) throws {
        let target = try RequestTarget.parse("http://files.example/dl/\(segment)").get()
        #expect(target.fileInfo?.fileExtension == "exe", "\(segment) → \(target.path)")
    }

    @Test("A file name's extension is read from its bytes: cut where a server would stop, lower-cased, at most ten characters")
    func fileNames() {
        #expect(RequestTarget.fileExtension(ofName: "Überweisung.PDF") == "pdf")
        #expect(RequestTarget.fileExtension(ofName: "bericht.ÉXÉ") == "éxé")
        #expect(RequestTarget.fileExtension(ofName: "setup.exe\r\n.txt") == "exe")
        #expect(RequestTarget.fileExtension(ofName: "setup.exe\u{0}.txt") == "exe")
        #expect(RequestTarget.fileExtension(ofName: "setup.exe%3") == "exe%3")
        #expect(RequestTarget.fileExtension(ofName: "setup.exe%") == "exe%")
        #expect(RequestTarget.fileExtension(ofName: "a.0123456789") == "0123456789")
        #expect(RequestTarget.fileExtension(ofName: "a.0123456789a") == nil)
        #expect(RequestTarget.fileExtension(ofName: ".profile") == nil)
        #expect(RequestTarget.fileExtension(ofName: "readme.") == nil)
        #expect(RequestTarget.fileExtension(ofName: "%20.%20") == nil)
        #expect(RequestTarget.fileExtension(ofName: "") == nil)
    }

    @Test("HTML escaping replaces the five characters and leaves everything else, multi-byte characters included")
    func escaping() {
        #expect(htmlEscaped("<a href='x'>&\"é😀</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;é😀&lt;/a&gt;")
        #expect(htmlEscaped("plain text, ünïcode") == "plain text, ünïcode")
        #expect(htmlEscaped("") == "")
    }

    @Test(arguments: ["readme", ".profile", "archive.tar.gz/", "page.html?file=setup.exe"])
    func namesWithoutThatExtensionKeepTheirOwn(_ segment: String) throws {
        let target = try RequestTarget.parse("http://files.example/\(segment)").get()
        #expect(target.fileInfo?.fileExtension != "exe", "\(segment)")
    }
}
