//! Fuzz the router: lines of the input before an empty line are routes
//! (`METHOD pattern`), the rest are lookups (`METHOD path`). Nothing panics,
//! a match's parameters are slices of the path, and 405 comes with an Allow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_http::{LookupError, Router};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (routes, lookups) = text.split_once("\n\n").unwrap_or((text, "GET /"));
    let mut r = Router::new();
    for (i, line) in routes.lines().take(64).enumerate() {
        let (m, p) = line.split_once(' ').unwrap_or(("GET", line));
        if m == "*" {
            let _ = r.insert_any(p, i);
        } else {
            let _ = r.insert(m, p, i);
        }
    }
    for line in lookups.lines().take(64) {
        let (m, p) = line.split_once(' ').unwrap_or(("GET", line));
        match r.lookup(m.as_bytes(), p) {
            Ok(found) => {
                for (_, v) in found.params.iter() {
                    let range = p.as_ptr() as usize..p.as_ptr() as usize + p.len() + 1;
                    assert!(range.contains(&(v.as_ptr() as usize)));
                }
            }
            Err(LookupError::MethodNotAllowed { allow }) => assert!(!allow.is_empty()),
            Err(LookupError::NotFound) => {}
        }
    }
});
