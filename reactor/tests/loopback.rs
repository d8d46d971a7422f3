//! The reactor over real loopback sockets: bytes and counts, never timings.

// Test code: a failed unwrap is a failed test (the workspace denies unwrap in library code).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use weir_reactor::{
    CloseReason, Ctx, FileRange, Protocol, Runtime, ShardCtx, ShardHandle, Token, WorkerPool,
};

// ------------------------------------------------------------------ echo

struct Echo {
    sndbuf: Option<usize>,
}

impl Protocol for Echo {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, cx: &mut Ctx<'_, ()>) {
        if let Some(n) = self.sndbuf {
            cx.set_send_buffer(n).unwrap();
        }
    }
    fn on_data(&mut self, (): &mut (), cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
        cx.write_copy(data);
        data.len()
    }
}

/// Writes `payload` to `client` from another thread in odd-sized pieces (so
/// chunk boundaries never line up with anything), then half-closes if asked.
fn send_in_pieces(
    client: &TcpStream,
    payload: Vec<u8>,
    piece: usize,
    shutdown: bool,
) -> std::thread::JoinHandle<()> {
    let mut writer = client.try_clone().unwrap();
    std::thread::spawn(move || {
        for p in payload.chunks(piece) {
            writer.write_all(p).unwrap();
        }
        if shutdown {
            writer.shutdown(std::net::Shutdown::Write).unwrap();
        }
    })
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn one_mib_echoed_exactly_through_a_tiny_send_buffer() {
    let rt = Runtime::builder().shards(1).listen(localhost()).serve(|_| Echo { sndbuf: Some(4096) }).unwrap();
    let addr = rt.local_addrs()[0];
    let payload: Vec<u8> = (0..1024 * 1024u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let mut client = TcpStream::connect(addr).unwrap();
    let sender = send_in_pieces(&client, payload.clone(), 7919, false);
    let mut got = vec![0u8; payload.len()];
    client.read_exact(&mut got).unwrap();
    sender.join().unwrap();
    assert!(got == payload, "echoed bytes differ");
    rt.stop(Duration::from_secs(1));
    rt.join().unwrap();
}

/// Connections queued in the kernel before the shard starts arrive as one
/// edge on the listener; with one accept per turn (and each new connection
/// read at once), the shard must come back to the listener by itself.
#[test]
fn queued_connections_beyond_the_accept_budget_are_all_served() {
    let listener = std::net::TcpListener::bind(localhost()).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut clients: Vec<TcpStream> = (0..5)
        .map(|i| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(format!("c{i}").as_bytes()).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c
        })
        .collect();
    let rt = Runtime::builder()
        .shards(1)
        .listener(listener)
        .configure(|c| {
            c.accepts_per_turn = 1;
            c.read_on_accept = true;
        })
        .serve(|_| Echo { sndbuf: None })
        .unwrap();
    for (i, c) in clients.iter_mut().enumerate() {
        let mut got = [0u8; 2];
        c.read_exact(&mut got).unwrap_or_else(|e| panic!("client {i} not served: {e}"));
        assert_eq!(got, *format!("c{i}").as_bytes());
    }
    let s = rt.stats()[0];
    assert_eq!(s.accepted, 5, "{s:?}");
    rt.stop(Duration::from_secs(1));
    rt.join().unwrap();
}

/// Answers each delivery as `[` (staged in place) + the bytes (an owned
/// chunk) + `]` (a copy): copied bytes and queued chunks must leave in the
/// order they were written, across partial writes.
struct Bracket;

impl Protocol for Bracket {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, cx: &mut Ctx<'_, ()>) {
        cx.set_send_buffer(4096).unwrap();
    }
    fn on_data(&mut self, (): &mut (), cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
        cx.write_with(1, |out| out.push(b'['));
        cx.write(data.to_vec());
        cx.write_copy(b"]");
        data.len()
    }
}

