//! Running an [`App`]: shards, worker pool, statistics, shutdown.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use weir_reactor::sys::signal::{SignalFd, SignalSet, SIGHUP, SIGINT, SIGTERM};
use weir_reactor::tls::TlsAcceptor;
use weir_reactor::{Endpoint, Runtime, WorkerPool};

use crate::app::App;
use crate::config::ServerConfig;
use crate::conn::{HttpShard, Shared, TAG_ADMIN, TAG_PLAIN, TAG_TLS};
use crate::msg::Msg;
use crate::response::Response;
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
    tls_addrs: Vec<(SocketAddr, Arc<TlsAcceptor>)>,
    tls_listeners: Vec<(TcpListener, Arc<TlsAcceptor>)>,
    admin: Vec<SocketAddr>,
    admin_listeners: Vec<TcpListener>,
    stats: Option<Arc<StatsRegistry>>,
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    runtime: Runtime<Msg>,
    stats: Arc<StatsRegistry>,
    pubsub: Arc<PubSub>,
    grace: Duration,
    tls: Vec<Arc<TlsAcceptor>>,
    kinds: Vec<&'static str>,
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
            tls_addrs: Vec::new(),
            tls_listeners: Vec::new(),
            admin: Vec::new(),
            admin_listeners: Vec::new(),
            stats: None,
        }
    }

    /// The bound addresses.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        self.runtime.local_addrs()
    }

    /// Each bound address with what it serves: `"http"`, `"https"` or
    /// `"admin"` (the order of [`Server::local_addrs`]).
    pub fn listening(&self) -> Vec<(&'static str, SocketAddr)> {
        self.kinds.iter().copied().zip(self.runtime.local_addrs().iter().copied()).collect()
    }

    /// Publishes to WebSocket topics from any thread.
    pub fn pubsub(&self) -> Arc<PubSub> {
        self.pubsub.clone()
    }

    /// The server's counters.
    pub fn stats(&self) -> Arc<StatsRegistry> {
        self.stats.clone()
    }

    /// Re-reads every TLS listener's certificates and keys and swaps them
    /// in where they check out (see [`TlsAcceptor::reload`]); connections
    /// already open keep theirs. Returns one line per listener saying what
    /// happened (what SIGHUP logs).
    pub fn reload_tls(&self) -> Vec<Result<String, String>> {
        self.tls
            .iter()
            .map(|t| match t.reload() {
                Ok(()) => {
                    let mut names: Vec<String> =
                        t.certificates().iter().flat_map(|c| c.names.clone()).collect();
                    names.sort();
                    names.dedup();
                    Ok(format!("TLS certificates reloaded: {}", names.join(", ")))
                }
                Err(e) => Err(format!("TLS reload refused, the previous certificates stay: {e}")),
            })
            .collect()
    }

    /// Begins a graceful stop: no new connections; idle ones close; busy
    /// ones finish (answers carry `Connection: close`, WebSockets get 1001)
    /// until the configured grace period ends.
    pub fn stop(&self) {
        self.stats.draining.store(true, std::sync::atomic::Ordering::Relaxed);
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
    /// SIGHUP meanwhile reloads the TLS certificates ([`Server::reload_tls`])
    /// and logs the outcome to stderr. Call [`block_shutdown_signals`]
    /// before starting the server so that no thread takes the signals first.
    ///
    /// # Errors
    ///
    /// Signal setup or a shard failure.
    pub fn run_until_signal(self) -> io::Result<()> {
        let set = SignalSet::new(&[SIGINT, SIGTERM, SIGHUP])?;
        let fd = SignalFd::new(&set)?;
        let _ = crate::notify::sd_notify("READY=1");
        while fd.wait()? == SIGHUP {
            let _ = crate::notify::sd_notify(&crate::notify::reloading());
            for line in self.reload_tls() {
                match line {
                    Ok(l) => eprintln!("weir: {l}"),
                    Err(l) => eprintln!("weir: error: {l}"),
                }
            }
            let _ = crate::notify::sd_notify("READY=1");
        }
        let _ = crate::notify::sd_notify("STOPPING=1");
        self.stop();
        std::thread::Builder::new().name("weir-signals".into()).spawn(move || loop {
            match fd.wait() {
                Ok(SIGHUP) => {}
                Ok(_) => std::process::exit(130),
                Err(_) => return,
            }
        })?;
        self.join()
    }
}

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and every thread
/// it spawns afterwards, so they can be read with a signalfd
/// ([`Server::run_until_signal`]). Call it first thing in `main`.
///
/// # Errors
///
/// As `pthread_sigmask(3)`.
pub fn block_shutdown_signals() -> io::Result<()> {
    SignalSet::new(&[SIGINT, SIGTERM, SIGHUP])?.block()
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

    /// Listens on `addr` with TLS (repeatable; an acceptor may serve several).
    #[must_use]
    pub fn listen_tls(mut self, addr: SocketAddr, tls: Arc<TlsAcceptor>) -> Self {
        self.tls_addrs.push((addr, tls));
        self
    }

    /// Serves an already-bound listener with TLS.
    #[must_use]
    pub fn listener_tls(mut self, l: TcpListener, tls: Arc<TlsAcceptor>) -> Self {
        self.tls_listeners.push((l, tls));
        self
    }

    /// An admin listener on `addr` (repeatable): `GET /metrics`
    /// (Prometheus text), `/healthz` (alive: 200) and `/readyz` (200 while
    /// taking traffic, 503 once a graceful stop has begun), apart from the
    /// public site. Keep it on loopback or a private network.
    #[must_use]
    pub fn admin(mut self, addr: SocketAddr) -> Self {
        self.admin.push(addr);
        self
    }

    /// Serves the admin endpoints on an already-bound listener (socket activation).
    #[must_use]
    pub fn admin_listener(mut self, l: TcpListener) -> Self {
        self.admin_listeners.push(l);
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
        let ServerBuilder {
            app,
            config,
            shards,
            addrs,
            listeners,
            tls_addrs,
            tls_listeners,
            admin,
            admin_listeners,
            stats,
        } = self;
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
        // What each listener serves, in the runtime's order of addresses:
        // those bound here first, then the pre-bound ones.
        let kinds: Vec<&'static str> = [
            (addrs.len(), "http"),
            (tls_addrs.len(), "https"),
            (admin.len(), "admin"),
            (listeners.len(), "http"),
            (tls_listeners.len(), "https"),
            (admin_listeners.len(), "admin"),
        ]
        .iter()
        .flat_map(|&(n, kind)| (0..n).map(move |_| kind))
        .collect();
        for a in addrs {
            rt = rt.listen_on(a, Endpoint::new(TAG_PLAIN));
        }
        for l in listeners {
            rt = rt.listener_on(l, Endpoint::new(TAG_PLAIN));
        }
        let mut tls: Vec<Arc<TlsAcceptor>> = Vec::new();
        for (a, t) in tls_addrs {
            rt = rt.listen_on(a, Endpoint::new(TAG_TLS).transport(t.clone()));
            tls.push(t);
        }
        for (l, t) in tls_listeners {
            rt = rt.listener_on(l, Endpoint::new(TAG_TLS).transport(t.clone()));
            tls.push(t);
        }
        tls.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let _ = stats.tls.set(tls.clone());
        let _ = stats.pool.set(pool.clone());
        let admin_app = if admin.is_empty() && admin_listeners.is_empty() {
            None
        } else {
            for a in admin {
                rt = rt.listen_on(a, Endpoint::new(TAG_ADMIN));
            }
            for l in admin_listeners {
                rt = rt.listener_on(l, Endpoint::new(TAG_ADMIN));
            }
            Some(
                admin_app(stats.clone())
                    .compile()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            )
        };
        let shared = Arc::new(Shared {
            app,
            admin: admin_app,
            config,
            pool,
            stats: stats.clone(),
            pubsub: pubsub.clone(),
        });
        let registry = stats.clone();
        let ps = pubsub.clone();
        let runtime = rt.serve(move |info| {
            let _ = registry.shards.set(info.shards.clone());
            let _ = ps.shards.set(info.shards.clone());
            HttpShard::new(shared.clone(), info.id)
        })?;
        let _ = stats.shards.set(runtime.handles().clone());
        let _ = pubsub.shards.set(runtime.handles().clone());
        Ok(Server { runtime, stats, pubsub, grace, tls, kinds })
    }
}

/// The admin listener's endpoints.
fn admin_app(stats: Arc<StatsRegistry>) -> App {
    let ready = stats.clone();
    App::new()
        .get("/metrics", move |_| {
            Response::text(crate::metrics::render(&stats)).with_content_type(crate::metrics::CONTENT_TYPE)
        })
        .get("/healthz", |_| Response::text("ok\n"))
        .get("/readyz", move |_| {
            if ready.ready() {
                Response::text("ready\n")
            } else {
                Response::text("draining\n").with_status(503)
            }
        })
}
