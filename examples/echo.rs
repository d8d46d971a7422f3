//! A TCP echo server on `weir-reactor` alone.
//!
//! ```text
//! cargo run --release --example echo -- 127.0.0.1:7000
//! ```
//!
//! Everything the server needs — edge-triggered draining, partial writes,
//! idle timeouts, one shard per core — comes from the reactor; the protocol
//! is the twenty lines below.

use std::time::Duration;

use weir_reactor::{Ctx, Protocol, Runtime};

/// Close connections silent for this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

struct Echo;

impl Protocol for Echo {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx<'_, ()>) {
        cx.set_deadline(IDLE_TIMEOUT);
    }

    fn on_data(&mut self, (): &mut (), cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
        cx.write_copy(data);
        cx.set_deadline(IDLE_TIMEOUT);
        data.len()
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7000".to_string());
    let addr = addr.parse().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let runtime = Runtime::builder().listen(addr).serve(|_| Echo)?;
    println!("echo server listening on {:?}", runtime.local_addrs());
    runtime.join()
}