#[test]
fn copied_and_queued_output_keep_their_order_through_a_tiny_send_buffer() {
    let rt = Runtime::builder().shards(1).listen(localhost()).serve(|_| Bracket).unwrap();
    let addr = rt.local_addrs()[0];
    // No '[' or ']' in the payload, so the brackets can be checked apart.
    let payload: Vec<u8> =
        (0..512 * 1024u32).map(|i| b'a' + (i.wrapping_mul(2654435761) >> 13) as u8 % 26).collect();
    let mut client = TcpStream::connect(addr).unwrap();
    let sender = send_in_pieces(&client, payload.clone(), 5003, true);
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    sender.join().unwrap();
    let mut open = false;
    let mut body = Vec::with_capacity(payload.len());
    for &b in &got {
        match b {
            b'[' => {
                assert!(!open, "'[' inside a bracket: output reordered");
                open = true;
            }
            b']' => {
                assert!(open, "']' without '[': output reordered");
                open = false;
            }
            _ => {
                assert!(open, "data outside brackets: output reordered");
                body.push(b);
            }
        }
    }
    assert!(!open);
    assert!(body == payload, "bytes differ");
    rt.stop(Duration::from_secs(1));
    rt.join().unwrap();
}

#[test]
fn a_thousand_concurrent_connections_on_one_shard() {
    weir_reactor::sys::rlimit::raise_nofile_limit().unwrap();
    let rt = Runtime::builder().shards(1).listen(localhost()).serve(|_| Echo { sndbuf: None }).unwrap();
    let addr = rt.local_addrs()[0];
    let mut conns: Vec<TcpStream> = (0..1000).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        writeln!(c, "hello from connection {i:04}").unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let want = format!("hello from connection {i:04}\n");
        let mut got = vec![0u8; want.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, want.as_bytes());
    }
    let stats = rt.stats();
    assert_eq!(stats[0].accepted, 1000);
    assert_eq!(stats[0].open, 1000);
    drop(conns);
    rt.stop(Duration::from_secs(1));
    rt.join().unwrap();
}

#[test]
fn ipv6_loopback_echo() {
    let Ok(rt) =
        Runtime::builder().shards(1).listen("[::1]:0".parse().unwrap()).serve(|_| Echo { sndbuf: None })
    else {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    };
    let mut c = TcpStream::connect(rt.local_addrs()[0]).unwrap();
    c.write_all(b"over v6").unwrap();
    let mut got = [0u8; 7];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"over v6");
    rt.stop(Duration::from_secs(1));
    rt.join().unwrap();
}

// ------------------------------------------------------- line commands

/// What the test protocol tells the test thread.
#[derive(Debug)]
enum Report {
    Opened(Token, ShardHandle<Msg>),
    Closed(Token),
}

#[derive(Debug)]
enum Msg {
    Text(String),
    Job(u64),
}

struct Shared {
    pool: WorkerPool,
    gate: crossbeam_gate::Gate,
    reports: Mutex<mpsc::Sender<Report>>,
    file: Option<PathBuf>,
}

/// A tiny gate: jobs wait until the test opens it once per job.
mod crossbeam_gate {
    use std::sync::{Condvar, Mutex};
    #[derive(Default)]
    pub struct Gate {
        permits: Mutex<u64>,
        cv: Condvar,
    }
    impl Gate {
        pub fn pass(&self) {
            let mut p = self.cv.wait_while(self.permits.lock().unwrap(), |p| *p == 0).unwrap();
            *p -= 1;
        }
        pub fn open(&self, n: u64) {
            *self.permits.lock().unwrap() += n;
            self.cv.notify_all();
        }
    }
}

struct Lines {
    shard: usize,
    shared: Arc<Shared>,
}

impl Lines {
    fn report(&self, r: Report) {
        let _ = self.shared.reports.lock().unwrap().send(r);
    }

