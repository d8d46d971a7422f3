//! weir-http parser vs httparse, side by side in the same run, plus the router.
//!
//! Run: `cargo bench -p weir-http --bench parser -- --warm-up-time 1 --measurement-time 3`
//!
//! Both parsers do equivalent work per iteration: parse a complete head into
//! a reused header array (httparse) / the parser's reused header storage
//! (weir, `parse_ref`). weir also computes framing and connection facts and
//! enforces the strict rules.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use weir_http::{Limits, RequestParser};

mod common;

use common::*;

fn parsers(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("parse");
    for (name, buf) in [("minimal_get", MINIMAL), ("browser_get_12_headers", BROWSER)] {
        g.throughput(Throughput::Bytes(buf.len() as u64));
        let mut p = RequestParser::new(limits);
        g.bench_with_input(BenchmarkId::new("weir", name), buf, |b, buf| {
            b.iter(|| weir_head(&mut p, black_box(buf)));
        });
        g.bench_with_input(BenchmarkId::new("httparse", name), buf, |b, buf| {
            b.iter(|| httparse_head(black_box(buf)));
        });
    }
    g.throughput(Throughput::Bytes(POST_CHUNKED.len() as u64));
    let mut p = RequestParser::new(limits);
    g.bench_with_input(BenchmarkId::new("weir", "post_chunked"), POST_CHUNKED, |b, buf| {
        b.iter(|| weir_post(&mut p, &limits, black_box(buf)));
    });
    g.bench_with_input(BenchmarkId::new("httparse", "post_chunked"), POST_CHUNKED, |b, buf| {
        b.iter(|| httparse_post(black_box(buf)));
    });
    g.finish();

    // A slow sender: the browser head arrives 16 bytes per read. weir resumes;
    // httparse must rescan from byte 0 on every call.
    let mut g = c.benchmark_group("parse_16_byte_reads");
    g.throughput(Throughput::Bytes(BROWSER.len() as u64));
    let mut p = RequestParser::new(limits);
    g.bench_function("weir", |b| {
        b.iter(|| {
            let buf = black_box(BROWSER);
            let mut end = 16;
            loop {
                match p.parse(&buf[..end.min(buf.len())]).expect("valid") {
                    Some(h) => {
                        let n = h.head_len();
                        p.recycle(h);
                        break n;
                    }
                    None => end += 16,
                }
            }
        });
    });
    g.bench_function("httparse", |b| {
        b.iter(|| {
            let buf = black_box(BROWSER);
            let mut end = 16;
            loop {
                let mut headers = [httparse::EMPTY_HEADER; 16];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(&buf[..end.min(buf.len())]).expect("valid") {
                    httparse::Status::Complete(n) => break n,
                    httparse::Status::Partial => end += 16,
                }
            }
        });
    });
    g.finish();
}

fn router(c: &mut Criterion) {
    let r = routes();
    let mut g = c.benchmark_group("router_100_routes");
    g.bench_function("3_segments_1_param", |b| {
        b.iter(|| {
            let m = r.lookup(black_box(b"GET"), black_box("/api/res17/12345")).expect("match");
            *m.value + m.params.len() as u32
        });
    });
    g.bench_function("static_3_segments", |b| {
        b.iter(|| *r.lookup(black_box(b"GET"), black_box("/pages/p17/index")).expect("match").value);
    });
    g.bench_function("not_found", |b| {
        b.iter(|| r.lookup(black_box(b"GET"), black_box("/api/nope/1")).is_err());
    });
    g.finish();
}

criterion_group!(benches, parsers, router);
criterion_main!(benches);
