//! The inputs and the per-iteration work shared by the criterion bench
//! (`benches/parser.rs`) and the instruction-count example
//! (`examples/icount.rs`), so both measure exactly the same thing.

#![allow(dead_code)]

use weir_http::{BodyDecoder, Decoded, Limits, RequestParser, Router};

pub const MINIMAL: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

pub const BROWSER: &[u8] = b"GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n\
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

pub const POST_CHUNKED: &[u8] = b"POST /api/v1/upload HTTP/1.1\r\n\
Host: api.example.com\r\n\
User-Agent: curl/8.5.0\r\n\
Accept: */*\r\n\
Content-Type: application/json\r\n\
Transfer-Encoding: chunked\r\n\r\n\
1a\r\n{\"name\":\"weir\",\"id\":12345,\r\n\
1e\r\n\"tags\":[\"http\",\"fast\",\"rust\"]}\r\n\
0\r\n\r\n";

/// The server's way: the head is lent by the parser (`parse_ref`), which
/// reuses its storage on the next call.
pub fn weir_head(p: &mut RequestParser, buf: &[u8]) -> usize {
    let h = p.parse_ref(buf).expect("valid").expect("complete");
    h.head_len() + h.header_count()
}

pub fn httparse_head(buf: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf).expect("valid") {
        httparse::Status::Complete(n) => n + req.headers.len(),
        httparse::Status::Partial => unreachable!(),
    }
}

pub fn weir_post(p: &mut RequestParser, limits: &Limits, buf: &[u8]) -> usize {
    let h = p.parse_ref(buf).expect("valid").expect("complete");
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
    data
}

pub fn httparse_post(buf: &[u8]) -> usize {
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

/// 100 routes: 25 resources x (list, show `:id`, nested static, catch-all-ish).
pub fn routes() -> Router<u32> {
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
