/// Wire fixtures, as hex.
///
/// Queries were captured from real `dig` (BIND 9.18.49, Debian 12) on this machine: a small
/// Python listener on 127.0.0.1 recorded the first datagram (or, for the TCP cases, the first
/// message after the 2-octet length prefix, which was removed) sent by
/// `dig @127.0.0.1 -p PORT +tries=1 +time=1 <arguments>`. The arguments are in each comment.
///
/// Responses were hand-assembled byte by byte in Python from the RFC 1035 4.1 layouts (with
/// compression pointers placed by hand) and checked by parsing them with dnspython 2.9.2; the
/// records dnspython printed are in each comment.
enum Fixtures {
    // MARK: Queries captured from dig

    /// `example.com A` (dig defaults: RD, AD, EDNS 1232 with a COOKIE option).
    static let digExampleComAEDNS =
        "b60001200001000000000001076578616d706c6503636f6d000001000100002904d000000000000c000a000865fb5eb7e9505d07"
    /// `example.com A +noedns`.
    static let digExampleComANoEDNS = "957901200001000000000000076578616d706c6503636f6d0000010001"
    /// `WwW.ExAmPlE.oRg AAAA` (mixed case must be echoed).
    static let digMixedCaseAAAA =
        "588f0120000100000000000103577757074578416d506c45036f526700001c000100002904d000000000000c000a0008"
        + "a308bcb25eff4324"
    /// `example.net ANY +dnssec` (dig sent it over TCP; DO bit set).
    static let digAnyDNSSEC =
        "caba01200001000000000001076578616d706c65036e65740000ff000100002904d000008000000c000a0008590835d87ef615c9"
    /// `example.com MX +tcp`.
    static let digTCPQueryMX =
        "414001200001000000000001076578616d706c6503636f6d00000f000100002904d000000000000c000a0008c3f9bba60fa54321"
    /// `cloudflare.com HTTPS +nocookie +bufsize=4096 +subnet=192.0.2.0/24` (ECS option).
    static let digHTTPSWithClientSubnet =
        "aa59012000010000000000010a636c6f7564666c61726503636f6d0000410001000029100000000000000b0008000700011800c00002"
    /// `. NS +norec` (the root name).
    static let digRootNS = "daa800200001000000000001000002000100002904d000000000000c000a000899a4b90e20cb65a4"
    /// `-x 192.0.2.1` (PTR).
    static let digPTR =
        "7bfb012000010000000000010131013201300331393207696e2d61646472046172706100000c000100002904d000000000000c"
        + "000a00081bc97d6d1313b5b1"
    /// `example.com TXT +bufsize=65000 +nocookie +ad +cd` (RD, AD and CD set; dig capped the size at 1232).
    static let digTXTWithCD =
        "ef3601300001000000000001076578616d706c6503636f6d000010000100002904d0000000000000"

    static let queries: [(String, String)] = [
        ("example.com A", digExampleComAEDNS), ("example.com A +noedns", digExampleComANoEDNS),
        ("WwW.ExAmPlE.oRg AAAA", digMixedCaseAAAA), ("example.net ANY +dnssec", digAnyDNSSEC),
        ("example.com MX +tcp", digTCPQueryMX), ("cloudflare.com HTTPS +subnet", digHTTPSWithClientSubnet),
        (". NS +norec", digRootNS), ("-x 192.0.2.1", digPTR), ("example.com TXT +ad +cd", digTXTWithCD),
    ]

    // MARK: Hand-assembled responses

    /// 124 octets, RD RA NOERROR, EDNS 1232:
    ///     www.example.com. 300 IN CNAME cdn.example.net.
    ///     cdn.example.net. 60 IN CNAME edge.cdn.example.net.   (target = "edge" + pointer)
    ///     edge.cdn.example.net. 20 IN A 192.0.2.10
    ///     edge.cdn.example.net. 20 IN A 192.0.2.11             (owners are pointers into RDATA)
    static let cnameChainResponse =
        "12348180000100040000000103777777076578616d706c6503636f6d0000010001c00c000500010000012c00110363646e07657861"
        + "6d706c65036e657400c02d000500010000003c00070465646765c02dc04a00010001000000140004c000020ac04a000100010000"
        + "00140004c000020b00002904d0000000000000"
    /// 96 octets, NXDOMAIN for nope.example.com AAAA, EDNS 1232 with DO:
    ///     example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300
    /// (owner, MNAME and RNAME all point into the question name).
    static let nxdomainSOAResponse =
        "beef81830001000000010001046e6f7065076578616d706c6503636f6d00001c0001c011000600010000012c0027036e7331c0110a"
        + "686f73746d6173746572c01178a3f17500001c2000000e10001275000000012c00002904d0000080000000"
    /// 113 octets, AA RD RA, EDNS 4096 with an NSID option "ns-1":
    ///     example.com. 3600 IN MX 10 mail.example.com.
    ///     mail.example.com. 3600 IN A 198.51.100.25      (additional)
    ///     mail.example.com. 3600 IN AAAA 2001:db8::25    (additional)
    static let mxWithGlueResponse =
        "0a0b85800001000100000003076578616d706c6503636f6d00000f0001c00c000f000100000e100009000a046d61696cc00cc02b00"
        + "01000100000e100004c6336419c02b001c000100000e10001020010db80000000000000000000000250000291000000000000008"
        + "000300046e732d31"
    /// 61 octets, the RFC 8482 minimal answer to ANY, EDNS with DO:
    ///     example.net. 3789 IN HINFO "RFC8482" ""
    static let rfc8482AnyResponse =
        "caba81800001000100000001076578616d706c65036e65740000ff0001c00c000d000100000ecd000907524643383438320000002904"
        + "d0000080000000"
    /// 69 octets, no EDNS:
    ///     cloudflare.com. 300 IN HTTPS 1 . alpn="h3,h2" ipv4hint="104.16.132.229,104.16.133.229"
    static let httpsResponse =
        "aa59818000010001000000000a636c6f7564666c61726503636f6d0000410001c00c004100010000012c001900010000010006026833"
        + "02683200040008681084e5681085e5"
    /// 115 octets, no EDNS:
    ///     _sip._tcp.example.com. 600 IN SRV 10 60 5060 sip.example.com.   (target uncompressed)
    ///     10.2.0.192.in-addr.arpa. 600 IN PTR sip.example.com.          (additional; "sip" + pointer)
    static let srvAndPTRResponse =
        "515181800001000100000001045f736970045f746370076578616d706c6503636f6d0000210001c00c00210001000002580017000a"
        + "003c13c403736970076578616d706c6503636f6d00023130013201300331393207696e2d61646472046172706100000c00010000"
        + "0258000603736970c016"

    static let responses: [(String, String)] = [
        ("CNAME chain", cnameChainResponse), ("NXDOMAIN with SOA", nxdomainSOAResponse),
        ("MX with glue", mxWithGlueResponse), ("RFC 8482 ANY", rfc8482AnyResponse), ("HTTPS", httpsResponse),
        ("SRV and PTR", srvAndPTRResponse),
    ]

    static var all: [(String, String)] { queries + responses }
}
