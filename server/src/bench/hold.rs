//! `--hold N`: open N keep-alive connections, complete one request on each,
//! then hold them idle — the load for "memory per idle connection".
//!
//! Plain blocking I/O is enough here: nothing is timed, and 10,000
//! sequential request/response pairs on loopback take well under a second.
//! The caller reads the server's RSS while the connections are held.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::framing::ResponseReader;

/// Opens `count` connections to `addr`, sends `request` on each and reads
/// its response, prints `holding N connections`, then sleeps for `hold`.
///
/// # Errors
///
/// A connect, write or read failure, or a response that cannot be delimited.
pub fn hold(
    addr: SocketAddr,
    request: &[u8],
    count: usize,
    hold: Duration,
    timeout: Duration,
) -> io::Result<()> {
    let _ = weir_reactor::sys::rlimit::raise_nofile_limit();
    let started = Instant::now();
    let mut conns = Vec::with_capacity(count);
    let mut buf = vec![0u8; 16 * 1024];
    for i in 0..count {
        let mut s = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| io::Error::new(e.kind(), format!("connection {i}: connect: {e}")))?;
        s.set_read_timeout(Some(timeout))?;
        s.write_all(request)?;
        let mut reader = ResponseReader::new(false);
        let mut pending = Vec::new();
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("connection {i}: closed")));
            }
            pending.extend_from_slice(&buf[..n]);
            let (used, done) = reader.feed(&pending).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("connection {i}: {}", e.0))
            })?;
            pending.drain(..used);
            if done.is_some() {
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
