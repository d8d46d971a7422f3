//! Split points: a session fed whole, byte by byte and cut everywhere
//! must give the same events and the same output.

use super::*;

fn script(p: &mut Peer) -> Vec<u8> {
    let mut v = frame::PREFACE.to_vec();
    frame::encode_settings(&mut v, &[(setting::INITIAL_WINDOW_SIZE, 100)]);
    v.extend(headers(p, 1, GET, END));
    v.extend(raw(kind::PING, 0, 0, b"abcdefgh"));
    v.extend(headers(p, 3, POST, EH));
    v.extend(raw(kind::DATA, flag::PADDED, 3, &[2, b'h', b'i', 0, 0]));
    let b = p.block(&[("x-t", "1")]);
    v.extend(raw(kind::HEADERS, flag::END_STREAM, 3, &b[..1]));
    v.extend(raw(kind::CONTINUATION, EH, 3, &b[1..]));
    v
}

fn run_split(splits: &[usize]) -> (Vec<Ev>, Vec<u8>) {
    let mut p = Peer {
        conn: Connection::new(Config::default()),
        enc: Encoder::new(IndexMode::Stateless),
        events: Vec::new(),
        hold: false,
    };
    let bytes = script(&mut p);
    let mut buf = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = splits.iter().map(|&s| s % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    for cut in cuts {
        buf.extend_from_slice(&bytes[at..cut.max(at)]);
        at = cut.max(at);
        // The caller keeps what was not consumed, as the server does.
        let mut used = 0;
        loop {
            let (n, ev) = p.conn.recv(&buf[used..]);
            if let Some(ev) = ev {
                p.events.push(own(ev));
            }
            if n == 0 {
                break;
            }
            used += n;
        }
        buf.drain(..used);
    }
    (p.events, p.conn.take_output())
}

#[test]
fn whole_and_byte_by_byte_agree() {
    let whole = run_split(&[]);
    assert_eq!(
        whole.0,
        [
            Ev::Request(1, true),
            Ev::Request(3, false),
            Ev::Data(3, b"hi".to_vec(), false),
            Ev::Data(3, vec![], true)
        ]
    );
    let n = script(&mut Peer {
        conn: Connection::new(Config::default()),
        enc: Encoder::new(IndexMode::Stateless),
        events: Vec::new(),
        hold: false,
    })
    .len();
    let every: Vec<usize> = (0..n).collect();
    assert_eq!(run_split(&every), whole);
    for cut in 0..n {
        assert_eq!(run_split(&[cut]), whole, "split at {cut}");
    }
}

proptest! {
    #[test]
    fn random_splits_agree(cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        prop_assert_eq!(run_split(&cuts), run_split(&[]));
    }

    #[test]
    fn arbitrary_frames_never_panic(frames in proptest::collection::vec(
        (0u8..12, any::<u8>(), 0u32..8, proptest::collection::vec(any::<u8>(), 0..40)), 0..30))
    {
        let mut p = Peer::new(Config::default());
        for (k, f, s, payload) in frames {
            p.feed(&raw(k, f, s, &payload));
            let _ = p.conn.send_response(s, 200, std::iter::empty(), false);
            let _ = p.conn.send_data(s, b"x", true);
        }
    }
}
