//! Outbound connections, linked pairs, transports, listener tags, the shard
//! tick and the bounded data inbox, over real loopback sockets.

// Test code: a failed unwrap is a failed test (the workspace denies unwrap in library code).
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use weir_reactor::sys::socket::{self, ListenOptions};
use weir_reactor::write_queue::Flush;
use weir_reactor::{
    ConnectOptions, Ctx, Endpoint, FileRange, Protocol, Runtime, SendError, ShardCtx, Transport,
    TransportFactory,
};

const WAIT: Duration = Duration::from_secs(10);

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// An echo server on its own runtime.
struct Echo;

impl Protocol for Echo {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, _: &mut Ctx<'_, ()>) {}
    fn on_data(&mut self, (): &mut (), cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
        cx.write_copy(data);
        data.len()
    }
}

fn echo_server(addr: SocketAddr) -> Runtime<()> {
    Runtime::builder().shards(1).listen(addr).serve(|_| Echo).unwrap()
}

// ------------------------------------------------------------- connect

/// What the client protocol saw, reported to the test thread.
#[derive(Debug, PartialEq)]
enum Seen {
    Connected { tag: u16, outbound: bool },
    Echoed(Vec<u8>),
    Failed(std::io::ErrorKind),
}

/// A client: connects to `target` at start, says `hello`, reports the echo.
struct Client {
    target: SocketAddr,
    timeout: Duration,
    seen: Sender<Seen>,
}

impl Protocol for Client {
    type Conn = Vec<u8>;
    type Message = ();
    fn on_start(&mut self, shard: &mut ShardCtx<'_, Self>) {
        let opts = ConnectOptions::default().timeout(self.timeout).tag(9);
        shard.connect(self.target, opts, Vec::new()).unwrap();
    }
    fn on_open(&mut self, _: &mut Ctx<'_, ()>) -> Vec<u8> {
        unreachable!("a client runtime accepts nothing")
    }
    fn on_connected(&mut self, _: &mut Vec<u8>, cx: &mut Ctx<'_, ()>) {
        self.seen.send(Seen::Connected { tag: cx.tag(), outbound: cx.is_outbound() }).unwrap();
        cx.write_copy(b"hello");
    }
    fn on_data(&mut self, got: &mut Vec<u8>, cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
        got.extend_from_slice(data);
        if got.len() >= 5 {
            self.seen.send(Seen::Echoed(std::mem::take(got))).unwrap();
            cx.close();
        }
        data.len()
    }
    fn on_connect_failed(&mut self, _: Vec<u8>, error: std::io::Error) {
        self.seen.send(Seen::Failed(error.kind())).unwrap();
    }
}

fn run_client(target: SocketAddr, timeout: Duration) -> (Runtime<()>, Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    let rt =
        Runtime::builder().shards(1).serve(move |_| Client { target, timeout, seen: tx.clone() }).unwrap();
    (rt, rx)
}

#[test]
fn connect_exchanges_bytes_over_ipv4_and_ipv6() {
    for local in ["127.0.0.1:0", "[::1]:0"] {
        let local: SocketAddr = local.parse().unwrap();
        if local.is_ipv6() && TcpListener::bind(local).is_err() {
            eprintln!("no IPv6 loopback here: the IPv6 half is not run");
            continue;
        }
        let server = echo_server(local);
        let (client, seen) = run_client(server.local_addrs()[0], WAIT);
        assert_eq!(seen.recv_timeout(WAIT).unwrap(), Seen::Connected { tag: 9, outbound: true });
        assert_eq!(seen.recv_timeout(WAIT).unwrap(), Seen::Echoed(b"hello".to_vec()));
        client.stop(Duration::from_secs(1));
        client.join().unwrap();
        let stats = server.stats()[0];
        assert_eq!(stats.accepted, 1);
        server.stop(Duration::from_secs(1));
        server.join().unwrap();
    }
}