    fn command(&mut self, line: &str, cx: &mut Ctx<'_, Msg>) {
        let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
        match cmd {
            "echo" => cx.write(format!("{arg}\n").into_bytes()),
            "shard" => cx.write(format!("shard {}\n", self.shard).into_bytes()),
            "timer" => {
                cx.set_deadline(Duration::from_millis(arg.parse().unwrap()));
                cx.write(&b"armed\n"[..]);
            }
            "cancel" => {
                cx.clear_deadline();
                cx.write(&b"cancelled\n"[..]);
            }
            "job" => {
                let id: u64 = arg.parse().unwrap();
                let shared = self.shared.clone();
                cx.spawn(&self.shared.pool, move || {
                    shared.gate.pass();
                    Msg::Job(id)
                })
                .unwrap();
            }
            "file" => {
                let path = self.shared.file.as_ref().unwrap();
                let file = std::fs::File::open(path).unwrap();
                let len = file.metadata().unwrap().len();
                cx.write(FileRange { file: Arc::new(file), offset: 0, len });
            }
            "big" => {
                let n: usize = arg.parse().unwrap();
                cx.write((0..n).map(|i| (i % 253) as u8).collect::<Vec<u8>>());
            }
            "quit" => cx.close(),
            other => panic!("unknown command {other:?}"),
        }
    }
}

impl Protocol for Lines {
    type Conn = ();
    type Message = Msg;

    fn on_open(&mut self, cx: &mut Ctx<'_, Msg>) {
        self.report(Report::Opened(cx.token(), cx.handle()));
    }

    fn on_data(&mut self, (): &mut (), cx: &mut Ctx<'_, Msg>, data: &mut [u8]) -> usize {
        let mut consumed = 0;
        while let Some(nl) = data[consumed..].iter().position(|&b| b == b'\n') {
            let line = std::str::from_utf8(&data[consumed..consumed + nl]).unwrap().to_string();
            consumed += nl + 1;
            self.command(&line, cx);
        }
        consumed
    }

    fn on_timer(&mut self, (): &mut (), cx: &mut Ctx<'_, Msg>) {
        cx.write(&b"fired\n"[..]);
    }

    fn on_message(&mut self, (): &mut (), cx: &mut Ctx<'_, Msg>, msg: Msg) {
        match msg {
            Msg::Text(t) => cx.write(format!("message {t}\n").into_bytes()),
            Msg::Job(id) => cx.write(format!("job {id}\n").into_bytes()),
        }
    }

    fn on_close(&mut self, (): (), _: CloseReason) {}

    fn on_shutdown(&mut self, shard: &mut ShardCtx<'_, Self>) {
        shard.for_each(|(), cx| cx.close());
    }
}

/// Reports closes too (kept separate so `on_close` above stays trivial).
struct Tracked(Lines);

impl Protocol for Tracked {
    type Conn = Token;
    type Message = Msg;
    fn on_open(&mut self, cx: &mut Ctx<'_, Msg>) -> Token {
        self.0.on_open(cx);
        cx.token()
    }
    fn on_data(&mut self, _: &mut Token, cx: &mut Ctx<'_, Msg>, data: &mut [u8]) -> usize {
        self.0.on_data(&mut (), cx, data)
    }
    fn on_timer(&mut self, _: &mut Token, cx: &mut Ctx<'_, Msg>) {
        self.0.on_timer(&mut (), cx);
    }
    fn on_message(&mut self, _: &mut Token, cx: &mut Ctx<'_, Msg>, msg: Msg) {
        self.0.on_message(&mut (), cx, msg);
    }
    fn on_close(&mut self, token: Token, _: CloseReason) {
        self.0.report(Report::Closed(token));
    }
    fn on_shutdown(&mut self, shard: &mut ShardCtx<'_, Self>) {
        shard.for_each(|_, cx| cx.close());
    }
}

struct Harness {
    rt: Runtime<Msg>,
    reports: mpsc::Receiver<Report>,
    shared: Arc<Shared>,
}

