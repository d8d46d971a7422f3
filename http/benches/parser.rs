//! weir-http parser vs httparse, side by side in the same run, plus the router.
//!
//! Run: `cargo bench -p weir-http --bench parser -- --warm-up-time 1 --measurement-time 3`
//!
//! Both parsers do equivalent work per iteration: parse a complete head into
//! a reused header array (httparse) / a recycled header Vec (weir). weir also
//! computes framing and connection facts and enforces the strict rules.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use weir_http::{BodyDecoder, Decoded, Limits, RequestParser, Router};

const MINIMAL: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

const BROWSER: &[u8] = b"GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n\
Host: www.kittyhell.com\r\n\
User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n\
Accept-Encoding: gzip,deflate\r\n\
Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n\
Keep-Alive: 115\r\n\
Connection: keep-alive\r\n\
Referer: https://www.kittyhell.com/2010/03/\r\n\
Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x\r\n\
Cache-Control: max-age=0\r\n\
Upgrade-Insecure-Requests: 1\r\n\r\n";

const POST_CHUNKED: &[u8] = b"POST /api/v1/upload HTTP/1.1\r\n\
Host: api.example.com\r\n\
User-Agent: curl/8.5.0\r\n\
Accept: */*\r\n\
Content-Type: application/json\r\n\
Transfer-Encoding: chunked\r\n\r\n\
1a\r\n{\"name\":\"weir\",\"id\":12345,\r\n\
1e\r\n\"tags\":[\"http\",\"fast\",\"rust\"]}\r\n\
0\r\n\r\n";

fn weir_head(p: &mut RequestParser, buf: &[u8]) -> usize {
    let h = p.parse(buf).expect("valid").expect("complete");
    let n = h.head_len() + h.header_count();
    p.recycle(h);
    n
}

fn httparse_head(buf: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf).expect("valid") {
        httparse::Status::Complete(n) => n + req.headers.len(),
        httparse::Status::Partial => unreachable!(),
    }
}

fn weir_post(p: &mut RequestParser, limits: &Limits, buf: &[u8]) -> usize {
    let h = p.parse(buf).expect("valid").expect("complete");
    let mut pos = h.head_len();
    let mut d = BodyDecoder::new(h.framing(), limits);
    let mut data = 0;
    loop {
        let (n, r) = d.decode(&buf[pos..]).expect("valid body");
        match r {
            Decoded::Data(r) => data += r.len(),
            Decoded::Done => break,
            Decoded::NeedMore => unreachable!(),
        }
        pos += n;
    }
    p.recycle(h);
    data
}

fn httparse_post(buf: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(mut pos) = req.parse(buf).expect("valid") else { unreachable!() };
    let mut data = 0;
    loop {
        let httparse::Status::Complete((n, size)) = httparse::parse_chunk_size(&buf[pos..]).expect("valid")
        else {
            unreachable!()
        };
        pos += n;
        if size == 0 {
            break; // (httparse has no trailer parser; the final CRLF is left)
        }
        data += size as usize;
        pos += size as usize + 2;
    }
    data
}

fn parsers(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("parse");
    for (name, buf) in [("minimal_get", MINIMAL), ("browser_get_12_headers", BROWSER)] {
        g.throughput(Throughput::Bytes(buf.len() as u64));
        let mut p = RequestParser::new(limits);
        g.bench_with_input(BenchmarkId::new("weir", name), buf, |b, buf| {
            b.iter(|| weir_head(&mut p, black_box(buf)))
        });
        g.bench_with_input(BenchmarkId::new("httparse", name), buf, |b, buf| {
            b.iter(|| httparse_head(black_box(buf)))
        });
    }
    g.throughput(Throughput::Bytes(POST_CHUNKED.len() as u64));
    let mut p = RequestParser::new(limits);
    g.bench_with_input(BenchmarkId::new("weir", "post_chunked"), POST_CHUNKED, |b, buf| {
        b.iter(|| weir_post(&mut p, &limits, black_box(buf)))
    });
    g.bench_with_input(BenchmarkId::new("httparse", "post_chunked"), POST_CHUNKED, |b, buf| {
        b.iter(|| httparse_post(black_box(buf)))
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
        })
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
        })
    });
    g.finish();
}

/// 100 routes: 25 resources x (list, show `:id`, nested static, catch-all-ish).
fn routes() -> Router<u32> {
    let mut r = Router::new();
    let mut v = 0;
    for i in 0..25 {
        for (m, p) in [
            ("GET", format!("/api/res{i}")),
            ("GET", format!("/api/res{i}/:id")),
            ("POST", format!("/api/res{i}/:id/items")),
            ("GET", format!("/pages/p{i}/index")),
        ] {
            r.insert(m, &p, v).expect("route");
            v += 1;
        }
    }
    r
}

fn router(c: &mut Criterion) {
    let r = routes();
    let mut g = c.benchmark_group("router_100_routes");
    g.bench_function("3_segments_1_param", |b| {
        b.iter(|| {
            let m = r.lookup(black_box(b"GET"), black_box("/api/res17/12345")).expect("match");
            *m.value + m.params.len() as u32
        })
    });
    g.bench_function("static_3_segments", |b| {
        b.iter(|| *r.lookup(black_box(b"GET"), black_box("/pages/p17/index")).expect("match").value)
    });
    g.bench_function("not_found", |b| {
        b.iter(|| r.lookup(black_box(b"GET"), black_box("/api/nope/1")).is_err())
    });
    g.finish();
}

criterion_group!(benches, parsers, router);
criterion_main!(benches);
