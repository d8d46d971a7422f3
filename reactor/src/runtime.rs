//! The runtime: N shards, their listeners, and a graceful stop.
//!
//! ```text
//!   Runtime::builder().listen("127.0.0.1:8080").shards(4).serve(|info| MyProtocol::new())
//!      |
//!      +-- bind one SO_REUSEPORT listener per shard per address
//!      |   (the kernel hashes each new connection to one of them)
//!      +-- per shard: epoll + eventfd waker + inbox channel, listeners registered
//!      +-- spawn shard threads (optionally pinned); each calls the factory
//!          on its own thread, so the protocol needs no `Send`
//! ```
//!
//! A pre-bound listener (socket activation, or a port chosen by the caller)
//! is shared instead: every shard registers a `dup` of it with
//! `EPOLLEXCLUSIVE`, so one new connection wakes one shard.
//!
//! Stopping is cooperative: [`Runtime::stop`] posts a stop envelope to each
//! shard; a shard stops accepting, calls `Protocol::on_shutdown`, and exits
//! when its connections have closed or the grace period ends.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::ShardConfig;
use crate::handle::{ShardHandle, Waker};
use crate::poller::Poller;
use crate::protocol::Protocol;
use crate::shard::{register_parts, Listener, Shard, ShardParts};
use crate::stats::{ShardStats, StatsSnapshot};
use crate::sys::{affinity, signal, socket};
use crate::transport::TransportFactory;

/// What the protocol factory learns about the shard it builds for.
#[derive(Debug)]
pub struct ShardInfo<M> {
    /// This shard's index.
    pub id: usize,
    /// Handles to every shard of the runtime (for fan-out across shards).
    pub shards: Arc<[ShardHandle<M>]>,
}

/// What a listener is for: a tag the protocol sees ([`Ctx::tag`](crate::Ctx::tag))
/// and the transport its connections get (none: plaintext).
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    tag: u16,
    transport: Option<Arc<dyn TransportFactory>>,
    backlog: Option<u32>,
}

impl Endpoint {
    /// A plaintext endpoint with `tag`.
    pub fn new(tag: u16) -> Endpoint {
        Endpoint { tag, transport: None, backlog: None }
    }

    /// This endpoint's `listen(2)` backlog (default: the shard config's).
    #[must_use]
    pub fn backlog(mut self, n: u32) -> Endpoint {
        self.backlog = Some(n);
        self
    }

    /// Its connections go through transports made by `factory` (TLS, say).
    #[must_use]
    pub fn transport(mut self, factory: Arc<dyn TransportFactory>) -> Endpoint {
        self.transport = Some(factory);
        self
    }
}

/// Builds a [`Runtime`].
#[derive(Debug)]
pub struct RuntimeBuilder {
    shards: usize,
    config: ShardConfig,
    addrs: Vec<(SocketAddr, Endpoint)>,
    prebound: Vec<(TcpListener, Endpoint)>,
}

/// A running set of shards.
#[derive(Debug)]
pub struct Runtime<M> {
    handles: Arc<[ShardHandle<M>]>,
    threads: Vec<JoinHandle<io::Result<()>>>,
    local_addrs: Vec<SocketAddr>,
}

impl Runtime<()> {
    /// Starts building a runtime: one shard per available core by default.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            shards: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            config: ShardConfig::default(),
            addrs: Vec::new(),
            prebound: Vec::new(),
        }
    }
}

impl RuntimeBuilder {
    /// Number of shards (threads). Default: the number of available cores.
    #[must_use]
    pub fn shards(mut self, n: usize) -> Self {
        self.shards = n.max(1);
        self
    }

    /// Listens on `addr` (repeatable). Each shard binds its own
    /// `SO_REUSEPORT` socket; `[::]` is dual-stack. Port 0 picks a free port
    /// once, shared by all shards (see [`Runtime::local_addrs`]).
    #[must_use]
    pub fn listen(self, addr: SocketAddr) -> Self {
        self.listen_on(addr, Endpoint::default())
    }

    /// Listens on `addr` as `endpoint` (its tag and transport).
    #[must_use]
    pub fn listen_on(mut self, addr: SocketAddr, endpoint: Endpoint) -> Self {
        self.addrs.push((addr, endpoint));
        self
    }

    /// Serves an already-bound listener (socket activation, tests). All
    /// shards share it.
    #[must_use]
    pub fn listener(self, listener: TcpListener) -> Self {
        self.listener_on(listener, Endpoint::default())
    }

    /// Serves an already-bound listener as `endpoint`.
    #[must_use]
    pub fn listener_on(mut self, listener: TcpListener, endpoint: Endpoint) -> Self {
        self.prebound.push((listener, endpoint));
        self
    }

    /// Replaces the whole shard configuration.
    #[must_use]
    pub fn config(mut self, config: ShardConfig) -> Self {
        self.config = config;
        self
    }

    /// Edits the shard configuration in place.
    #[must_use]
    pub fn configure(mut self, f: impl FnOnce(&mut ShardConfig)) -> Self {
        f(&mut self.config);
        self
    }

