//! A load generator for the echo example, built from the reactor's own
//! `sys` layer: one thread, edge-triggered epoll, N connections each
//! keeping `depth` messages in flight.
//!
//! ```text
//! cargo run --release --example echo -- 127.0.0.1:7000 &
//! cargo run --release --example echo_load -- 127.0.0.1:7000 64 32 10
//! #                                                        addr        conns size seconds
//! ```
//!
//! Prints messages per second (a message is `size` bytes out and the same
//! bytes back). Loopback only: it refuses any other address.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use weir_reactor::sys::epoll::{self, Epoll, Events};

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr: SocketAddr = args.get(1).map_or("127.0.0.1:7000", |s| s).parse().expect("address");
    let conns: usize = args.get(2).map_or(64, |s| s.parse().expect("connections"));
    let size: usize = args.get(3).map_or(32, |s| s.parse().expect("message size"));
    let secs: u64 = args.get(4).map_or(10, |s| s.parse().expect("seconds"));
    if !addr.ip().is_loopback() {
        eprintln!("echo_load: refusing non-loopback address {addr}");
        std::process::exit(2);
    }
    let msg = vec![b'x'; size];
    let epoll = Epoll::new()?;
    let mut streams = Vec::with_capacity(conns);
    // Per connection: bytes of the current echo still expected.
    let mut pending = vec![0usize; conns];
    for (i, p) in pending.iter_mut().enumerate() {
        let mut s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.write_all(&msg)?;
        *p = size;
        s.set_nonblocking(true)?;
        epoll.add(&s, epoll::READABLE | epoll::EDGE, i as u64)?;
        streams.push(s);
    }
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    let mut messages: u64 = 0;
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    while Instant::now() < end {
        epoll.wait(&mut events, 100)?;
        for (data, _) in events.iter() {
            let i = data as usize;
            loop {
                match streams[i].read(&mut buf) {
                    Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed")),
                    Ok(n) => {
                        let mut n = n;
                        while n > 0 {
                            let take = n.min(pending[i]);
                            pending[i] -= take;
                            n -= take;
                            if pending[i] == 0 {
                                messages += 1;
                                pending[i] = size;
                                streams[i].write_all(&msg)?;
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{messages} messages of {size} bytes over {conns} connections in {secs:.1} s: {:.0} msg/s",
        messages as f64 / secs
    );
    Ok(())
}
