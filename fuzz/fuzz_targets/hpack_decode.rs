//! Fuzz the HPACK decoder: a sequence of header blocks on one decoder
//! (so the dynamic table carries state from block to block).
//!
//! Input: byte 0 picks the table size and limits; the rest is split into
//! blocks at each 0xff 0x00 pair.
//!
//! Checks: no panic; a decoded list respects the limits (list size with
//! 32 bytes per field, field count); a list that decoded re-encodes (both
//! encoder modes) into blocks that decode to the same fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_h2::hpack::{DecodeLimits, Decoder, Encoder, HeaderList, IndexMode};

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let table = [0usize, 64, 256, 4096][usize::from(ctl & 3)];
    let limits = DecodeLimits { max_list_size: 64 << (ctl >> 2 & 7), max_fields: 1 + usize::from(ctl >> 5) * 8 };
    let mut d = Decoder::new(table);
    let mut list = HeaderList::new();
    for block in rest.split(|&b| b == 0xff) {
        if d.decode(block, limits, &mut list).is_err() {
            continue;
        }
        assert!(list.list_size() <= limits.max_list_size);
        assert!(list.len() <= limits.max_fields);
        let sum: usize = list.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
        assert_eq!(sum, list.list_size());
        for mode in [IndexMode::Stateless, IndexMode::Indexing] {
            let mut e = Encoder::new(mode);
            let mut out = Vec::new();
            e.begin(&mut out);
            for (n, v) in list.iter() {
                e.encode_field(n, v, &mut out);
            }
            let mut back = HeaderList::new();
            let unbounded = DecodeLimits { max_list_size: usize::MAX, max_fields: usize::MAX };
            Decoder::new(4096).decode(&out, unbounded, &mut back).expect("our own block decodes");
            assert!(back.iter().eq(list.iter()));
        }
    }
});