    /// Binds, spawns the shards and returns at once. `factory` runs on each
    /// shard's thread to build that shard's protocol. A runtime without
    /// listeners is a client: its shards open connections themselves
    /// (`Protocol::on_start`, [`ShardCtx::connect`](crate::ShardCtx::connect)).
    ///
    /// # Errors
    ///
    /// Binding, epoll or eventfd setup failures, before any thread starts.
    pub fn serve<P, F>(self, factory: F) -> io::Result<Runtime<P::Message>>
    where
        P: Protocol,
        F: Fn(&ShardInfo<P::Message>) -> P + Send + Sync + 'static,
    {
        // A write to a socket the peer closed must be an EPIPE error, not
        // a process-killing signal (Rust binaries already ignore SIGPIPE;
        // a C host embedding us may not).
        signal::ignore_sigpipe()?;
        let n = self.shards;
        let opts = socket::ListenOptions { backlog: self.config.backlog, ..Default::default() };

        // Listeners: per address, one per shard, all on the same port.
        let mut per_shard: Vec<Vec<Listener>> = (0..n).map(|_| Vec::new()).collect();
        let mut local_addrs = Vec::new();
        let listener = |socket, endpoint: &Endpoint, shared| Listener {
            socket,
            tag: endpoint.tag,
            transport: endpoint.transport.clone(),
            shared,
        };
        for (addr, endpoint) in &self.addrs {
            let opts = socket::ListenOptions { backlog: endpoint.backlog.unwrap_or(opts.backlog), ..opts };
            // Our shards share the port through SO_REUSEPORT, which would
            // as gladly let another process (a second weir) in beside us:
            // first make sure nobody holds it (see `socket::check_free`).
            if addr.port() != 0 {
                socket::check_free(*addr, &opts)?;
            }
            let bind = |a| socket::bind_listener(a, &opts);
            let first = bind(*addr)?;
            let actual = first.local_addr()?;
            local_addrs.push(actual);
            per_shard[0].push(listener(first, endpoint, false));
            for shard in per_shard.iter_mut().skip(1) {
                shard.push(listener(bind(actual)?, endpoint, false));
            }
        }
        for (socket, endpoint) in &self.prebound {
            socket.set_nonblocking(true)?;
            local_addrs.push(socket.local_addr()?);
            for shard in per_shard.iter_mut() {
                shard.push(listener(socket.try_clone()?, endpoint, true));
            }
        }

        // Handles first, so each factory can see every shard.
        let mut inboxes = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for id in 0..n {
            let (tx, rx) = crossbeam_channel::unbounded();
            let (data, data_rx) = crossbeam_channel::bounded(self.config.inbox_capacity.max(1));
            let waker = Arc::new(Waker::new()?);
            handles.push(ShardHandle { id, tx, data, waker, stats: Arc::new(ShardStats::default()) });
            inboxes.push((rx, data_rx));
        }
        let handles: Arc<[ShardHandle<P::Message>]> = handles.into();

        let mut parts = Vec::with_capacity(n);
        for (id, (listeners, inbox)) in per_shard.into_iter().zip(inboxes).enumerate() {
            let p = ShardParts {
                id,
                poller: Poller::new()?,
                listeners,
                inbox,
                handle: handles[id].clone(),
                waker: handles[id].waker.clone(),
                config: self.config.clone(),
            };
            register_parts(&p)?;
            parts.push(p);
        }

        let cpus =
            if self.config.pin_cores { affinity::allowed_cpus().unwrap_or_default() } else { Vec::new() };
        let factory = Arc::new(factory);
        let mut threads = Vec::with_capacity(n);
        for p in parts {
            let factory = factory.clone();
            let info = ShardInfo { id: p.id, shards: handles.clone() };
            let cpu = (!cpus.is_empty()).then(|| cpus[p.id % cpus.len()]);
            let name = format!("weir-shard-{}", p.id);
            let context = |op: String, e: io::Error| io::Error::new(e.kind(), format!("{op}: {e}"));
            let thread = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    if let Some(cpu) = cpu {
                        affinity::pin_current_thread(cpu)
                            .map_err(|e| context(format!("pin shard {} to CPU {cpu}", p.id), e))?;
                    }
                    let proto = factory(&info);
                    Shard::new(p, proto).run()
                })
                .map_err(|e| context(format!("spawn thread {name}"), e))?;
            threads.push(thread);
        }
        Ok(Runtime { handles, threads, local_addrs })
    }
}

impl<M: Send + 'static> Runtime<M> {
    /// The addresses actually bound (with real ports when 0 was asked for).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Handles to every shard.
    pub fn handles(&self) -> &Arc<[ShardHandle<M>]> {
        &self.handles
    }

    /// Counters of every shard.
    pub fn stats(&self) -> Vec<StatsSnapshot> {
        self.handles.iter().map(|h| h.stats().snapshot()).collect()
    }

    /// Begins a graceful stop of every shard (returns at once; see [`Runtime::join`]).
    pub fn stop(&self, grace: Duration) {
        for h in self.handles.iter() {
            h.stop(grace);
        }
    }

    /// Waits for every shard to exit.
    ///
    /// # Errors
    ///
    /// The first error a shard's loop returned; a panicking shard is
    /// reported as an error too.
    pub fn join(self) -> io::Result<()> {
        let mut result = Ok(());
        for t in self.threads {
            let r = t.join().unwrap_or_else(|_| Err(io::Error::other("shard thread panicked")));
            if result.is_ok() {
                result = r;
            }
        }
        result
    }
}
