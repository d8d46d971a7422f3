//! Running out of file descriptors (`EMFILE`) must not make the shard spin
//! or die: pending connections are turned away, and service resumes once
//! descriptors free up. Its own test binary, because `RLIMIT_NOFILE` is
//! process-wide.

// Test code: a failed unwrap is a failed test (the workspace denies unwrap in library code).
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use weir_reactor::sys::rlimit;
use weir_reactor::{Ctx, Protocol, Runtime};

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

fn open_fds() -> u64 {
    // read_dir holds one descriptor of its own while listing.
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64 - 1
}

#[test]
fn emfile_is_survived_without_spinning_and_service_resumes() {
    let rt = Runtime::builder()
        .shards(1)
        .listen("127.0.0.1:0".parse().unwrap())
        .configure(|c| c.overload_response = Some(b"busy\n"))
        .serve(|_| Echo)
        .unwrap();
    let addr = rt.local_addrs()[0];

    // A working connection first.
    let mut live = TcpStream::connect(addr).unwrap();
    live.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    live.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");

    // Take every free descriptor: placeholders we can hand back one at a time.
    let (soft, _) = rlimit::nofile_limit().unwrap();
    let limit = open_fds() + 8;
    rlimit::set_nofile_soft_limit(limit).unwrap();
    let mut placeholders: Vec<File> = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        placeholders.push(f);
    }
    assert!(!placeholders.is_empty());

    // Each new client takes the one descriptor we free for it; the server
    // has none left for `accept`, so it must turn the client away using its
    // reserve descriptor. The client is kept open afterwards, holding that
    // descriptor, so the server stays at zero free descriptors.
    let mut turned_away = Vec::new();
    for _ in 0..5 {
        drop(placeholders.pop());
        let mut c = TcpStream::connect(addr).unwrap();
        // Fail rather than hang if the server never turns us away.
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut answer = Vec::new();
        // The server writes its overload response and closes: EOF (or a reset).
        if let Err(e) = c.read_to_end(&mut answer) {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "not turned away: {e}");
        }
        assert!(answer.is_empty() || answer == b"busy\n", "got {answer:?}");
        turned_away.push(c);
        // A barrier before the next step touches the descriptor table: the
        // client sees EOF while the shard is still busy with it (it takes
        // its reserve back, then looks at the queue again with an `accept4`
        // that holds a descriptor for a moment even when it finds nobody).
        // The shard answers `live` on the same thread, only after that.
        live.write_all(b"!").unwrap();
        let mut one = [0u8; 1];
        live.read_exact(&mut one).unwrap();
    }
    let s = rt.stats()[0];
    assert_eq!(s.rejected, 5, "{s:?}");
    // Each client costs one failed accept, and the look at the queue after
    // turning it away at most one more: a loop that kept calling `accept`
    // while no client waited would count many.
    assert!((5..=10).contains(&s.fd_exhausted), "{s:?}");

    // No busy loop: with connections refused and nothing to do, the loop
    // sleeps, and it does not keep calling `accept` either (which fails with
    // EMFILE even when no client waits, as Linux takes the descriptor
    // first). A spinning loop would count thousands of iterations or
    // failed accepts in this observation window (a window, not a
    // synchronisation: nothing waits on it).
    let before = rt.stats()[0];
    std::thread::sleep(Duration::from_millis(200));
    let after = rt.stats()[0];
    let turns = after.loop_iterations - before.loop_iterations;
    assert!(turns < 20, "event loop spun: {turns} iterations while idle");
    // (At most one: the look at the queue after the last client may land
    // inside the window.)
    let failed_accepts = after.fd_exhausted - before.fd_exhausted;
    assert!(failed_accepts <= 1, "accept spun while idle: {failed_accepts} failures");

    // Descriptors free up: service resumes, and the old connection still works.
    drop(placeholders);
    drop(turned_away);
    rlimit::set_nofile_soft_limit(soft).unwrap();
    let mut fresh = TcpStream::connect(addr).unwrap();
    fresh.write_all(b"again").unwrap();
    let mut buf = [0u8; 5];
    fresh.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"again");
    live.write_all(b"live").unwrap();
    let mut buf = [0u8; 4];
    live.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"live");

    rt.stop(Duration::from_secs(1));
    rt.join().unwrap();
}
