//! # weir-reactor
//!
//! A Linux event loop built by hand from raw system calls: one
//! single-threaded, edge-triggered `epoll` loop per core, each with its own
//! `SO_REUSEPORT` listener. It knows nothing of HTTP: give it a
//! [`Protocol`] and it runs any TCP protocol.
//!
//! What it is: a small, readable, fast reactor — generational tokens, a
//! hashed timer wheel with lazily re-armed deadlines, pooled buffers that an
//! idle connection does not hold, a write queue flushed with `writev` and
//! `sendfile`, an eventfd-woken inbox for other threads, and a bounded worker
//! pool. What it is not: an async runtime. There are no futures; a protocol
//! is a set of callbacks over plain state.
//!
//! ```no_run
//! use weir_reactor::{Ctx, Protocol, Runtime};
//!
//! struct Echo;
//!
//! impl Protocol for Echo {
//!     type Conn = ();
//!     type Message = ();
//!     fn on_open(&mut self, _cx: &mut Ctx<'_, ()>) {}
//!     fn on_data(&mut self, _: &mut (), cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
//!         cx.write_copy(data);
//!         data.len()
//!     }
//! }
//!
//! let rt = Runtime::builder().listen("127.0.0.1:7000".parse()?).serve(|_| Echo)?;
//! rt.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How it works
//!
//! * [`sys`] — the only `unsafe` code: safe wrappers over `epoll_*`,
//!   `accept4`, `read`/`writev`/`sendfile`, `eventfd`, `signalfd`,
//!   `setsockopt`, `sched_setaffinity`, `setrlimit`.
//! * [`poller`] — epoll the weir way: each descriptor registered once,
//!   edge-triggered; readiness kept per connection by the shard.
//! * [`token`] — generational slab indices, so stale events are dropped.
//! * [`timer`] — the hashed timing wheel.
//! * [`buf`] and [`write_queue`] — input buffers from a pool only while a
//!   message is partial; output as a queue of chunks.
//! * [`transport`] — the seam between socket and protocol: plaintext is
//!   the zero-cost default, TLS (or any [`Transport`]) plugs in per listener.
//! * [`tls`] (feature `tls`, on by default) — TLS 1.2/1.3 through OpenSSL:
//!   certificates by SNI, ALPN, session tickets shared by every shard and
//!   restart, reload; and the client side for outbound connections.
//! * Outbound connections: [`ShardCtx::connect`] and [`Ctx::connect`], with
//!   linked pairs ([`Ctx::peer`]) for proxies and tunnels.
//! * `shard` — the loop itself; `runtime` — N shards and their stop.
//! * [`worker`] — the bounded worker pool.
//! * [`guide`] — a tutorial from an empty loop to the echo server, then
//!   partial input, timers, worker jobs, backpressure, graceful stop and a
//!   client connection, each step a doc-test that runs.

#![warn(missing_docs)]

pub mod buf;
mod config;
mod conn;
mod ctx;
pub mod guide;
mod handle;
pub mod poller;
mod protocol;
mod runtime;
mod shard;
mod stats;
pub mod sys;
pub mod timer;
#[cfg(feature = "tls")]
pub mod tls;
pub mod token;
pub mod transport;
pub mod worker;
pub mod write_queue;

pub use config::ShardConfig;
pub use ctx::{Ctx, Peer, ShardCtx};
pub use handle::{SendError, ShardHandle};
pub use protocol::{duration_ms, CloseReason, ConnectOptions, Protocol};
pub use runtime::{Endpoint, Runtime, RuntimeBuilder, ShardInfo};
pub use stats::{ShardStats, StatsSnapshot};
pub use token::Token;
pub use transport::{Transport, TransportFactory};
pub use worker::{PoolFull, WorkerPool};
pub use write_queue::{Chunk, FileRange, SharedBytes};