fn start(shards: usize, file: Option<PathBuf>) -> Harness {
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared {
        pool: WorkerPool::new(4, 1024),
        gate: Default::default(),
        reports: Mutex::new(tx),
        file,
    });
    let s = shared.clone();
    let rt = Runtime::builder()
        .shards(shards)
        .listen(localhost())
        .serve(move |info| Tracked(Lines { shard: info.id, shared: s.clone() }))
        .unwrap();
    Harness { rt, reports: rx, shared }
}

impl Harness {
    fn connect(&self) -> (BufReader<TcpStream>, TcpStream, Token, ShardHandle<Msg>) {
        let s = TcpStream::connect(self.rt.local_addrs()[0]).unwrap();
        let Report::Opened(token, handle) = self.reports.recv().unwrap() else { panic!("expected Opened") };
        (BufReader::new(s.try_clone().unwrap()), s, token, handle)
    }

    fn wait_closed(&self, token: Token) {
        loop {
            if let Report::Closed(t) = self.reports.recv().unwrap() {
                if t == token {
                    return;
                }
            }
        }
    }

    fn finish(self) {
        self.rt.stop(Duration::from_secs(2));
        self.rt.join().unwrap();
    }
}

fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut s = String::new();
    r.read_line(&mut s).unwrap();
    s
}

#[test]
fn two_shards_on_one_port_both_receive_connections() {
    let h = start(2, None);
    let mut seen = HashMap::new();
    let mut conns = Vec::new();
    for _ in 0..64 {
        let (mut r, mut w, _, _) = h.connect();
        w.write_all(b"shard\n").unwrap();
        *seen.entry(line(&mut r)).or_insert(0) += 1;
        conns.push(w);
    }
    assert_eq!(seen.len(), 2, "both shards served connections: {seen:?}");
    let stats = h.rt.stats();
    assert!(stats[0].accepted > 0 && stats[1].accepted > 0);
    assert_eq!(stats[0].accepted + stats[1].accepted, 64);
    h.finish();
}

#[test]
fn a_timer_fires_and_a_cancelled_one_does_not() {
    let h = start(1, None);
    let (mut r1, mut w1, _, _) = h.connect();
    let (mut r2, mut w2, _, _) = h.connect();
    w2.write_all(b"timer 30\ncancel\n").unwrap();
    assert_eq!(line(&mut r2), "armed\n");
    assert_eq!(line(&mut r2), "cancelled\n");
    // Armed after the cancelled one and due later: by the time it fires,
    // the cancelled one would have fired too.
    w1.write_all(b"timer 120\n").unwrap();
    assert_eq!(line(&mut r1), "armed\n");
    assert_eq!(line(&mut r1), "fired\n");
    w2.write_all(b"echo still quiet\n").unwrap();
    assert_eq!(line(&mut r2), "still quiet\n", "the cancelled timer must not have fired");
    // A deadline pushed later fires once, at the later time (lazy re-arm).
    w2.write_all(b"timer 20\ntimer 150\n").unwrap();
    assert_eq!(line(&mut r2), "armed\n");
    assert_eq!(line(&mut r2), "armed\n");
    w1.write_all(b"timer 60\n").unwrap();
    assert_eq!(line(&mut r1), "armed\n");
    assert_eq!(line(&mut r1), "fired\n");
    w2.write_all(b"echo not yet\n").unwrap();
    assert_eq!(line(&mut r2), "not yet\n", "the replaced 20 ms deadline must not fire");
    assert_eq!(line(&mut r2), "fired\n");
    h.finish();
}

#[test]
fn a_message_from_another_thread_wakes_the_shard() {
    let h = start(1, None);
    let (mut r, _w, token, handle) = h.connect();
    let sender = std::thread::spawn(move || assert!(handle.send(token, Msg::Text("from afar".into()))));
    sender.join().unwrap();
    assert_eq!(line(&mut r), "message from afar\n");
    h.finish();
}

