//! `--hold N`: open N keep-alive connections, complete one request on each
//! (for a `ws://` target: the WebSocket upgrade), then hold them idle — the
//! load for "memory per idle connection".
//!
//! Plain blocking I/O is enough here: nothing is timed, and 10,000
//! sequential request/response pairs on loopback take well under a second.
//! The caller reads the server's RSS while the connections are held.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::driver::Rng;
use super::framing::ResponseReader;
use super::ws_client::{check_upgrade, write_upgrade};

/// Opens `count` connections to `addr`, sends `request` on each and reads
/// its response (with `ws`: `request` is the upgrade head, and the answer
/// the 101), prints `holding N connections`, then sleeps for `hold`.
///
/// # Errors
///
/// A connect, write or read failure, or a response that cannot be delimited.
pub fn hold(
    addr: SocketAddr,
    request: &[u8],
    ws: bool,
    count: usize,
    hold: Duration,
    timeout: Duration,
) -> io::Result<()> {
    let _ = weir_reactor::sys::rlimit::raise_nofile_limit();
    let started = Instant::now();
    let mut conns = Vec::with_capacity(count);
    let mut buf = vec![0u8; 16 * 1024];
    let mut rng = Rng::new(count as u64);
    let mut out = Vec::new();
    for i in 0..count {
        let fail = |kind, what: String| io::Error::new(kind, format!("connection {i}: {what}"));
        let mut s = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| fail(e.kind(), format!("connect: {e}")))?;
        s.set_read_timeout(Some(timeout))?;
        out.clear();
        let accept = if ws { Some(write_upgrade(request, &mut rng, &mut out)) } else { None };
        s.write_all(if ws { &out } else { request })?;
        let mut reader = ResponseReader::new(false);
        let mut pending = Vec::new();
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Err(fail(io::ErrorKind::UnexpectedEof, "closed".into()));
            }
            pending.extend_from_slice(&buf[..n]);
            let done = match &accept {
                Some(key) => check_upgrade(&pending, key)
                    .map_err(|k| fail(io::ErrorKind::InvalidData, format!("upgrade refused ({})", k.name())))?
                    .is_some(),
                None => {
                    let (used, done) =
                        reader.feed(&pending).map_err(|e| fail(io::ErrorKind::InvalidData, e.0.into()))?;
                    pending.drain(..used);
                    done.is_some()
                }
            };
            if done {
                break;
            }
        }
        conns.push(s);
    }
    println!("holding {count} connections (opened in {:.2} s)", started.elapsed().as_secs_f64());
    io::stdout().flush()?;
    std::thread::sleep(hold);
    drop(conns);
    Ok(())
}