#[test]
fn a_refused_connect_is_reported_as_refused() {
    // A port that was just free: nothing listens there now.
    let port = TcpListener::bind(localhost()).unwrap().local_addr().unwrap();
    let (client, seen) = run_client(port, WAIT);
    assert_eq!(seen.recv_timeout(WAIT).unwrap(), Seen::Failed(std::io::ErrorKind::ConnectionRefused));
    let stats = client.stats()[0];
    assert_eq!((stats.connected, stats.connect_failed, stats.open), (1, 1, 0));
    client.stop(Duration::from_secs(1));
    client.join().unwrap();
}

#[test]
fn a_connect_that_never_completes_times_out() {
    // A listener with a full accept queue drops new SYNs (tcp_conn_request),
    // so a connect to it stays in progress until our timeout.
    let opts = ListenOptions { backlog: 0, reuse_port: false, ..ListenOptions::default() };
    let listener = socket::bind_listener(localhost(), &opts).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    // The queue holds backlog + 1 connections; once one connect takes long,
    // the queue is full.
    for _ in 0..4 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    let (client, seen) = run_client(addr, Duration::from_millis(300));
    assert_eq!(seen.recv_timeout(WAIT).unwrap(), Seen::Failed(std::io::ErrorKind::TimedOut));
    client.stop(Duration::from_secs(1));
    client.join().unwrap();
    drop(listener);
}

// ---------------------------------------------------------- linked pairs

/// A TCP tunnel: each accepted client gets a linked upstream connection;
/// bytes are forwarded both ways with backpressure (a side whose peer has
/// more than `LIMIT` bytes queued stops reading until they drain).
struct Tunnel {
    upstream: SocketAddr,
}

const LIMIT: u64 = 64 * 1024;

impl Protocol for Tunnel {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, cx: &mut Ctx<'_, ()>) {
        cx.connect(self.upstream, ConnectOptions::linked(), ()).unwrap();
    }
    fn on_data(&mut self, (): &mut (), cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
        let Some(mut peer) = cx.peer() else {
            return 0; // not linked yet: keep the bytes
        };
        peer.write_copy(data);
        if peer.queued_bytes() > LIMIT {
            peer.notify_when_drained();
            cx.pause_reading();
        }
        data.len()
    }
    fn on_writable(&mut self, (): &mut (), cx: &mut Ctx<'_, ()>) {
        if let Some(mut peer) = cx.peer() {
            peer.resume_reading();
        }
    }
    fn on_eof(&mut self, (): &mut (), cx: &mut Ctx<'_, ()>) {
        // The client's FIN is passed on; the upstream's ends the pair (its
        // peer hears on_peer_closed and closes after flushing).
        if cx.is_outbound() {
            return cx.close();
        }
        match cx.peer() {
            Some(mut peer) => peer.shutdown_write(),
            None => cx.close(),
        }
    }
}