#[test]
fn worker_results_reach_their_connection_and_stale_tokens_are_dropped() {
    let h = start(1, None);
    // Connection A asks for a job, then closes before the job can finish.
    let (_ra, mut wa, token_a, _) = h.connect();
    wa.write_all(b"job 1\n").unwrap();
    wa.shutdown(std::net::Shutdown::Both).unwrap();
    drop(wa);
    h.wait_closed(token_a);
    // Connection B reuses A's slot with a new generation.
    let (mut rb, mut wb, token_b, handle) = h.connect();
    assert_eq!(token_a.index(), token_b.index(), "slot reused");
    assert_ne!(token_a, token_b);
    // A late message addressed to A's token must not reach B either.
    assert!(handle.send(token_a, Msg::Text("for A".into())));
    h.shared.gate.open(1); // A's job finishes now; its result is for a stale token
                           // Many jobs on many connections, each must get exactly its own answer.
    let mut others: Vec<_> = (0..20).map(|_| h.connect()).collect();
    for (i, (_, w, _, _)) in others.iter_mut().enumerate() {
        writeln!(w, "job {}", 100 + i).unwrap();
    }
    h.shared.gate.open(20);
    for (i, (r, _, _, _)) in others.iter_mut().enumerate() {
        assert_eq!(line(r), format!("job {}\n", 100 + i));
    }
    wb.write_all(b"echo only mine\n").unwrap();
    assert_eq!(line(&mut rb), "only mine\n", "B saw nothing addressed to A");
    // Both the message and the job result for A were counted as dropped:
    // wait for B's echo above ordered them before now.
    let dropped = h.rt.stats()[0].dropped_messages;
    assert_eq!(dropped, 2, "stale message and stale job result dropped");
    h.finish();
}

#[test]
fn sendfile_larger_than_the_socket_buffer_arrives_exactly() {
    let path = std::env::temp_dir().join(format!("weir-sendfile-{}", std::process::id()));
    let content: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i ^ (i >> 11)) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let h = start(1, Some(path.clone()));
    let (mut r, mut w, _, _) = h.connect();
    w.write_all(b"file\n").unwrap();
    let mut got = vec![0u8; content.len()];
    r.read_exact(&mut got).unwrap();
    assert!(got == content, "file bytes differ");
    w.write_all(b"echo after\n").unwrap();
    assert_eq!(line(&mut r), "after\n");
    std::fs::remove_file(&path).unwrap();
    h.finish();
}

#[test]
fn graceful_stop_lets_in_flight_writes_finish() {
    let h = start(1, None);
    let (mut r, mut w, _, _) = h.connect();
    let n = 16 * 1024 * 1024;
    w.write_all(format!("big {n}\n").as_bytes()).unwrap();
    // Read a little so the response is certainly in flight, then stop.
    let mut first = vec![0u8; 1000];
    r.read_exact(&mut first).unwrap();
    h.rt.stop(Duration::from_secs(30));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    first.extend_from_slice(&rest);
    assert_eq!(first.len(), n, "all bytes arrive before the close");
    assert!(first.iter().enumerate().all(|(i, &b)| b == (i % 253) as u8));
    h.rt.join().unwrap();
}

