//! Instruction counts per parse, weir vs httparse, for `valgrind` (whose
//! counts do not depend on machine load, unlike wall-clock benches).
//!
//! ```text
//! cargo build --release -p weir-http --example icount
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/icount weir browser 20001
//! ```
//!
//! Run each case with 1 and N+1 iterations; `(I refs(N+1) - I refs(1)) / N`
//! is the cost of one iteration. Arguments: `weir|httparse`
//! `minimal|browser|post|posthead` `iterations`.

use std::hint::black_box;
use weir_http::{Limits, RequestParser};

#[path = "../benches/common/mod.rs"]
mod common;

use common::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: icount weir|httparse minimal|browser|post|posthead ITERATIONS");
        std::process::exit(2);
    }
    let n: usize = args[3].parse().expect("iterations");
    let limits = Limits::default();
    let mut p = RequestParser::new(limits);
    let (buf, body) = match args[2].as_str() {
        "minimal" => (MINIMAL, false),
        "browser" => (BROWSER, false),
        "post" => (POST_CHUNKED, true),
        _ => (POST_CHUNKED, false),
    };
    if args[1] == "router" {
        // The bench's 100 routes; one 3-segment lookup with a parameter.
        let r = routes();
        let mut acc = 0;
        for _ in 0..n {
            let m = r.lookup(black_box(b"GET"), black_box("/api/res17/12345")).expect("match");
            acc += *m.value as usize + m.params.len();
        }
        println!("{acc}");
        return;
    }
    let weir = args[1] == "weir";
    let mut acc = 0;
    for _ in 0..n {
        acc += match (weir, body) {
            (true, true) => weir_post(&mut p, &limits, black_box(buf)),
            (true, false) => weir_head(&mut p, black_box(buf)),
            (false, true) => httparse_post(black_box(buf)),
            (false, false) => httparse_head(black_box(buf)),
        };
    }
    println!("{acc}");
}
