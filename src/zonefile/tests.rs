//! Whole-file tests: each record type, each quirk, warnings and fatal errors.
//! SPEC vectors are in `vector_tests`, corpus and garbage tests in `corpus_tests`.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;

pub(super) fn rec(owner: &str, ttl: u32, data: RecordData) -> ZoneRecord {
    ZoneRecord { owner: owner.into(), ttl, data }
}

pub(super) fn txt(strings: &[&str]) -> RecordData {
    RecordData::Txt(strings.iter().map(|s| s.as_bytes().to_vec()).collect())
}

pub(super) fn uri(priority: u16, weight: u16, target: &str) -> RecordData {
    RecordData::Uri { priority, weight, target: target.into() }
}

/// Parses with default origin `foo.id`; panics on a fatal error.
fn ok(text: &str) -> ZoneFile {
    match parse(text.as_bytes(), Some("foo.id")) {
        Ok(zf) => zf,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

#[test]
fn each_record_type() {
    let cases: Vec<(&str, RecordData)> = vec![
        ("@ A 192.0.2.1", RecordData::A(Ipv4Addr::new(192, 0, 2, 1))),
        ("@ AAAA 2001:db8::1", RecordData::Aaaa(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))),
        ("@ CNAME other.id.", RecordData::Cname("other.id".into())),
        ("@ MX 10 mail", RecordData::Mx { preference: 10, exchange: "mail.foo.id".into() }),
        ("@ NS ns1.example.com.", RecordData::Ns("ns1.example.com".into())),
        ("@ TXT \"hello world\"", txt(&["hello world"])),
        ("@ SRV 1 2 443 host", RecordData::Srv { priority: 1, weight: 2, port: 443, target: "host.foo.id".into() }),
        ("@ URI 10 1 \"https://example.com/p.json\"", uri(10, 1, "https://example.com/p.json")),
        (
            "@ TLSA 3 1 1 ABCDEF 0123",
            RecordData::Tlsa { usage: 3, selector: 1, matching: 1, data: vec![0xab, 0xcd, 0xef, 0x01, 0x23] },
        ),
    ];
    for (line, data) in cases {
        let zf = ok(line);
        assert_eq!(zf.records, vec![rec("foo.id", DEFAULT_TTL, data)], "{line}");
        assert!(zf.warnings.is_empty(), "{line}: {:?}", zf.warnings);
    }
}

#[test]
fn quirks() {
    let cases: Vec<(&str, &str, Vec<ZoneRecord>)> = vec![
        (
            "mainnet: $TTL on the $ORIGIN line",
            "$ORIGIN test-personal.id $TTL 600\n_resolver IN URI 10 1 \"https://r.example\" \n",
            vec![rec("_resolver.test-personal.id", 600, uri(10, 1, "https://r.example"))],
        ),
        (
            "$TTL before $ORIGIN on one line",
            "$TTL 60 $origin bar.id.\n@ A 1.1.1.1",
            vec![rec("bar.id", 60, RecordData::A(Ipv4Addr::new(1, 1, 1, 1)))],
        ),
        (
            "origin with and without dot; relative and absolute names",
            "$ORIGIN bar.id.\nwww CNAME web\nx.Other.ID. CNAME web.other.id.\n",
            vec![
                rec("www.bar.id", DEFAULT_TTL, RecordData::Cname("web.bar.id".into())),
                rec("x.other.id", DEFAULT_TTL, RecordData::Cname("web.other.id".into())),
            ],
        ),
        (
            "no $ORIGIN: default origin",
            "www A 1.2.3.4",
            vec![rec("www.foo.id", DEFAULT_TTL, RecordData::A(Ipv4Addr::new(1, 2, 3, 4)))],
        ),
        (
            "a second $ORIGIN changes later names",
            "$ORIGIN a.id\nx A 1.1.1.1\n$ORIGIN b.id\nx A 2.2.2.2\n",
            vec![
                rec("x.a.id", DEFAULT_TTL, RecordData::A(Ipv4Addr::new(1, 1, 1, 1))),
                rec("x.b.id", DEFAULT_TTL, RecordData::A(Ipv4Addr::new(2, 2, 2, 2))),
            ],
        ),
        (
            "owner omitted: previous owner; ttl/class in either order",
            "MiXeD 300 IN A 1.1.1.1\n IN 400 A 2.2.2.2\n\t500 A 3.3.3.3\n  IN A 4.4.4.4\n",
            vec![
                rec("mixed.foo.id", 300, RecordData::A(Ipv4Addr::new(1, 1, 1, 1))),
                rec("mixed.foo.id", 400, RecordData::A(Ipv4Addr::new(2, 2, 2, 2))),
                rec("mixed.foo.id", 500, RecordData::A(Ipv4Addr::new(3, 3, 3, 3))),
                rec("mixed.foo.id", DEFAULT_TTL, RecordData::A(Ipv4Addr::new(4, 4, 4, 4))),
            ],
        ),
        (
            "$TTL is the default; record ttl wins; bind units",
            "$TTL 1h\na A 1.1.1.1\nb 1d2h IN A 2.2.2.2\n",
            vec![
                rec("a.foo.id", 3600, RecordData::A(Ipv4Addr::new(1, 1, 1, 1))),
                rec("b.foo.id", 93_600, RecordData::A(Ipv4Addr::new(2, 2, 2, 2))),
            ],
        ),
        (
            "comments, parentheses across lines, escapes in quotes",
            "; header\na TXT ( \"x;y\" ; first\n  \"q\\\"\\\\\\065\" )  ; done\n",
            vec![rec("a.foo.id", DEFAULT_TTL, txt(&["x;y", "q\"\\A"]))],
        ),
        (
            "TXT: several strings, quoted or bare, empty string",
            "t TXT \"one\" two \"\" \"thr ee\"",
            vec![rec("t.foo.id", DEFAULT_TTL, txt(&["one", "two", "", "thr ee"]))],
        ),
        (
            "indented line with its own owner (blockstack_zones reads it so)",
            "  _http._tcp IN URI 10 1 \"https://x\"",
            vec![rec("_http._tcp.foo.id", DEFAULT_TTL, uri(10, 1, "https://x"))],
        ),
        (
            "line starting with a type or class has owner @ (blockstack_zones)",
            "TXT \"k=v\"\nIN URI 1 1 \"u\"\n",
            vec![rec("foo.id", DEFAULT_TTL, txt(&["k=v"])), rec("foo.id", DEFAULT_TTL, uri(1, 1, "u"))],
        ),
        (
            "type-named and numeric owners stay owners",
            "a A 1.1.1.1\n359 TXT x\n",
            vec![
                rec("a.foo.id", DEFAULT_TTL, RecordData::A(Ipv4Addr::new(1, 1, 1, 1))),
                rec("359.foo.id", DEFAULT_TTL, txt(&["x"])),
            ],
        ),
        (
            "lower-case type and class, CRLF, no final newline",
            "w in uri 1 2 \"u\"\r\nv txt x",
            vec![rec("w.foo.id", DEFAULT_TTL, uri(1, 2, "u")), rec("v.foo.id", DEFAULT_TTL, txt(&["x"]))],
        ),
        (
            "URI with a bare target (subdomain zone files)",
            "$ORIGIN alice1\n$TTL 3600\n_https._tcp URI 10 1 https://hub.cruxpay.com",
            vec![rec("_https._tcp.alice1", 3600, uri(10, 1, "https://hub.cruxpay.com"))],
        ),
        (
            "byte-order mark before $ORIGIN; CLASS1 is IN",
            "\u{feff}$ORIGIN bom.id\n@ CLASS1 A 1.1.1.1",
            vec![rec("bom.id", DEFAULT_TTL, RecordData::A(Ipv4Addr::new(1, 1, 1, 1)))],
        ),
        (
            "null MX and SRV '.' target are the root",
            "@ MX 0 .\n_x._tcp SRV 0 0 0 .",
            vec![
                rec("foo.id", DEFAULT_TTL, RecordData::Mx { preference: 0, exchange: String::new() }),
                rec(
                    "_x._tcp.foo.id",
                    DEFAULT_TTL,
                    RecordData::Srv { priority: 0, weight: 0, port: 0, target: String::new() },
                ),
            ],
        ),
    ];
    for (what, text, want) in cases {
        let zf = ok(text);
        assert_eq!(zf.records, want, "{what}");
        assert!(zf.warnings.is_empty(), "{what}: {:?}", zf.warnings);
    }
}

#[test]
fn long_txt_is_cut_into_255_byte_pieces() {
    let long = "z".repeat(700);
    let zf = ok(&format!("l TXT \"{long}\" short"));
    let RecordData::Txt(strings) = &zf.records[0].data else { panic!("not txt") };
    let lens: Vec<usize> = strings.iter().map(Vec::len).collect();
    assert_eq!(lens, vec![255, 255, 190, 5]);
}

#[test]
fn escaped_bytes_in_txt_need_not_be_utf8() {
    let zf = ok("b TXT \"\\255\\000x\"");
    assert_eq!(zf.records[0].data, RecordData::Txt(vec![vec![255, 0, b'x']]));
}

#[test]
fn origin_and_ttl_fields() {
    let cases: Vec<(&str, Option<&str>, Option<u32>)> = vec![
        ("$ORIGIN Muneeb.ID.\n$TTL 3600\n", Some("muneeb.id"), Some(3600)),
        ("$ORIGIN a.id $TTL 5\n$ORIGIN b.id\n$TTL 7\n", Some("a.id"), Some(5)),
        ("$TTL x\n$TTL 9\n", None, Some(9)),
        ("", None, None),
    ];
    for (text, origin, ttl) in cases {
        let zf = ok(text);
        assert_eq!((zf.origin.as_deref(), zf.ttl), (origin, ttl), "{text:?}");
    }
}

#[test]
fn skipped_lines_warn() {
    let cases: Vec<(&str, usize, Vec<&str>)> = vec![
        ("@ IN SOA ns host 1 2 3 4 5\n@ A 1.1.1.1", 1, vec!["line 1: unsupported record type SOA"]),
        (
            "@ TYPE99 \\# 0\n@ CAA 0 issue x",
            0,
            vec!["line 1: unsupported record type TYPE99", "line 2: unsupported record type CAA"],
        ),
        ("@ FOO bar", 0, vec!["line 1: expected a record type, found 'FOO'"]),
        ("@ 3600 IN", 0, vec!["line 1: missing record type"]),
        ("@ CH TXT x", 0, vec!["line 1: class CH is not supported"]),
        ("@ 99999999999 A 1.1.1.1", 0, vec!["line 1: ttl 99999999999 is more than 2147483647"]),
        ("@ A 1.2.3", 0, vec!["line 1: A record: invalid ipv4 address '1.2.3'"]),
        ("@ MX mail", 0, vec!["line 1: MX record: invalid preference 'mail'"]),
        ("@ URI 10 1", 0, vec!["line 1: URI record: missing target"]),
        ("@ A 1.1.1.1 extra", 0, vec!["line 1: A record: 1 unexpected tokens after the record data"]),
        ("@ CNAME \"quoted\"", 0, vec!["line 1: CNAME record: quoted string where a name was expected: \"quoted\""]),
        ("caf\u{e9} A 1.1.1.1", 0, vec!["line 1: invalid character '\u{e9}' in name 'caf\u{e9}.foo.id'"]),
        ("\n\na TXT \"open\nb A 1.1.1.1", 1, vec!["line 3: unterminated quoted string"]),
        ("a TXT ( x\n y", 0, vec!["line 1: parenthesis not closed before end of file"]),
        (
            "$TTL\n$INCLUDE f\n$FOO 1",
            0,
            vec![
                "line 1: $TTL without a value",
                "line 2: $INCLUDE is not supported",
                "line 3: unknown directive '$FOO'",
            ],
        ),
        ("$ORIGIN bar.id junk\n@ A 1.1.1.1", 1, vec!["line 1: unexpected token 'junk' after a directive"]),
        (
            "$TTL -1\n$TTL 1x\n$TTL \"5\"",
            0,
            vec!["line 1: invalid ttl '-1'", "line 2: invalid ttl '1x'", "line 3: invalid $TTL '5'"],
        ),
    ];
    for (text, n_records, warnings) in cases {
        let zf = ok(text);
        assert_eq!(zf.records.len(), n_records, "{text:?}");
        assert_eq!(zf.warnings, warnings, "{text:?}");
    }
}

#[test]
fn fatal_errors() {
    let big = vec![b' '; MAX_ZONEFILE_LEN + 1];
    let long_label = format!("{} A 1.1.1.1", "x".repeat(64));
    let long_name = format!("{}. A 1.1.1.1", vec!["y".repeat(63); 4].join("."));
    let x64 = "x".repeat(64);
    let y63 = "y".repeat(63);
    let label_msg = format!("line 1: name '{x64}' has a label of 64 bytes, more than 63");
    let name_msg = format!("line 1: name '{y63}.{}...' is 255 bytes, more than 253", "y".repeat(16));
    let cases: Vec<(&[u8], Option<&str>, &str)> = vec![
        (&big, None, "zone file is 40961 bytes, more than the limit of 40960"),
        (b"www A 1.1.1.1", None, "line 1: relative name 'www' with no origin"),
        (b"\n@ A 1.1.1.1", None, "line 2: relative name '@' with no origin"),
        (b"  A 1.1.1.1", None, "line 1: relative name '@' with no origin"),
        (b"abs.id. CNAME rel", None, "line 1: relative name 'rel' with no origin"),
        (b"a..b A 1.1.1.1", Some("id"), "line 1: name 'a..b' has an empty label"),
        (b"$ORIGIN .id", None, "line 1: name '.id.' has an empty label"),
        (b"@ MX 1 a..", Some("id"), "line 1: name 'a..' has an empty label"),
        (long_label.as_bytes(), Some("id"), &label_msg),
        (long_name.as_bytes(), None, &name_msg),
        (b"@ A 1.1.1.1", Some("a..id"), "line 0: name 'a..id.' has an empty label"),
    ];
    for (text, origin, want) in cases {
        let got = parse(text, origin).map(|zf| zf.records).map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{:?}", String::from_utf8_lossy(&text[..text.len().min(40)]));
    }
}
