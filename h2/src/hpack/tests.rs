//! HPACK against RFC 7541 Appendix C, the §5/§6 error rules, the bounds,
//! and encoder/decoder round trips under proptest.

use proptest::prelude::*;

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

const LIMITS: DecodeLimits = DecodeLimits { max_list_size: 16 * 1024, max_fields: 100 };

fn fields(l: &HeaderList) -> Vec<(String, String)> {
    l.iter()
        .map(|(n, v)| (String::from_utf8_lossy(n).into_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

/// Decodes each block in turn on one decoder; checks fields and table size.
/// A header block (hex), the fields it decodes to, the table size after it.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], usize);

fn run(table: usize, blocks: &[Case<'_>]) {
    let mut d = Decoder::new(table);
    let mut out = HeaderList::new();
    for (i, (block, want, size)) in blocks.iter().enumerate() {
        d.decode(&hex(block), LIMITS, &mut out).expect("valid block");
        let want: Vec<(String, String)> = want.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        assert_eq!(fields(&out), want, "block {i}");
        assert_eq!(d.table_size(), *size, "table size after block {i}");
    }
}

const REQ1: &[(&str, &str)] =
    &[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")];
const REQ2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const REQ3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];
const RESP1: &[(&str, &str)] = &[
    (":status", "302"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESP2: &[(&str, &str)] = &[
    (":status", "307"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESP3: &[(&str, &str)] = &[
    (":status", "200"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
    ("location", "https://www.example.com"),
    ("content-encoding", "gzip"),
    ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
];

#[test]
fn rfc7541_c3_requests_without_huffman() {
    run(
        4096,
        &[
            ("828684410f7777772e6578616d706c652e636f6d", REQ1, 57),
            ("828684be58086e6f2d6361636865", REQ2, 110),
            ("828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565", REQ3, 164),
        ],
    );
}

#[test]
fn rfc7541_c4_requests_with_huffman() {
    run(
        4096,
        &[
            ("828684418cf1e3c2e5f23a6ba0ab90f4ff", REQ1, 57),
            ("828684be5886a8eb10649cbf", REQ2, 110),
            ("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf", REQ3, 164),
        ],
    );
}

#[test]
fn rfc7541_c5_responses_without_huffman_evict() {
    let mut d = Decoder::new(256);
    let mut out = HeaderList::new();
    // The table is 256 bytes: a size update is not needed, it starts there.
    d.table.set_max_size(256);
    let blocks: [Case<'_>; 3] = [
        ("4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d", RESP1, 222),
        ("4803333037c1c0bf", RESP2, 222),
        ("88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31", RESP3, 215),
    ];
    for (block, want, size) in blocks {
        d.decode(&hex(block), LIMITS, &mut out).expect("valid");
        let want: Vec<(String, String)> = want.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        assert_eq!(fields(&out), want);
        assert_eq!(d.table_size(), size);
    }
}

#[test]
fn rfc7541_c6_responses_with_huffman_evict() {
    run(
        256,
        &[
            ("488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3", RESP1, 222),
            ("4883640effc1c0bf", RESP2, 222),
            ("88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007", RESP3, 215),
        ],
    );
}

#[test]
fn integers_follow_c1_and_reject_overflow() {
    // C.1.1-C.1.3: 10 in a 5-bit prefix, 1337 in a 5-bit prefix, 42 at an octet boundary.
    for (value, n, bytes) in
        [(10usize, 5u8, vec![0x0a]), (1337, 5, vec![0x1f, 0x9a, 0x0a]), (42, 8, vec![0x2a])]
    {
        let mut out = Vec::new();
        encode_int(&mut out, value, n, 0);
        assert_eq!(out, bytes);
        let mut pos = 0;
        assert_eq!(decode_int(&bytes, &mut pos, n), Ok(value));
        assert_eq!(pos, bytes.len());
    }
    let cases: [&[u8]; 4] = [
        &[0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f],       // > u32
        &[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], // six continuation bytes
        &[0x1f, 0xff],                               // truncated
        &[],
    ];
    for c in cases {
        assert_eq!(decode_int(c, &mut 0, 5), Err(HpackError::Compression), "{c:x?}");
    }
}

#[test]
fn malformed_blocks_are_compression_errors() {
    let cases: &[(&str, &str)] = &[
        ("80", "index 0 (§6.1)"),
        ("be", "index past the table (§2.3.3)"),
        ("3fe21f", "size update above the setting (§6.3)"),
        ("823f", "size update after a field (§4.2)"),
        ("4005", "literal truncated"),
        ("00038161", "name length past the block"),
        ("0081ff0161", "Huffman EOS / bad padding in a name (§5.2)"),
    ];
    for (block, why) in cases {
        let mut d = Decoder::new(4096);
        assert_eq!(
            d.decode(&hex(block), LIMITS, &mut HeaderList::new()),
            Err(HpackError::Compression),
            "{why}"
        );
    }
    // A size update at the start is fine, even two of them.
    let mut d = Decoder::new(4096);
    assert_eq!(d.decode(&hex("203f6182"), LIMITS, &mut HeaderList::new()), Ok(()));
}

#[test]
fn an_hpack_bomb_is_bounded_and_keeps_the_table_in_step() {
    // One 4000-byte entry, then 1,000 one-byte references to it: 4 MB of
    // headers from 1 KB of block, stopped at the list limit without copying.
    let mut block = vec![0x40, 0x01, b'x'];
    encode_int(&mut block, 4000, 7, 0);
    block.extend([b'a'; 4000]);
    block.extend([0xbe; 1000]);
    block.push(0x82);
    let mut d = Decoder::new(4096);
    let mut out = HeaderList::new();
    assert_eq!(d.decode(&block, LIMITS, &mut out), Err(HpackError::ListTooLarge));
    assert!(out.is_empty() && out.buf.capacity() <= 3 * 16 * 1024, "{}", out.buf.capacity());
    // The table is still in step: the next block can use the entry.
    assert_eq!(d.decode(&[0x82], LIMITS, &mut out), Ok(()));
    let limits = DecodeLimits { max_list_size: 1 << 20, max_fields: 3 };
    assert_eq!(d.decode(&[0x82, 0x82, 0x82, 0x82], limits, &mut out), Err(HpackError::TooManyFields));
    assert_eq!(d.decode(&[0x82, 0x82, 0x82], limits, &mut out), Ok(()));
    // 32 bytes of overhead per field count toward the list size.
    let limits = DecodeLimits { max_list_size: 2 * (7 + 3 + 32), max_fields: 100 };
    assert_eq!(d.decode(&[0x82, 0x82], limits, &mut out), Ok(()));
    assert_eq!(out.list_size(), 84);
    assert_eq!(d.decode(&[0x82, 0x82, 0x82], limits, &mut out), Err(HpackError::ListTooLarge));
}

#[test]
fn the_encoder_uses_the_table_only_when_asked() {
    let resp = [(&b":status"[..], &b"200"[..]), (b"content-type", b"text/plain"), (b"server", b"weir")];
    for (mode, second_len) in [(IndexMode::Stateless, None), (IndexMode::Indexing, Some(3))] {
        let mut e = Encoder::new(mode);
        let mut d = Decoder::new(4096);
        let mut sizes = Vec::new();
        for _ in 0..2 {
            let mut block = Vec::new();
            e.begin(&mut block);
            for (n, v) in resp {
                e.encode_field(n, v, &mut block);
            }
            let mut out = HeaderList::new();
            d.decode(&block, LIMITS, &mut out).expect("decodes");
            assert_eq!(out.iter().collect::<Vec<_>>(), resp);
            sizes.push(block.len());
        }
        if let Some(n) = second_len {
            assert_eq!(sizes[1], n, "all three indexed the second time");
        } else {
            assert_eq!(sizes[0], sizes[1]);
            assert_eq!(d.table_size(), 0, "stateless adds nothing");
        }
    }
    // A smaller peer table is announced with a size update.
    let mut e = Encoder::new(IndexMode::Indexing);
    e.set_peer_max(100);
    let mut block = Vec::new();
    e.begin(&mut block);
    assert_eq!(block, [0x3f, 0x45]);
}

proptest! {
    #[test]
    fn round_trip(fields in proptest::collection::vec(
        ("[a-z0-9-]{1,20}", proptest::collection::vec(any::<u8>(), 0..40)), 0..20),
        indexing in any::<bool>(), table in 0usize..5000)
    {
        let mode = if indexing { IndexMode::Indexing } else { IndexMode::Stateless };
        let mut e = Encoder::new(mode);
        e.set_peer_max(table);
        let mut d = Decoder::new(table.max(1));
        for _ in 0..3 {
            let mut block = Vec::new();
            e.begin(&mut block);
            for (n, v) in &fields {
                e.encode_field(n.as_bytes(), v, &mut block);
            }
            let mut out = HeaderList::new();
            d.decode(&block, DecodeLimits { max_list_size: usize::MAX, max_fields: usize::MAX }, &mut out)
                .expect("decodes");
            let got: Vec<(Vec<u8>, Vec<u8>)> = out.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
            let want: Vec<(Vec<u8>, Vec<u8>)> = fields.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.clone())).collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn any_block_decodes_or_errs_without_panicking(block in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut d = Decoder::new(4096);
        let _ = d.decode(&block, LIMITS, &mut HeaderList::new());
    }
}
