//! Fuzz the HTTP/2 connection state machine with a sequence of frames.
//!
//! Input: byte 0 picks the read size for the split run (1..=64); the rest
//! is frame bytes sent after a valid preface and SETTINGS. Every request
//! the connection reports is answered (HEADERS + a DATA body as the
//! windows allow), every DATA byte released.
//!
//! Checks: no panic; fed whole and fed in pieces (the caller keeping what
//! was not consumed, as the server does) the events and the output are
//! identical; the connection never keeps more than a frame's worth of
//! input unconsumed; stored streams stay within max_concurrent_streams.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_h2::frame::{encode_settings, PREFACE};
use weir_h2::{Config, Connection, Event};

fn run<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> (Vec<String>, Vec<u8>) {
    let cfg = Config { max_concurrent_streams: 8, budget: 64, ..Config::default() };
    let mut conn = Connection::new(cfg);
    let mut buf = PREFACE.to_vec();
    encode_settings(&mut buf, &[]);
    let mut events = Vec::new();
    let mut out = conn.take_output();
    // An empty first piece: the preface and SETTINGS are read even when
    // the input adds nothing.
    for chunk in std::iter::once(&[][..]).chain(chunks) {
        buf.extend_from_slice(chunk);
        let mut used = 0;
        loop {
            let (n, ev) = conn.recv(&buf[used..]);
            used += n;
            match ev {
                Some(Event::Request { stream, end_stream, .. }) => {
                    events.push(format!("req {stream} {end_stream}"));
                    conn.send_response(stream, 200, std::iter::empty(), false);
                    conn.send_data(stream, b"body", true);
                }
                Some(Event::Data { stream, data, end_stream }) => {
                    events.push(format!("data {stream} {} {end_stream}", data.len()));
                    conn.release(stream, data.len());
                }
                Some(e) => events.push(format!("{e:?}")),
                None => {}
            }
            assert!(conn.active_streams() <= 8);
            if n == 0 {
                break;
            }
        }
        buf.drain(..used);
        assert!(buf.len() < 9 + 16_384 + 24, "kept {} bytes", buf.len());
        out.extend(conn.take_output());
    }
    (events, out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, wire)) = data.split_first() else { return };
    let step = usize::from(ctl % 64) + 1;
    let whole = run(std::iter::once(wire));
    let split = run(wire.chunks(step));
    assert_eq!(whole, split);
});
