//! Fuzz the path normaliser: never panics, and every accepted path keeps the
//! invariants a file server relies on; normalising twice changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_http::{normalize_path, Method, Target};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = normalize_path(data) {
        assert!(p.starts_with('/'));
        assert!(!p.contains('\0') && !p.contains('\\') && !p.contains("//"));
        for seg in p.split('/') {
            assert!(seg != "." && seg != "..", "{p:?}");
        }
        // Idempotent (the output has no '%' escapes left to decode only if it
        // has no '%'; re-encode '%' to compare fairly).
        let again = normalize_path(p.replace('%', "%25").as_bytes()).expect("normal path");
        assert_eq!(again, p);
    }
    if let Ok(t) = Target::parse(Method::Get, data) {
        let _ = t.query_pairs().count();
        let _ = normalize_path(t.path());
    }
});
