//! `--hold N`: open N keep-alive connections, complete one request on each
//! (for a `ws://` target: the WebSocket upgrade), then hold them idle — the
//! load for "memory per idle connection". Over `https://` and `wss://`
//! each connection completes its TLS handshake first, so what is held is
//! an idle TLS connection.
//!
//! Plain blocking I/O is enough here: nothing is timed, and 10,000
//! request/response pairs on loopback, sent in batches, take well under a
//! second (TLS handshakes take longer; `--tls-resume` shortens them). The
//! TLS transport is the one the load threads use; on a blocking socket its
//! handshake, reads and writes simply block, and a read that times out
//! comes back as `WouldBlock`. The caller reads the server's RSS while the
//! connections are held.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use weir_reactor::Transport;

use super::driver::Rng;
use super::framing::ResponseReader;
use super::tls::ClientTls;
use super::ws_client::{check_upgrade, write_upgrade};

/// Connections opened (and sent their request) before their answers are
/// read. One at a time, each first TLS 1.3 response can wait for a delayed
/// ACK (~40 ms) when the server's session tickets went out in a segment
/// of their own and Nagle holds the response behind it; a batch overlaps
/// those waits. With `--tls-resume` the next batch offers a session from
/// this one (tickets are taken in as the answers are read).
const OPEN_BATCH: usize = 64;

/// One held connection: the socket, and its TLS transport if any.
struct Held {
    sock: TcpStream,
    tls: Option<Box<dyn Transport>>,
}

impl Held {
    fn send(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        let Some(t) = &mut self.tls else { return self.sock.write_all(bytes) };
        while !bytes.is_empty() {
            let n = t.write(&self.sock, bytes).map_err(timed_out)?;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.tls {
            None => self.sock.read(buf),
            Some(t) => t.read(&self.sock, buf).map_err(timed_out),
        }
    }
}

/// A blocking socket's read timeout shows as `WouldBlock`.
fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(io::ErrorKind::TimedOut, "timed out")
    } else {
        e
    }
}

/// Opens `count` connections to `addr` (over TLS with `tls`), sends
/// `request` on each and reads its response (with `ws`: `request` is the
/// upgrade head, and the answer the 101), prints `holding N connections`,
/// then sleeps for `hold`.
///
/// # Errors
///
/// A connect, handshake, write or read failure, or a response that cannot
/// be delimited.
pub fn hold(
    addr: SocketAddr,
    request: &[u8],
    ws: bool,
    count: usize,
    hold: Duration,
    timeout: Duration,
    tls: Option<&ClientTls>,
) -> io::Result<()> {
    let _ = weir_reactor::sys::rlimit::raise_nofile_limit();
    let started = Instant::now();
    let mut conns: Vec<Held> = Vec::with_capacity(count);
    let mut buf = vec![0u8; 16 * 1024];
    let mut rng = Rng::new(count as u64);
    let mut out = Vec::new();
    let mut accepts = Vec::with_capacity(OPEN_BATCH);
    let fail = |i: usize, kind, what: String| io::Error::new(kind, format!("connection {i}: {what}"));
    while conns.len() < count {
        // Send on a batch of new connections, then read their answers.
        let first = conns.len();
        accepts.clear();
        for i in first..count.min(first + OPEN_BATCH) {
            let sock = TcpStream::connect_timeout(&addr, timeout)
                .map_err(|e| fail(i, e.kind(), format!("connect: {e}")))?;
            sock.set_read_timeout(Some(timeout))?;
            sock.set_write_timeout(Some(timeout))?;
            // TLS sends the request right behind the handshake's last
            // flight: no Nagle delay for it.
            sock.set_nodelay(true)?;
            let transport = tls.map(|t| t.wrap(0, &sock)).transpose()?;
            let mut conn = Held { sock, tls: transport };
            out.clear();
            accepts.push(ws.then(|| write_upgrade(request, &mut rng, &mut out)));
            let what = if tls.is_some() { "handshake and send" } else { "send" };
            conn.send(if ws { &out } else { request })
                .map_err(|e| fail(i, e.kind(), format!("{what}: {e}")))?;
            conns.push(conn);
        }
        for (j, accept) in accepts.iter().enumerate() {
            let i = first + j;
            let conn = &mut conns[i];
            let mut reader = ResponseReader::new(false);
            let mut pending = Vec::new();
            loop {
                let n = conn.recv(&mut buf).map_err(|e| fail(i, e.kind(), format!("read: {e}")))?;
                if n == 0 {
                    return Err(fail(i, io::ErrorKind::UnexpectedEof, "closed".into()));
                }
                pending.extend_from_slice(&buf[..n]);
                let done = match accept {
                    Some(key) => check_upgrade(&pending, key)
                        .map_err(|k| {
                            fail(i, io::ErrorKind::InvalidData, format!("upgrade refused ({})", k.name()))
                        })?
                        .is_some(),
                    None => {
                        let (used, done) = reader
                            .feed(&pending)
                            .map_err(|e| fail(i, io::ErrorKind::InvalidData, e.0.into()))?;
                        pending.drain(..used);
                        done.is_some()
                    }
                };
                if done {
                    break;
                }
            }
        }
    }
    let what = match tls {
        Some(t) => format!("TLS connections, {}", t.options.describe()),
        None => "connections".to_string(),
    };
    println!("holding {count} {what} (opened in {:.2} s)", started.elapsed().as_secs_f64());
    io::stdout().flush()?;
    std::thread::sleep(hold);
    drop(conns);
    Ok(())
}