#[test]
fn no_message_is_stranded_when_many_threads_send_at_once() {
    // Regression: the shard used to clear its "notified" flag before
    // resetting its eventfd; a wake-up written in between was swallowed,
    // the flag stayed set, and later messages waited forever.
    let h = start(1, None);
    let (mut r, _w, token, handle) = h.connect();
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                for i in 0..5000 {
                    assert!(handle.send(token, Msg::Text(format!("{t}:{i}"))));
                    if i % 64 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let mut next = [0usize; 4];
    for _ in 0..20_000 {
        let l = line(&mut r);
        let (t, i) = l.trim_end().strip_prefix("message ").unwrap().split_once(':').unwrap();
        let t: usize = t.parse().unwrap();
        assert_eq!(i.parse::<usize>().unwrap(), next[t], "in order per sender");
        next[t] += 1;
    }
    assert_eq!(next, [5000; 4]);
    h.finish();
}

// ------------------------------------------------------- pending input

/// Consumes nothing: every byte stays pending. Reports why it closed.
struct Hoarder {
    closed: mpsc::Sender<CloseReason>,
}

impl Protocol for Hoarder {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, _: &mut Ctx<'_, ()>) {}
    fn on_data(&mut self, (): &mut (), _: &mut Ctx<'_, ()>, _: &mut [u8]) -> usize {
        0
    }
    fn on_close(&mut self, (): (), reason: CloseReason) {
        let _ = self.closed.send(reason);
    }
}

#[test]
fn unconsumed_input_past_max_pending_input_closes_the_connection() {
    let (tx, closed) = mpsc::channel();
    let tx = Mutex::new(tx);
    let rt = Runtime::builder()
        .shards(1)
        .listen(localhost())
        .configure(|c| c.max_pending_input = 64 * 1024)
        .serve(move |_| Hoarder { closed: tx.lock().unwrap().clone() })
        .unwrap();
    let client = TcpStream::connect(rt.local_addrs()[0]).unwrap();
    // 1 MiB that the protocol never consumes: the reactor must not keep it.
    let mut w = client.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for _ in 0..128 {
            if w.write_all(&[7u8; 8192]).is_err() {
                break; // closed under us: what the test expects
            }
        }
    });
    let reason = closed.recv_timeout(Duration::from_secs(10)).expect("the hoarding connection was closed");
    assert_eq!(reason, CloseReason::Error(std::io::ErrorKind::OutOfMemory));
    writer.join().unwrap();
    rt.stop(Duration::from_secs(1));
    rt.join().unwrap();
}

// ------------------------------------------------------------ own turns

/// Counts its turns, and asks for one at a deadline of its own.
struct OwnTurns {
    due_ms: u64,
    turns_after_due: Arc<Mutex<u32>>,
    fired: mpsc::Sender<()>,
}

impl Protocol for OwnTurns {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, _cx: &mut Ctx<'_, ()>) {}
    fn on_data(&mut self, (): &mut (), _cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
        data.len()
    }
    fn on_start(&mut self, shard: &mut ShardCtx<'_, Self>) {
        self.due_ms = shard.now_ms() + 50;
    }
    fn on_turn(&mut self, shard: &mut ShardCtx<'_, Self>) {
        if self.due_ms != 0 && shard.now_ms() >= self.due_ms {
            self.due_ms = 0;
            self.fired.send(()).unwrap();
        } else if self.due_ms == 0 {
            *self.turns_after_due.lock().unwrap() += 1;
        }
    }
    fn turn_timeout_ms(&self, now_ms: u64) -> Option<u64> {
        (self.due_ms != 0).then(|| self.due_ms.saturating_sub(now_ms))
    }
}

/// `turn_timeout_ms` wakes an otherwise idle shard for `on_turn` (no event,
/// no connection, no tick), and once it says `None` the shard sleeps again
/// instead of spinning.
#[test]
fn a_protocols_own_deadline_wakes_the_shard_once() {
    let (tx, fired) = mpsc::channel();
    let turns = Arc::new(Mutex::new(0));
    let t = turns.clone();
    let rt = Runtime::builder()
        .shards(1)
        .listen(localhost())
        .serve(move |_| OwnTurns { due_ms: 0, turns_after_due: t.clone(), fired: tx.clone() })
        .unwrap();
    fired.recv_timeout(Duration::from_secs(5)).expect("on_turn ran at the protocol's deadline");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(*turns.lock().unwrap(), 0, "no turn without an event or a deadline");
    rt.stop(Duration::from_secs(1));
    rt.join().unwrap();
}
