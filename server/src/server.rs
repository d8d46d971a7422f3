//! Running an [`App`]: shards, worker pool, statistics, shutdown.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use weir_reactor::sys::signal::{SignalFd, SignalSet, SIGINT, SIGTERM};
use weir_reactor::{Runtime, WorkerPool};

use crate::app::App;
use crate::config::ServerConfig;
use crate::conn::{HttpShard, Shared};
use crate::msg::Msg;
use crate::stats::StatsRegistry;
use crate::ws::PubSub;

/// The canned answer for connections turned away at the connection cap.
const OVERLOAD_503: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 20\r\nConnection: close\r\nRetry-After: 1\r\n\r\nService Unavailable\n";

/// Builds and starts a server.
#[derive(Debug)]
pub struct ServerBuilder {
    app: App,
    config: ServerConfig,
    shards: usize,
    addrs: Vec<SocketAddr>,
    listeners: Vec<TcpListener>,
    stats: Option<Arc<StatsRegistry>>,
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    runtime: Runtime<Msg>,
    stats: Arc<StatsRegistry>,
    pubsub: Arc<PubSub>,
    grace: Duration,
}

impl Server {
    /// Starts building a server for `app`.
    pub fn builder(app: App) -> ServerBuilder {
        ServerBuilder {
            app,
            config: ServerConfig::default(),
            shards: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            addrs: Vec::new(),
            listeners: Vec::new(),
            stats: None,
        }
    }

    /// The bound addresses.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        self.runtime.local_addrs()
    }

    /// Publishes to WebSocket topics from any thread.
    pub fn pubsub(&self) -> Arc<PubSub> {
        self.pubsub.clone()
    }

    /// The server's counters.
    pub fn stats(&self) -> Arc<StatsRegistry> {
        self.stats.clone()
    }

    /// Begins a graceful stop: no new connections; idle ones close; busy
    /// ones finish (answers carry `Connection: close`, WebSockets get 1001)
    /// until the configured grace period ends.
    pub fn stop(&self) {
        self.runtime.stop(self.grace);
    }

    /// Waits until every shard has exited.
    ///
    /// # Errors
    ///
    /// A shard's event loop failed.
    pub fn join(self) -> io::Result<()> {
        self.runtime.join()
    }

    /// Blocks until SIGINT or SIGTERM, stops gracefully and joins. A second
    /// signal during the grace period exits the process at once (status 130).
    /// Call [`block_shutdown_signals`] before starting the server so that no
    /// thread takes the signals first.
    ///
    /// # Errors
    ///
    /// Signal setup or a shard failure.
    pub fn run_until_signal(self) -> io::Result<()> {
        let set = SignalSet::new(&[SIGINT, SIGTERM])?;
        let fd = SignalFd::new(&set)?;
        fd.wait()?;
        self.stop();
        std::thread::Builder::new().name("weir-signals".into()).spawn(move || {
            if fd.wait().is_ok() {
                std::process::exit(130);
            }
        })?;
        self.join()
    }
}

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it
/// spawns afterwards, so they can be read with a signalfd
/// ([`Server::run_until_signal`]). Call it first thing in `main`.
///
/// # Errors
///
/// As `pthread_sigmask(3)`.
pub fn block_shutdown_signals() -> io::Result<()> {
    SignalSet::new(&[SIGINT, SIGTERM])?.block()
}

impl ServerBuilder {
    /// Listens on `addr` (repeatable; `[::]` is dual-stack; port 0 picks one).
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.addrs.push(addr);
        self
    }

    /// Serves an already-bound listener.
    #[must_use]
    pub fn listener(mut self, l: TcpListener) -> Self {
        self.listeners.push(l);
        self
    }

    /// Number of shards (event-loop threads). Default: one per core.
    #[must_use]
    pub fn shards(mut self, n: usize) -> Self {
        self.shards = n.max(1);
        self
    }

    /// The server configuration.
    #[must_use]
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Uses this statistics registry (so handlers built before the server
    /// starts, such as `/stats`, can read it). It must have one slot per shard.
    #[must_use]
    pub fn stats(mut self, stats: Arc<StatsRegistry>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// Binds and starts the shards.
    ///
    /// # Errors
    ///
    /// Invalid routes (an [`AppError`](crate::AppError) inside an `InvalidInput` error), or binding failures.
    pub fn start(self) -> io::Result<Server> {
        let ServerBuilder { app, config, shards, addrs, listeners, stats } = self;
        let app = app.compile().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let stats = match stats {
            Some(s) if s.http.len() == shards => s,
            Some(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "stats registry has the wrong shard count",
                ))
            }
            None => Arc::new(StatsRegistry::new(shards)),
        };
        let pubsub = Arc::new(PubSub::default());
        let pool = WorkerPool::new(config.worker_threads, config.worker_queue);
        app.attach_pool(&pool);
        let grace = config.shutdown_grace;
        let mut rt = Runtime::builder().shards(shards).configure(|c| {
            c.max_connections = config.max_connections_per_shard;
            // Set per connection when it matters (see conn::write_response).
            c.nodelay = false;
            c.pin_cores = config.pin_cores;
            c.overload_response = Some(OVERLOAD_503);
            // HTTP clients speak first: a request that came with the
            // handshake is answered without waiting a loop turn for it.
            c.read_on_accept = true;
            c.max_pending_input = (config.limits.max_head + 64 * 1024).max(c.read_buffer);
        });
        for a in addrs {
            rt = rt.listen(a);
        }
        for l in listeners {
            rt = rt.listener(l);
        }
        let shared = Arc::new(Shared { app, config, pool, stats: stats.clone(), pubsub: pubsub.clone() });
        let registry = stats.clone();
        let ps = pubsub.clone();
        let runtime = rt.serve(move |info| {
            let _ = registry.shards.set(info.shards.clone());
            let _ = ps.shards.set(info.shards.clone());
            HttpShard::new(shared.clone(), info.id)
        })?;
        let _ = stats.shards.set(runtime.handles().clone());
        let _ = pubsub.shards.set(runtime.handles().clone());
        Ok(Server { runtime, stats, pubsub, grace })
    }
}
