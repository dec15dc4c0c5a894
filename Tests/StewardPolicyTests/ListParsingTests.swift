import Testing

@testable import StewardPolicy

@Suite struct ListParsingTests {
    struct LineCase: CustomTestStringConvertible, Sendable {
        let format: ListFormat
        let line: String
        /// Names that must then be listed (normalised), or empty when the line adds none.
        let names: [String]
        /// A fragment of the rejection reason, or nil when the line must not be rejected.
        let rejection: String?
        var testDescription: String { "\(format.rawValue): \(line.debugDescription)" }
    }

    static let lineCases: [LineCase] = [
        .init(format: .domains, line: "casino.com", names: ["casino.com"], rejection: nil),
        .init(format: .domains, line: "Casino.COM.", names: ["casino.com"], rejection: nil),
        .init(format: .domains, line: "casino.com\r", names: ["casino.com"], rejection: nil),
        .init(format: .domains, line: "   casino.com\t ", names: ["casino.com"], rejection: nil),
        .init(format: .domains, line: "casino.com # added 2026-09", names: ["casino.com"], rejection: nil),
        .init(format: .domains, line: "# a comment", names: [], rejection: nil),
        .init(format: .domains, line: "", names: [], rejection: nil),
        .init(format: .domains, line: "*.ads.example", names: ["ads.example"], rejection: nil),
        .init(format: .domains, line: ".tracker.example", names: ["tracker.example"], rejection: nil),
        .init(format: .domains, line: "bücher.de", names: ["xn--bcher-kva.de"], rejection: nil),
        .init(format: .domains, line: "MÜNCHEN.de", names: ["xn--mnchen-3ya.de"], rejection: nil),
        .init(format: .domains, line: "例え。テスト", names: ["xn--r8jz45g.xn--zckzah"], rejection: nil),
        .init(format: .domains, line: "xn--bcher-kva.de", names: ["xn--bcher-kva.de"], rejection: nil),
        .init(format: .domains, line: "_dmarc.example.com", names: ["_dmarc.example.com"], rejection: nil),
        .init(format: .domains, line: "bad domain.com", names: [], rejection: "unexpected text after the name"),
        .init(format: .domains, line: "exa$mple.com", names: [], rejection: "character '$'"),
        .init(format: .domains, line: "a..b.com", names: [], rejection: "empty label"),
        .init(format: .domains, line: String(repeating: "a", count: 64) + ".com", names: [], rejection: "longer than 63"),
        .init(
            format: .domains, line: Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: "."),
            names: [], rejection: "at most 253"),
        .init(format: .domains, line: "example.com/path", names: [], rejection: "looks like a URL"),
        .init(format: .domains, line: "0.0.0.0 example.com", names: [], rejection: "hosts-file line"),
        .init(format: .hosts, line: "0.0.0.0 ads.example", names: ["ads.example"], rejection: nil),
        .init(format: .hosts, line: "127.0.0.1\tads.example # tracker", names: ["ads.example"], rejection: nil),
        .init(format: .hosts, line: ":: ads.example", names: ["ads.example"], rejection: nil),
        .init(format: .hosts, line: "0.0.0.0 a.example b.example c.example", names: ["a.example", "b.example", "c.example"], rejection: nil),
        .init(format: .hosts, line: "127.0.0.1 localhost", names: [], rejection: nil),
        .init(format: .hosts, line: "::1 localhost ip6-localhost ip6-loopback", names: [], rejection: nil),
        .init(format: .hosts, line: "255.255.255.255 broadcasthost", names: [], rejection: nil),
        .init(format: .hosts, line: "ads.example", names: [], rejection: "needs an address and a name"),
        .init(format: .hosts, line: "0.0.0.0 1.2.3.4", names: [], rejection: "is an address"),
        .init(format: .adblock, line: "||ads.example^", names: ["ads.example"], rejection: nil),
        .init(format: .adblock, line: "||Ads.Example^$important", names: ["ads.example"], rejection: nil),
        .init(format: .adblock, line: "||ads.example^|", names: ["ads.example"], rejection: nil),
        .init(format: .adblock, line: "! Title: list", names: [], rejection: nil),
        .init(format: .adblock, line: "[Adblock Plus 2.0]", names: [], rejection: nil),
        .init(format: .adblock, line: "@@||good.example^", names: [], rejection: "exception rules"),
        .init(format: .adblock, line: "example.com##.banner", names: [], rejection: "cosmetic"),
        .init(format: .adblock, line: "||ads.example^$third-party", names: [], rejection: "$third-party"),
        .init(format: .adblock, line: "||ads.example/banner/*", names: [], rejection: "path or wildcard"),
        .init(format: .adblock, line: "/banner\\d+/", names: [], rejection: "not a domain rule"),
        .init(format: .auto, line: "||ads.example^", names: ["ads.example"], rejection: nil),
        .init(format: .auto, line: "0.0.0.0 ads.example", names: ["ads.example"], rejection: nil),
        .init(format: .auto, line: "plain.example", names: ["plain.example"], rejection: nil),
        .init(format: .urls, line: "evil.example/", names: ["evil.example"], rejection: nil),
        .init(format: .urls, line: "danskporn.dk/#p2", names: ["danskporn.dk"], rejection: nil),
        .init(format: .urls, line: "http://www.evil.example/", names: ["www.evil.example"], rejection: nil),
        .init(format: .urls, line: "site.example/some path", names: [], rejection: "white space"),
    ]

    @Test("Each line format is read, normalised or refused with a reason", arguments: lineCases)
    func lineFormats(_ testCase: LineCase) throws {
        let lists = try compileLists([("test", testCase.format, testCase.line + "\n")])
        let stats = lists.stats[0]
        if let rejection = testCase.rejection {
            #expect(stats.rejected == 1)
            let reason = try #require(lists.diagnostics.first).reason
            #expect(reason.contains(rejection), "reason was: \(reason)")
        } else {
            #expect(stats.rejected == 0, "unexpected: \(lists.diagnostics)")
        }
        #expect(lists.nameCount == testCase.names.count)
        for name in testCase.names {
            #expect(lists.categoryNames(ofName: name) == ["test"], "\(name) should be listed")
        }
    }

    @Test("IPv4 lines in a UT1 domains file become address entries, not rejections")
    func addressesAreEntries() throws {
        let lists = try compileLists([("redirector", .domains, "1.2.3.4\n2001:db8::7\n10.0.0.0/8\nproxy.example\n")])
        #expect(lists.stats[0].addresses == 3)
        #expect(lists.stats[0].rejected == 0)
        #expect(lists.names(of: lists.listedCategories(ofAddress: IPAddress("1.2.3.4")!)) == ["redirector"])
        #expect(lists.names(of: lists.listedCategories(ofAddress: IPAddress("2001:db8::7")!)) == ["redirector"])
        #expect(lists.names(of: lists.listedCategories(ofAddress: IPAddress("10.200.3.4")!)) == ["redirector"])
        #expect(lists.listedCategories(ofAddress: IPAddress("1.2.3.5")!).isEmpty)
        // As a destination, an address is also in the built-in category (after the lists).
        #expect(lists.names(of: lists.categories(ofAddress: IPAddress("1.2.3.4")!)) == ["redirector", "ip-address"])
        #expect(lists.names(of: lists.categories(ofAddress: IPAddress("2001:db8::7")!)) == ["redirector", "ip-address"])
        #expect(lists.names(of: lists.categories(ofAddress: IPAddress("10.200.3.4")!)) == ["redirector", "ip-address"])
        #expect(lists.names(of: lists.categories(ofAddress: IPAddress("1.2.3.5")!)) == ["ip-address"])
    }

    @Test("Duplicates are counted once and reported as duplicates")
    func duplicates() throws {
        let lists = try compileLists([("games", .domains, "game.example\nGAME.example.\ngame.example\nother.example\n")])
        #expect(lists.stats[0].domains == 2)
        #expect(lists.stats[0].duplicates == 2)
        #expect(lists.nameCount == 2)
    }

    @Test("CRLF files, a byte-order mark and a missing final newline all load")
    func lineEndings() throws {
        let text = "\u{FEFF}first.example\r\nsecond.example\r\n\r\nthird.example"
        for chunkSize in [1, 2, 3, 5, 64, 4096] {
            let lists = try compileLists([("c", .domains, text)], chunkSize: chunkSize)
            #expect(lists.nameCount == 3, "chunk size \(chunkSize)")
            #expect(lists.stats[0].rejected == 0, "chunk size \(chunkSize): \(lists.diagnostics)")
            #expect(!lists.categories(ofName: "third.example").isEmpty)
        }
    }

    @Test("Rejected lines are reported with file and line number, and the rest still loads")
    func diagnosticsNameFileAndLine() throws {
        let text = "good.example\nbad name.example\n\nalso-good.example\nex%ample.com\n"
        let lists = try compileLists([("mixed", .domains, text)])
        #expect(lists.nameCount == 2)
        #expect(lists.rejectedTotal == 2)
        #expect(lists.diagnostics.map(\.line) == [2, 5])
        #expect(lists.diagnostics.allSatisfy { $0.file == "mixed.txt" })
        #expect(lists.diagnostics[1].description.hasPrefix("mixed.txt:5: "))
    }

    @Test("A line longer than the limit is refused without being buffered, across any chunking")
    func hugeLines() throws {
        let huge = String(repeating: "a", count: ListCompiler.maxLineLength * 3)
        let text = "before.example\n\(huge)\nafter.example\n\(huge)"
        for chunkSize in [7, 1000, 1 << 20] {
            let lists = try compileLists([("c", .domains, text)], chunkSize: chunkSize)
            #expect(lists.nameCount == 2, "chunk size \(chunkSize)")
            #expect(lists.rejectedTotal == 2, "chunk size \(chunkSize)")
            #expect(lists.diagnostics.map(\.line) == [2, 4], "chunk size \(chunkSize)")
            #expect(lists.diagnostics.allSatisfy { $0.reason.contains("longer than") })
        }
    }

    @Test("Binary junk and invalid UTF-8 are refused, never crash, and do not stop the file")
    func binaryJunk() throws {
        var bytes: [UInt8] = Array("ok.example\n".utf8)
        bytes += [0x00, 0x01, 0xFF, 0xFE, 0x0A]  // NUL and junk
        bytes += [0xC3, 0x28, 0x2E, 0x63, 0x6F, 0x6D, 0x0A]  // invalid UTF-8 then ".com"
        bytes += Array("ok2.example\n".utf8)
        var compiler = ListCompiler()
        let category = try compiler.addCategory(name: "junk", source: "junk")
        var done = false
        compiler.ingest(file: "junk.bin", category: category, format: .auto) { chunk in
            guard !done else { return false }
            chunk = bytes
            done = true
            return true
        }
        let lists = compiler.build()
        #expect(lists.nameCount == 2)
        #expect(lists.rejectedTotal == 2)
        #expect(lists.diagnostics[0].reason.contains("NUL"))
        #expect(lists.diagnostics[1].reason.contains("UTF-8"))
    }

    @Test("Random bytes and mutated list lines never crash the parser (seeded)")
    func seededJunk() throws {
        var random = SplitMix64(state: 20_261_124)
        let seeds = ["casino.example", "0.0.0.0 a.example b.example", "||x.example^$important", "bücher.de",
            "host.example/path/#frag", "1.2.3.4", "::1 localhost", "*.w.example", "10.0.0.0/8"]
        var compiler = ListCompiler()
        let category = try compiler.addCategory(name: "fuzz", source: "fuzz")
        for format in ListFormat.allCases {
            var lines: [UInt8] = []
            for _ in 0..<3000 {
                var line = Array(seeds[Int(random.next() % UInt64(seeds.count))].utf8)
                for _ in 0..<Int(random.next() % 4) {
                    let position = line.isEmpty ? 0 : Int(random.next() % UInt64(line.count))
                    switch random.next() % 3 {
                    case 0 where !line.isEmpty: line[position] = UInt8(truncatingIfNeeded: random.next())
                    case 1: line.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
                    default: if !line.isEmpty { line.remove(at: position) }
                    }
                }
                lines += line + [0x0A]
            }
            var given = false
            compiler.ingest(file: "fuzz-\(format.rawValue)", category: category, format: format) { chunk in
                guard !given else { return false }
                chunk = lines
                given = true
                return true
            }
        }
        let lists = compiler.build()
        // Mutations produce both good and refused lines; every refusal names a line and a reason,
        // and the unmutated seed names are still matched.
        #expect(lists.stats[0].domains > 100)
        #expect(lists.stats[0].rejected > 100)
        #expect(lists.diagnostics.allSatisfy { $0.line >= 1 && !$0.reason.isEmpty })
        #expect(lists.categoryNames(ofName: "www.casino.example") == ["fuzz"])
    }
}