#[test]
fn a_linked_pair_tunnels_four_mib_with_backpressure_and_closes_together() {
    let server = echo_server(localhost());
    let upstream = server.local_addrs()[0];
    let tunnel = Runtime::builder()
        .shards(1)
        .listen(localhost())
        .configure(|c| c.read_scratch = 16 * 1024)
        .serve(move |_| Tunnel { upstream })
        .unwrap();
    let mut client = TcpStream::connect(tunnel.local_addrs()[0]).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    let payload: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let mut writer = client.try_clone().unwrap();
    let sent = payload.clone();
    let feeder = std::thread::spawn(move || {
        writer.write_all(&sent).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut got = Vec::new();
    // EOF comes only if the tunnel closed the upstream after the client's
    // FIN and then closed the client: a timeout here is a failure.
    client.read_to_end(&mut got).expect("the tunnel closes both sides");
    feeder.join().unwrap();
    assert_eq!(got.len(), payload.len());
    assert!(got == payload, "bytes differ");
    let stats = tunnel.stats()[0];
    assert_eq!((stats.accepted, stats.connected), (1, 1));
    tunnel.stop(Duration::from_secs(1));
    tunnel.join().unwrap();
    assert_eq!(tunnel_open_after(&server), 0, "the echo server saw its client close");
    server.stop(Duration::from_secs(1));
    server.join().unwrap();
}

/// Waits (bounded) until the server has no open connection; returns how many are open.
fn tunnel_open_after(server: &Runtime<()>) -> u64 {
    for _ in 0..1000 {
        if server.stats()[0].open == 0 {
            return 0;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    server.stats()[0].open
}

/// Opens its upstream from inside `on_data` (a callback the shard is
/// driving), carrying the first bytes in the upstream's state.
struct Relay {
    upstream: SocketAddr,
}

impl Protocol for Relay {
    type Conn = Vec<u8>;
    type Message = ();
    fn on_open(&mut self, _: &mut Ctx<'_, ()>) -> Vec<u8> {
        Vec::new()
    }
    fn on_data(&mut self, _: &mut Vec<u8>, cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
        let outbound = cx.is_outbound();
        match cx.peer() {
            Some(mut peer) => peer.write_copy(data),
            None if outbound => {}
            None => cx.connect(self.upstream, ConnectOptions::linked(), data.to_vec()).unwrap(),
        }
        data.len()
    }
    fn on_connected(&mut self, first: &mut Vec<u8>, cx: &mut Ctx<'_, ()>) {
        cx.write(std::mem::take(first));
    }
}

#[test]
fn a_connect_asked_for_inside_on_data_is_opened_and_linked() {
    let server = echo_server(localhost());
    let upstream = server.local_addrs()[0];
    let relay = Runtime::builder().shards(1).listen(localhost()).serve(move |_| Relay { upstream }).unwrap();
    let mut client = TcpStream::connect(relay.local_addrs()[0]).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    client.write_all(b"hello").unwrap();
    let mut got = [0u8; 5];
    client.read_exact(&mut got).expect("the relay opened its upstream and forwarded the echo");
    assert_eq!(&got, b"hello");
    relay.stop(Duration::from_secs(1));
    relay.join().unwrap();
    server.stop(Duration::from_secs(1));
    server.join().unwrap();
}

// ------------------------------------------------------------ transports

/// A toy transport: every byte XORed with a key both ways, files refused
/// to `sendfile` (so file ranges take the bounded pread path).
#[derive(Debug)]
struct Xor;

const KEY: u8 = 0x5a;

impl Transport for Xor {
    fn read(&mut self, sock: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = weir_reactor::sys::io_ops::read(sock, buf)?;
        buf[..n].iter_mut().for_each(|b| *b ^= KEY);
        Ok(n)
    }
    fn write(&mut self, sock: &TcpStream, buf: &[u8]) -> std::io::Result<usize> {
        // Encode a bounded piece, write what the socket takes; the rest is
        // offered again (so nothing need be kept here).
        let piece: Vec<u8> = buf.iter().take(8192).map(|b| b ^ KEY).collect();
        weir_reactor::sys::io_ops::write(sock, &piece)
    }
    fn flush(&mut self, _: &TcpStream) -> std::io::Result<Flush> {
        Ok(Flush::Done)
    }
}

#[derive(Debug)]
struct XorFactory;

impl TransportFactory for XorFactory {
    fn wrap(&self, _: &TcpStream) -> std::io::Result<Box<dyn Transport>> {
        Ok(Box::new(Xor))
    }
}

/// Says its listener's tag, then answers `file` with a file range and
/// echoes anything else.
struct TagAndFile {
    file: Arc<std::fs::File>,
    len: u64,
}

impl Protocol for TagAndFile {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, cx: &mut Ctx<'_, ()>) {
        cx.set_send_buffer(4096).unwrap();
        cx.write_copy(&[cx.tag() as u8]);
    }
    fn on_data(&mut self, (): &mut (), cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
        if data == b"file" {
            cx.write(FileRange { file: self.file.clone(), offset: 3, len: self.len - 3 });
        } else {
            cx.write_copy(data);
        }
        data.len()
    }
}

#[test]
fn a_transport_carries_the_protocol_and_file_ranges_without_sendfile() {
    let path = std::env::temp_dir().join(format!("weir-transport-{}", std::process::id()));
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let file = Arc::new(std::fs::File::open(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    let len = content.len() as u64;
    let rt = Runtime::builder()
        .shards(1)
        .listen_on(localhost(), Endpoint::new(7).transport(Arc::new(XorFactory)))
        .listen_on(localhost(), Endpoint::new(3))
        .serve(move |_| TagAndFile { file: file.clone(), len })
        .unwrap();
    let (xor_addr, plain_addr) = (rt.local_addrs()[0], rt.local_addrs()[1]);

    let mut plain = TcpStream::connect(plain_addr).unwrap();
    plain.set_read_timeout(Some(WAIT)).unwrap();
    let mut tag = [0u8; 1];
    plain.read_exact(&mut tag).unwrap();
    assert_eq!(tag[0], 3, "the plaintext listener's tag, in plaintext");

    let mut c = TcpStream::connect(xor_addr).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.read_exact(&mut tag).unwrap();
    assert_eq!(tag[0] ^ KEY, 7, "the transport's listener tag, through the transport");
    let xor = |b: &[u8]| b.iter().map(|x| x ^ KEY).collect::<Vec<u8>>();
    c.write_all(&xor(b"ping")).unwrap();
    let mut echo = [0u8; 4];
    c.read_exact(&mut echo).unwrap();
    assert_eq!(xor(&echo), b"ping");
    c.write_all(&xor(b"file")).unwrap();
    let mut got = vec![0u8; content.len() - 3];
    c.read_exact(&mut got).unwrap();
    assert!(xor(&got) == content[3..], "the file range arrived through the transport, exactly");
    rt.stop(Duration::from_secs(1));
    rt.join().unwrap();
}

// ------------------------------------------------------- tick and inbox

/// Reports every tick; blocks in its first shard message until released.
struct Ticker {
    ticks: Sender<&'static str>,
    release: Option<Receiver<()>>,
}

impl Protocol for Ticker {
    type Conn = ();
    type Message = u32;
    fn on_open(&mut self, _: &mut Ctx<'_, u32>) {}
    fn on_data(&mut self, (): &mut (), _: &mut Ctx<'_, u32>, data: &mut [u8]) -> usize {
        data.len()
    }
    fn on_tick(&mut self, _: &mut ShardCtx<'_, Self>) {
        let _ = self.ticks.send("tick");
    }
    fn on_shard_message(&mut self, _: &mut ShardCtx<'_, Self>, _: u32) {
        if let Some(release) = self.release.take() {
            let _ = self.ticks.send("blocked");
            release.recv().unwrap();
        }
    }
}

#[test]
fn the_tick_repeats_and_a_full_data_inbox_refuses_with_the_message_back() {
    let (ticks, ticked) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let release = std::sync::Mutex::new(Some(release_rx));
    let rt = Runtime::builder()
        .shards(1)
        .configure(|c| {
            c.tick = Some(Duration::from_millis(5));
            c.inbox_capacity = 2;
        })
        .serve(move |_| Ticker { ticks: ticks.clone(), release: release.lock().unwrap().take() })
        .unwrap();
    for _ in 0..3 {
        assert_eq!(ticked.recv_timeout(WAIT).expect("on_tick runs again and again"), "tick");
    }
    let shard = rt.handles()[0].clone();
    // The control lane: the shard takes it and blocks in the callback.
    assert!(shard.send_to_shard(0));
    while ticked.recv_timeout(WAIT).expect("the shard takes the control message") != "blocked" {}
    assert!(shard.try_send_to_shard(1).is_ok());
    assert!(shard.try_send_to_shard(2).is_ok());
    match shard.try_send_to_shard(3) {
        Err(SendError::Full(3)) => {}
        other => panic!("a full data lane must refuse with the message back, got {other:?}"),
    }
    assert_eq!(rt.stats()[0].inbox_full, 1);
    release_tx.send(()).unwrap();
    rt.stop(Duration::from_secs(1));
    rt.join().unwrap();
}
