//! Strict outcome checks for the lifecycle and WebSocket-flow tests.
//!
//! Every wait here is bounded by [`PATIENCE`], and running out of patience
//! is a test failure, never an answer: a read that times out does not mean
//! "the server closed the connection", it means the server did nothing we
//! could see. Only EOF or a reset counts as closed.

#![allow(dead_code)]

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long any single outcome may take before the test fails. Generous:
/// the configured timeouts under test are a few hundred milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// True for the errors that mean the peer ended the connection abruptly.
pub fn is_reset(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted)
}

/// Bounds every read on `stream` (and its clones) by [`PATIENCE`].
pub fn patient(stream: &TcpStream) {
    stream.set_read_timeout(Some(PATIENCE)).expect("set a read timeout");
}

/// Waits for the server to end the connection and expects no byte before
/// the end. EOF or reset: closed. Any byte: the server answered something
/// it should not have. A timeout: the server kept the connection open.
pub fn expect_closed(r: &mut impl Read, what: &str) {
    let mut buf = [0u8; 512];
    match r.read(&mut buf) {
        Ok(0) => {}
        Err(e) if is_reset(&e) => {}
        Ok(n) => {
            panic!("{what}: expected the connection closed, got {:?}", String::from_utf8_lossy(&buf[..n]))
        }
        Err(e) => panic!("{what}: expected the connection closed within {PATIENCE:?}, got {e}"),
    }
}

/// Reads and discards until the server ends the connection; returns how
/// many bytes came before the end. A timeout fails the test.
pub fn drain_until_closed(r: &mut impl Read, what: &str) -> u64 {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n as u64,
            Err(e) if is_reset(&e) => return total,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("{what}: still open after {total} bytes, waited {PATIENCE:?}: {e}"),
        }
    }
}

/// Polls `done` every few milliseconds until it holds; fails the test if
/// it does not within [`PATIENCE`]. For outcomes that have no event to
/// wait on (a counter in the server's stats).
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "{what}: not within {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
